"""The backend-neutral op registry: what an op is, where its inputs may live, how it lowers.

An :class:`Op` declares its arity, the shapes of its operands (``operands``: given the
first operand's shape, draw the others, or say the op does not apply), a shape rule
(``shape``), attribute strategies (``attrs``), per-operand value domains, where its kinks
are (``smooth``: False when a concrete input is too close to one), whether it takes
complex inputs, and one lowering per backend (NumPy float64 — the finite-difference
reference —, PyTorch and JAX). Lowerings are called as ``f(xp, *arrays, **attrs)`` where
``xp`` is a :class:`Namespace` (``xp.m`` is ``numpy``, ``torch`` or ``jax.numpy``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .. import constraints
from hypothesis import strategies as st

BACKENDS = ("numpy", "torch", "jax")
MARGIN = 0.05  # how far (relative to the values' scale) an input must stay from a kink
MAX_MAGNITUDE = 1e4  # intermediates above this are rejected (overflow and conditioning)
MAX_RANK = 4


class NotApplicable(Exception):
    """The op cannot take these operands (shape, dtype or domain); not a bug."""


# ---- backend namespaces ------------------------------------------------------------------
class Namespace:
    """What a lowering sees: the array module and friends of one backend."""

    def __init__(self, name: str):
        self.name = name
        if name == "numpy":
            import scipy.linalg
            import scipy.special

            self.m, self.special, self.linalg, self.scipy_linalg = np, scipy.special, np.linalg, scipy.linalg
        elif name == "torch":
            import torch

            self.m, self.special, self.linalg, self.nn = torch, torch.special, torch.linalg, torch.nn.functional
        elif name == "jax":
            import jax
            import jax.numpy as jnp
            import jax.scipy.linalg
            import jax.scipy.special

            self.m, self.special, self.linalg, self.lax, self.nn = jnp, jax.scipy.special, jnp.linalg, jax.lax, jax.nn
            self.scipy_linalg = jax.scipy.linalg
        else:
            raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")

    def const(self, values: np.ndarray, like: Any = None):
        """A constant (index array, mask) on the backend (and device of ``like``)."""
        if self.name == "torch":
            device = like.device if like is not None and hasattr(like, "device") else "cpu"
            return self.m.as_tensor(np.asarray(values), device=device)
        return self.m.asarray(values)

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"


@functools.lru_cache(maxsize=None)
def namespace(name: str) -> Namespace:
    return Namespace(name)


# ---- value domains -----------------------------------------------------------------------
@dataclass(frozen=True)
class ValueDomain:
    """Where an operand's values must lie: how to draw them and how to test them."""

    name: str
    lo: float
    hi: float
    holds: Callable[[np.ndarray], bool]
    transform: Callable[[np.ndarray], np.ndarray] | None = None
    matrix: bool = False  # needs square matrices (or, with ``rectangular``, any matrices)
    description: str = ""


def _finite(x: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(x))) and (x.size == 0 or float(np.max(np.abs(x))) <= MAX_MAGNITUDE)


def _scale(x: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(x), initial=0.0)))


def away_from(x: np.ndarray, points: Sequence[float] = (0.0,)) -> bool:
    """All entries at least MARGIN·scale away from each of ``points``."""
    if x.size == 0:
        return True
    d = MARGIN * _scale(x)
    return all(bool(np.all(np.abs(x - p) > d)) for p in points)


def distinct(values: np.ndarray, axis: int = -1) -> bool:
    """Entries along ``axis`` pairwise at least MARGIN·scale apart (no ties)."""
    return constraints.distinct(values, MARGIN * _scale(values), axis)


_sym = constraints.hermitian_part
_cond_ok = constraints.condition_below


def _square(a: np.ndarray) -> bool:
    return a.ndim >= 2 and a.shape[-1] == a.shape[-2]


def _well_conditioned(a: np.ndarray) -> bool:
    return _square(a) and _finite(a) and _cond_ok(a)


def _spd(a: np.ndarray) -> bool:
    if not (_square(a) and _finite(a)):
        return False
    if a.size == 0:
        return True
    w = np.linalg.eigvalsh(_sym(a))
    return bool(np.all(w > MARGIN * _scale(a))) and _cond_ok(_sym(a))


def _distinct_eigenvalues(a: np.ndarray) -> bool:
    if not (_square(a) and _finite(a)):
        return False
    return a.size == 0 or distinct(np.linalg.eigvalsh(_sym(a)))


def _distinct_singular_values(a: np.ndarray) -> bool:
    if a.ndim < 2 or not _finite(a):
        return False
    if a.size == 0:
        return True
    s = np.linalg.svd(a, compute_uv=False)
    return distinct(s) and bool(np.all(s > MARGIN * _scale(a)))


def _full_column_rank(a: np.ndarray) -> bool:
    return a.ndim >= 2 and a.shape[-2] >= a.shape[-1] and _finite(a) and (a.size == 0 or _cond_ok(a))


def _triangular(a: np.ndarray) -> bool:
    if not (_square(a) and _finite(a)):
        return False
    t = np.tril(a)
    return a.size == 0 or (away_from(np.diagonal(a, axis1=-2, axis2=-1)) and _cond_ok(t))


def _diagonal_boost(values: np.ndarray, spacing: float = 0.0) -> np.ndarray:
    """Add (n+1)·I (or a spaced diagonal) to the leading square block: well-conditioned."""
    if values.ndim < 2:
        return values
    out = np.array(values, copy=True)
    k = min(out.shape[-2:])
    if k == 0:
        return out
    n = max(out.shape[-2:])
    diag = (n + 1.0) * np.ones(k) if not spacing else spacing * np.arange(1, k + 1)
    idx = np.arange(k)
    out[..., idx, idx] += diag
    return out


def _nonzero(values: np.ndarray) -> np.ndarray:
    return values + np.where(np.real(values) >= 0, 0.3, -0.3)


def _spd_transform(values: np.ndarray) -> np.ndarray:
    if values.ndim < 2:
        return values
    n = values.shape[-1]
    return values @ np.swapaxes(values, -1, -2).conj() / max(n, 1) + np.eye(n)


DOMAINS: dict[str, ValueDomain] = {
    d.name: d
    for d in [
        ValueDomain("any", -3.0, 3.0, _finite, description="all reals (bounded)"),
        ValueDomain("positive", 0.2, 3.0, lambda x: _finite(x) and (x.size == 0 or float(np.min(np.real(x))) > MARGIN), description="x > 0"),
        ValueDomain("nonzero", -3.0, 3.0, lambda x: _finite(x) and away_from(np.abs(x)), _nonzero, description="x ≠ 0"),
        ValueDomain("unit", -0.9, 0.9, lambda x: _finite(x) and (x.size == 0 or float(np.max(np.abs(x))) < 0.95), description="|x| < 1"),
        ValueDomain("above_one", 1.2, 3.0, lambda x: _finite(x) and (x.size == 0 or float(np.min(x)) > 1.05), description="x > 1"),
        ValueDomain("small", -1.2, 1.2, lambda x: _finite(x) and (x.size == 0 or float(np.max(np.abs(x))) < 1.4), description="|x| < 1.4 (tan)"),
        ValueDomain("nonsingular", -1.0, 1.0, _well_conditioned, _diagonal_boost, matrix=True, description="square, condition number < 1e3"),
        ValueDomain("triangular", -1.0, 1.0, _triangular, _diagonal_boost, matrix=True, description="lower triangle well-conditioned"),
        ValueDomain("spd", -1.0, 1.0, _spd, _spd_transform, matrix=True, description="(A+Aᴴ)/2 positive definite"),
        ValueDomain("distinct_eigenvalues", -0.3, 0.3, _distinct_eigenvalues, functools.partial(_diagonal_boost, spacing=1.5), matrix=True, description="(A+Aᴴ)/2 with separated eigenvalues"),
        ValueDomain("distinct_singular_values", -0.3, 0.3, _distinct_singular_values, functools.partial(_diagonal_boost, spacing=1.5), description="separated nonzero singular values"),
        ValueDomain("full_column_rank", -1.0, 1.0, _full_column_rank, _diagonal_boost, description="m ≥ n, condition number < 1e3"),
    ]
}


# ---- ops --------------------------------------------------------------------------------
Shape = tuple[int, ...]
Draw = Callable[[st.SearchStrategy], Any]


def same_shape(shapes: Sequence[Shape], attrs: dict) -> Shape:
    return tuple(shapes[0])


def unary_operands(draw: Draw, shape: Shape) -> list[Shape]:
    return [tuple(shape)]


def no_attrs(draw: Draw, shapes: Sequence[Shape]) -> dict:
    return {}


@dataclass(frozen=True)
class Op:
    """One op of the program IR (see the module docstring)."""

    name: str
    category: str
    lower: dict[str, Callable]  # backend → f(xp, *arrays, **attrs)
    arity: int = 1
    shape: Callable[[Sequence[Shape], dict], Shape] = same_shape
    operands: Callable[[Draw, Shape], list[Shape]] = unary_operands
    attrs: Callable[[Draw, Sequence[Shape]], dict] = no_attrs
    domains: tuple[str, ...] = ("any",)
    smooth: Callable[..., bool] | None = None  # (arrays..., **attrs) → False near a kink
    kinks: str = ""
    complex_ok: bool = False
    real_ok: bool = True
    makes_complex: bool = False  # real in, complex out
    makes_real: bool = False  # complex in, real out
    first: Callable[[Draw], Shape] | None = None  # catalogue: the first operand's shape
    doc: str = ""

    def __post_init__(self):
        missing = [b for b in BACKENDS if b not in self.lower]
        if missing:
            raise ValueError(f"op {self.name}: no lowering for {missing}")
        if len(self.domains) != self.arity:
            object.__setattr__(self, "domains", tuple(self.domains) + (self.domains[-1],) * (self.arity - len(self.domains)))
        for d in self.domains:
            if d not in DOMAINS:
                raise ValueError(f"op {self.name}: unknown domain {d!r}")

    def __call__(self, backend: str, *arrays, **attrs):
        return self.lower[backend](namespace(backend), *arrays, **attrs)

    def accepts(self, values: Sequence[np.ndarray], attrs: dict) -> str | None:
        """None when the concrete operands lie in the op's domain away from its kinks, else why not."""
        for k, (x, dom) in enumerate(zip(values, self.domains)):
            if not DOMAINS[dom].holds(x):
                return f"operand {k} outside {dom}"
        if self.smooth is not None and not self.smooth(*values, **attrs):
            return f"near a kink ({self.kinks})"
        return None


def lowering(all: Callable | None = None, **per_backend: Callable) -> dict[str, Callable]:
    """``lowering(f)``: one lowering for every backend; ``npjax=`` shares NumPy and JAX."""
    out = {b: all for b in BACKENDS} if all is not None else {}
    if "npjax" in per_backend:
        f = per_backend.pop("npjax")
        out["numpy"] = out["jax"] = f
    out.update(per_backend)
    return out


OPS: dict[str, Op] = {}


def register(*ops: Op) -> None:
    for op in ops:
        if op.name in OPS:
            raise ValueError(f"op {op.name!r} registered twice")
        OPS[op.name] = op


# ---- shape helpers shared by the op modules ---------------------------------------------
def shape_strategy(min_rank: int = 0, max_rank: int = 3, min_side: int = 0, max_side: int = 4) -> st.SearchStrategy[Shape]:
    return st.integers(min_rank, max_rank).flatmap(lambda r: st.tuples(*[st.integers(min_side, max_side)] * r))


def draw_first(op: Op, draw: Draw) -> Shape:
    return draw(op.first()) if op.first is not None else draw(shape_strategy())


def broadcast_partner(draw: Draw, shape: Shape) -> Shape:
    """A shape that broadcasts with ``shape``: same, a suffix, or with some sides set to 1."""
    kind = draw(st.sampled_from(["same", "suffix", "ones", "swap"]))
    if kind == "same" or not shape:
        return tuple(shape)
    if kind == "suffix":
        return tuple(shape[draw(st.integers(0, len(shape))) :])
    if kind == "ones":
        return tuple(1 if draw(st.booleans()) else s for s in shape)
    # the partner has the larger shape: shape's size-1 sides grow
    return tuple(draw(st.integers(1, 3)) if s == 1 else s for s in shape)


def one_dim_apart(draw: Draw, shape: Shape, max_size: int) -> list[Shape]:
    """``[shape, other]`` where ``other`` differs from ``shape`` in one random dim (cat, index_add)."""
    if not shape:
        raise NotApplicable("needs rank >= 1")
    other = list(shape)
    other[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(0, max_size))
    return [tuple(shape), tuple(other)]


def dims_apart(a: Shape, b: Shape) -> list[int]:
    """The dims ``d`` such that ``a`` and ``b`` agree everywhere except possibly at ``d``."""
    if len(a) != len(b):
        return []
    return [d for d in range(len(a)) if all(x == y for k, (x, y) in enumerate(zip(a, b)) if k != d)]


def reduce_dims(draw: Draw, shape: Shape, require_nonempty: bool = False):
    """``None`` (all dims) or a sorted tuple of distinct dims."""
    rank = len(shape)
    if rank == 0 or draw(st.integers(0, 3)) == 0:
        dims = None
        sizes = shape
    else:
        dims = tuple(sorted(draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank))))
        sizes = tuple(shape[d] for d in dims)
    if require_nonempty and any(s == 0 for s in sizes):
        raise NotApplicable("reduction over an empty dim")
    return dims


def reduced_shape(shape: Shape, dims, keepdim: bool) -> Shape:
    dims = range(len(shape)) if dims is None else dims
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def axis_arg(dims):
    """NumPy/JAX ``axis`` for ``dims`` (None = all)."""
    return None if dims is None else tuple(dims)
