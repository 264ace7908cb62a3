"""Canonical numeric forms shared by every oracle.

Canonical convention (documented in the README, "Conventions"):

* every vᵀJ is a NumPy ``float64`` array (``complex128`` for complex inputs) in the
  input's shape;
* complex numbers are treated as pairs of reals.  A cotangent ``v`` and a gradient ``g``
  are both written ``Re + i·Im``; ``g`` is the gradient of the real loss
  ``L = Re Σ conj(v)·y`` with respect to ``Re x`` plus ``i`` times that with respect to
  ``Im x``.  This is exactly what PyTorch's ``backward`` returns (the conjugate
  Wirtinger convention); JAX's plain transpose is converted with
  ``conj(jax_vjp(conj(v)))``.
* the real inner product ``⟨a, b⟩ = Re Σ conj(a)·b`` links forward and reverse mode:
  ``⟨v, J u⟩ = ⟨vᵀJ, u⟩`` for every tangent ``u``.
"""

from __future__ import annotations

import numpy as np

#: unit roundoff (machine epsilon) by dtype name; low-precision types included.
EPSILON = {
    "float64": float(np.finfo(np.float64).eps),
    "complex128": float(np.finfo(np.float64).eps),
    "float32": float(np.finfo(np.float32).eps),
    "complex64": float(np.finfo(np.float32).eps),
    "float16": float(np.finfo(np.float16).eps),
    "bfloat16": 2.0**-7,
}

#: smallest normal numbers: below them values flush to zero or lose all precision
TINY = {
    "float64": float(np.finfo(np.float64).tiny),
    "complex128": float(np.finfo(np.float64).tiny),
    "float32": float(np.finfo(np.float32).tiny),
    "complex64": float(np.finfo(np.float32).tiny),
    "float16": float(np.finfo(np.float16).tiny),
    "bfloat16": float(np.finfo(np.float32).tiny),
}

#: largest finite values (bfloat16: 8 exponent bits like float32, 7 mantissa bits; NumPy
#: has no bfloat16); complex dtypes by their real part
LARGEST = {
    "float64": float(np.finfo(np.float64).max),
    "complex128": float(np.finfo(np.float64).max),
    "float32": float(np.finfo(np.float32).max),
    "complex64": float(np.finfo(np.float32).max),
    "float16": float(np.finfo(np.float16).max),
    "bfloat16": float((2 - 2.0**-7) * 2.0**127),
}


def rounding_unit(dtype: str) -> tuple[float, float]:
    """(ε, tiny) of ``dtype``: an evaluation of magnitude M is off by ≈ ε·M + tiny."""
    return EPSILON.get(dtype, EPSILON["float32"]), TINY.get(dtype, TINY["float32"])

FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")
COMPLEX_DTYPES = ("complex128", "complex64")


def is_differentiable_dtype(name: str) -> bool:
    """True for the real and complex floating dtypes vjpcheck can differentiate."""
    return name in FLOAT_DTYPES or name in COMPLEX_DTYPES


def is_complex_dtype(name: str) -> bool:
    return name in COMPLEX_DTYPES


def real_inner(a: np.ndarray, b: np.ndarray) -> float:
    """⟨a, b⟩ = Re Σ conj(a)·b, the inner product of C as R²."""
    return float(np.real(np.vdot(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))))


def abs_inner(a: np.ndarray, b: np.ndarray) -> float:
    """Σ |a|·|b|: the scale of the terms summed by :func:`real_inner`."""
    return float(np.sum(np.abs(a) * np.abs(b)))


def random_like(rng: np.random.Generator, shape, complex_: bool) -> np.ndarray:
    """Standard normal values (unit variance per entry, also for complex)."""
    if complex_:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
    return rng.standard_normal(shape)


def format_index(shape: tuple, flat: int) -> tuple:
    """Flat index → multi-index tuple for ``shape`` (scalars give ``()``)."""
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
