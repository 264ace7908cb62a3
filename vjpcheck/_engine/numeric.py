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

from dataclasses import dataclass, field

import numpy as np

#: the NumPy type whose format each dtype name shares (complex: its real part)
_FORMAT = {"float64": np.float64, "complex128": np.float64, "float32": np.float32, "complex64": np.float32, "float16": np.float16}
#: bfloat16 (NumPy has none): 8 exponent bits like float32, 7 mantissa bits
_BFLOAT16 = {"eps": 2.0**-7, "tiny": float(np.finfo(np.float32).tiny), "max": float((2 - 2.0**-7) * 2.0**127)}


def _by_dtype(attribute: str) -> dict[str, float]:
    return {name: float(getattr(np.finfo(kind), attribute)) for name, kind in _FORMAT.items()} | {"bfloat16": _BFLOAT16[attribute]}


#: unit roundoff (machine epsilon) by dtype name; low-precision types included
EPSILON = _by_dtype("eps")
#: smallest normal numbers: below them values flush to zero or lose all precision
TINY = _by_dtype("tiny")
#: largest finite values
LARGEST = _by_dtype("max")


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
    with np.errstate(all="ignore"):
        return float(np.real(np.vdot(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))))


def abs_inner(a: np.ndarray, b: np.ndarray) -> float:
    """Σ |a|·|b|: the scale of the terms summed by :func:`real_inner`."""
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(all="ignore"):  # inf and NaN are results here, not accidents
        if np.iscomplexobj(a) or np.iscomplexobj(b):
            return float(np.sum(np.abs(a) * np.abs(b)))
        product = np.asarray(np.multiply(a, b, dtype=np.result_type(a, b, np.float64)))  # |a|·|b| = |a·b|: one temporary, not three
        return float(np.sum(np.abs(product, out=product)))


def random_like(rng: np.random.Generator, shape, complex_: bool) -> np.ndarray:
    """Standard normal values (unit variance per entry, also for complex). Not uniform,
    though NumPy draws uniform values 4× faster: a probe statement's miss probability is
    the Gaussian small ball, and ⟨e, u⟩ for uniform u can be denser at 0 than that (two
    swapped entries give a triangular law; Ball's cube-slicing bound: 2% denser)."""
    if complex_:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
    return rng.standard_normal(shape)


def round_to_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    """Values exactly representable in ``dtype``, kept in ``values``' float64/complex128
    (so every oracle sees the same numbers)."""
    if dtype in ("float32", "complex64"):
        return values.astype(np.complex64 if dtype == "complex64" else np.float32).astype(values.dtype)
    if dtype == "float16":
        return values.astype(np.float16).astype(np.float64)
    if dtype == "bfloat16":
        import ml_dtypes

        return values.astype(ml_dtypes.bfloat16).astype(np.float64)
    return values


#: directions of at most this many entries (all inputs together: 256 KB of float64) are
#: kept once generated; regenerating them costs a generator's construction per read
KEPT_DIRECTION_ENTRIES = 1 << 15

#: dtypes whose rounding NumPy performs as the frameworks do (round to nearest even), so a
#: direction in them is regenerated exactly; half precision keeps its arrays
_REGENERATED_DTYPES = ("float64", "complex128", "float32", "complex64")


@dataclass(frozen=True, eq=False)
class Directions:
    """Random directions (one array per input) regenerated from their seed whenever they
    are read: a 1e7-entry input's five probe and forward-mode directions are 400 MB held
    through a check otherwise (small ones are kept once generated). ``dtypes`` rounds
    each to its input's precision (as the framework did when it used it); ``masks`` zero
    the non-smooth entries."""

    entropy: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    complex_: tuple[bool, ...]
    dtypes: tuple[str, ...] = ()
    masks: tuple[np.ndarray, ...] | None = None
    _kept: list | None = field(default=None, init=False, repr=False)

    @staticmethod
    def regenerable(dtypes) -> bool:
        return all(d in _REGENERATED_DTYPES for d in dtypes)

    def arrays(self) -> list[np.ndarray]:
        """The directions, read-only: regenerated at each read, or (up to
        :data:`KEPT_DIRECTION_ENTRIES` entries in all) generated once and kept."""
        if self._kept is not None:
            return self._kept
        out = self._generate()
        for u in out:
            u.flags.writeable = False  # shared by every reader: a write would change them all
        if sum(u.size for u in out) <= KEPT_DIRECTION_ENTRIES:
            object.__setattr__(self, "_kept", out)
        return out

    def _generate(self) -> list[np.ndarray]:
        rng = np.random.default_rng(list(self.entropy))
        out = []
        for k, (shape, c) in enumerate(zip(self.shapes, self.complex_)):
            u = np.asarray(random_like(rng, shape, c))
            if self.masks is not None:
                u[self.masks[k]] = 0
            out.append(round_to_dtype(u, self.dtypes[k]) if self.dtypes else u)
        return out


def split_like(flat: np.ndarray, shapes) -> list[np.ndarray]:
    """A flat vector over several arrays' entries, back into arrays of ``shapes``."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    return [part.reshape(shape) for part, shape in zip(np.split(flat, np.cumsum(sizes)[:-1]), shapes)]


def format_index(shape: tuple, flat: int) -> tuple:
    """Flat index → multi-index tuple for ``shape`` (scalars give ``()``)."""
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
