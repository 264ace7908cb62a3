"""Hypothesis strategies for arguments, cotangents and layouts (public, composable).

``tensor("m,n")`` and ``tensor("n,k")`` drawn in one test case share the size of ``n``:
every named dimension is a ``hypothesis.strategies.shared`` draw keyed by its name, so the
strategies compose with plain Hypothesis as well as with :func:`vjpcheck.verify`::

    from hypothesis import given
    from vjpcheck.strategies import tensor

    @given(tensor("m,n", framework="torch"), tensor("n,k", framework="torch"))
    def test_matmul(a, b):
        vjpcheck.assert_vjp(torch.matmul, a, b)

Without ``framework`` a strategy draws :class:`DrawnArray` (NumPy values plus dtype,
layout and device), which :func:`vjpcheck.verify` turns into the function's framework.
Everything shrinks toward small shapes, contiguous layouts, float64 and simple values.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ._engine.numeric import LARGEST, round_to_dtype
from . import constraints
from ._engine.validate import check_callable, check_choice, check_nonnegative_int, check_number, check_subset

__all__ = [
    "DrawnArray",
    "Domain",
    "tensor",
    "index",
    "cotangent",
    "dtypes",
    "devices",
    "any_real",
    "danger_points",
    "positive",
    "nonnegative",
    "bounded",
    "spd",
    "well_conditioned",
    "full_rank",
    "orthogonal",
    "rotation",
    "quaternion",
    "unit_vector",
    "simplex",
    "sorted_values",
    "distinct",
    "mask",
    "LAYOUTS",
]

LAYOUTS = ("contiguous", "transposed", "strided", "expanded", "offset")
_KNOWN_DEVICES = ("cpu", "cuda") + tuple(f"cuda:{i}" for i in range(16))
DTYPE_FAMILIES = {
    "real": ("float64", "float32"),
    "half": ("float16", "bfloat16"),
    "real+half": ("float64", "float32", "float16", "bfloat16"),
    "complex": ("complex128", "complex64"),
}
MAX_SIDE = 4
DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64")
FRAMEWORKS = ("torch", "jax")


def _dtype_names(dtype: str | Sequence[str], argument: str = "dtype") -> tuple[str, ...]:
    """The dtype names a family, a name or a list stands for; a misspelt one fails here,
    when the strategy is built, not when it is drawn."""
    if isinstance(dtype, str):
        names = DTYPE_FAMILIES.get(dtype, (dtype,))
    elif isinstance(dtype, Sequence) and dtype:
        names = tuple(dtype)
    else:
        raise TypeError(f"{argument} must be a dtype name, a family {sorted(DTYPE_FAMILIES)} or a list of names, got {dtype!r}")
    unknown = [n for n in names if n not in DTYPES]
    if unknown:
        raise ValueError(f"{argument}: unknown dtype(s) {unknown}; known: {list(DTYPES)} and the families {sorted(DTYPE_FAMILIES)}")
    return names


def _check_common(min_side: int, max_side: int, framework: str | None) -> None:
    check_nonnegative_int("min_side", min_side)
    check_nonnegative_int("max_side", max_side)
    if min_side > max_side:
        raise ValueError(f"need min_side <= max_side, got min_side={min_side}, max_side={max_side}")
    if framework is not None:
        check_choice("framework", framework, FRAMEWORKS)


# ---- domains -------------------------------------------------------------------------------
_REAL_PART = {"complex128": "float64", "complex64": "float32"}


def danger_groups(dtype: str) -> dict[str, tuple[float, ...]]:
    """:func:`danger_points` by kind, both signs of each."""
    if dtype == "bfloat16":  # NumPy has no bfloat16: 8 exponent bits like float32, 7 mantissa bits
        big, tiny, smallest = LARGEST["bfloat16"], 2.0**-126, 2.0**-133
    else:
        info = np.finfo(_REAL_PART.get(dtype, dtype))
        big, tiny, smallest = float(info.max), float(info.smallest_normal), float(info.smallest_subnormal)
    log_big = math.log(big)
    groups = {
        "exp overflows": (log_big * (1 - 2.0**-8), log_big - 0.25),  # exp(x) finite, 2·exp(x) or exp(x)² not
        "exp underflows": (math.log(tiny), math.log(smallest) + 1.0),  # exp(x) at the smallest normal / a subnormal
        "square overflows": (math.sqrt(big) * 0.75, math.sqrt(big) * 1.5),
        "square underflows": (math.sqrt(tiny),),
        "smallest normal": (tiny,),
        "subnormal": (tiny / 2, tiny / 8, tiny * 2.0**-10, smallest),
    }
    return {k: tuple(p for x in values for p in (x, -x)) for k, values in groups.items()}


def danger_points(dtype: str) -> tuple[float, ...]:
    """Values where ``dtype``'s arithmetic breaks down, both signs: just below where ``exp``
    overflows (log of the largest value), where it lands on the smallest normal and deep in
    the subnormals, around where a square overflows (√max) or leaves the normals (√tiny),
    the smallest normal, subnormals down to the smallest. A backward that overflows or
    flushes to zero only there is what these catch."""
    return tuple(p for group in danger_groups(dtype).values() for p in group)


@dataclass(frozen=True)
class Domain:
    """Where values are drawn: a typical range, the full range, special points, and the
    dtype's danger points (:func:`danger_points`) that lie in ``dangers`` (an interval,
    ``None`` for none), drawn in about one array in six on purpose."""

    lo: float
    hi: float
    typical: tuple[float, float]
    specials: tuple[float, ...]
    name: str = "custom"
    dangers: tuple[float, float] | None = None

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ValueError(f"domain bounds must be finite with lo < hi, got ({self.lo}, {self.hi})")

    def elements(self, dtype: str | None = None, dangerous: bool = False) -> st.SearchStrategy[float]:
        """Element values; with ``dangerous``, ``dtype``'s danger points in ``dangers`` too."""
        try:  # built once per domain and dtype: a strategy built per draw costs its validation each time
            return _cached_elements(self, dtype, dangerous)
        except TypeError:  # a domain given unhashable fields (a list of specials) is built each time
            return self._build_elements(dtype, dangerous)

    def _build_elements(self, dtype: str | None, dangerous: bool) -> st.SearchStrategy[float]:
        opts = dict(allow_nan=False, allow_infinity=False, allow_subnormal=False)
        typical = st.floats(*self.typical, **opts)
        special = st.sampled_from(self.specials)
        wide = st.floats(self.lo, self.hi, **opts)
        branches = [typical, special, wide]  # shrinks toward the typical branch
        groups = self._danger_groups(dtype) if dangerous and dtype else []
        if groups:  # a kind of danger, then a point of it: each kind equally often
            danger = st.sampled_from(groups).flatmap(st.sampled_from)
            branches += [danger, danger, danger]  # three branches of six: most such arrays hold several
        return st.one_of(*branches)

    def danger_points(self, dtype: str) -> tuple[float, ...]:
        """:func:`danger_points` of ``dtype`` that lie in this domain's ``dangers``."""
        return tuple(p for group in self._danger_groups(dtype) for p in group)

    def _danger_groups(self, dtype: str) -> list[tuple[float, ...]]:
        if self.dangers is None:
            return []
        lo, hi = self.dangers
        groups = [tuple(p for p in group if lo <= p <= hi) for group in danger_groups(dtype).values()]
        return [g for g in groups if g]


@functools.lru_cache(maxsize=256)
def _cached_elements(domain: Domain, dtype: str | None, dangerous: bool) -> st.SearchStrategy[float]:
    return domain._build_elements(dtype, dangerous)


@functools.lru_cache(maxsize=1024)
def _float_arrays(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape``, one strategy per shape and element strategy."""
    return hnp.arrays(np.float64, shape, elements=elements)


def any_real(limit: float = 100.0) -> Domain:
    """All reals: ordinary draws in [-limit, limit] with special points 0, ±0.5, ±1, 2
    (ties), tiny and large, and the dtype's danger points (overflow and underflow
    thresholds, subnormals) on purpose."""
    return Domain(-limit, limit, (-3.0, 3.0), (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-3, -1e-3, limit, -limit), "any", (-math.inf, math.inf))


def positive(limit: float = 100.0) -> Domain:
    """Strictly positive values in [1e-3, limit] (log, sqrt, division), and the dtype's
    positive danger points (subnormals, overflow thresholds) on purpose."""
    return Domain(1e-3, limit, (0.1, 3.0), (1.0, 0.5, 2.0, 1e-3, limit), "positive", (0.0, math.inf))


def nonnegative(limit: float = 100.0) -> Domain:
    """[0, limit] with exact zeros on purpose, and the dtype's positive danger points."""
    return Domain(0.0, limit, (0.0, 3.0), (0.0, 0.0, 1.0, 0.5, 2.0, 1e-3, limit), "nonnegative", (0.0, math.inf))


def bounded(lo: float, hi: float) -> Domain:
    """[lo, hi], with the midpoint, zero (when inside) and points near both edges as specials."""
    if not lo < hi:
        raise ValueError(f"bounded(lo, hi) needs lo < hi, got ({lo}, {hi})")
    width = hi - lo
    specials = [(lo + hi) / 2, lo + 1e-3 * width, hi - 1e-3 * width]
    if lo < 0 < hi:
        specials.insert(0, 0.0)
    return Domain(lo, hi, (lo, hi), tuple(specials), f"bounded({lo}, {hi})", (lo, hi))


_DOMAINS = {"any": any_real, "positive": positive, "nonnegative": nonnegative}


def _domain(value: Domain | str) -> Domain:
    if isinstance(value, Domain):
        return value
    if value in _DOMAINS:
        return _DOMAINS[value]()
    raise ValueError(f"domain must be a Domain or one of {sorted(_DOMAINS)}, got {value!r}")


def spd(values: np.ndarray) -> np.ndarray:
    """Transform hook: a symmetric positive definite matrix ``B Bᵀ + n·I`` from any ``B``."""
    if values.ndim < 2 or values.shape[-1] != values.shape[-2]:
        raise ValueError(f"spd needs square matrices in the last two dims, got shape {values.shape}")
    n = values.shape[-1]
    return values @ np.swapaxes(values, -1, -2).conj() + n * np.eye(n)


# ---- drawn values --------------------------------------------------------------------------
@dataclass
class DrawnArray:
    """A drawn argument: values, dtype, memory layout and device, for any framework."""

    values: np.ndarray
    dtype: str
    layout: str = "contiguous"
    device: str = "cpu"
    expand_dim: int | None = None

    def __repr__(self) -> str:
        shape = ",".join(map(str, self.values.shape))
        return f"{self.dtype}[{shape}] {self.layout} on {self.device}: {self.values.tolist()!r}"

    def to(self, framework: str) -> Any:
        """The array in ``framework``, in this memory layout where the framework has
        layouts (PyTorch; JAX arrays have none)."""
        from .frameworks import backend_named

        return backend_named(framework).from_layout(self.values, self.dtype, self.layout, self.device, self.expand_dim)


# ---- shapes --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Bounded:
    """A named dimension with its own size bounds: ``n>=1``, ``n<=8``, ``2<=n<=6``."""

    name: str
    lo: int | None  # None: the tensor's min_side
    hi: int | None  # None: the tensor's max_side


_BOUND = re.compile(r"^(?:(\d+)\s*<=\s*)?([A-Za-z_]\w*)\s*(?:(>=|<=)\s*(\d+))?$")


def _parse_dims(dims: str | Sequence) -> tuple[str | int | _Bounded, ...]:
    if isinstance(dims, str):
        parts = [p.strip() for p in dims.split(",")] if dims.strip() else []
    else:
        parts = list(dims)
    out: list[str | int | _Bounded] = []
    for p in parts:
        if isinstance(p, int) or (isinstance(p, str) and p.isdigit()):
            out.append(int(p))
            continue
        match = _BOUND.match(p) if isinstance(p, str) else None
        if match is None:
            raise ValueError(f"dims: {p!r} is neither a size, a dimension name nor a bounded name like 'n>=1' (in {dims!r})")
        low, name, op, value = match.groups()
        if low is None and op is None:
            out.append(name)
            continue
        lo, hi = int(low) if low is not None else None, None
        if op == ">=":
            if low is not None:
                raise ValueError(f"dims: {p!r}: write bounds as 'lo<=n<=hi'")
            lo = int(value)
        elif op == "<=":
            hi = int(value)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"dims: {p!r} allows no size")
        out.append(_Bounded(name, lo, hi))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def dim(name: str, min_side: int = 0, max_side: int = MAX_SIDE) -> st.SearchStrategy[int]:
    """The size of dimension ``name``, shared by every strategy of one test case."""
    return st.shared(st.integers(min_side, max_side), key=f"vjpcheck-dim:{name}")


def _size(draw, d, min_side: int, max_side: int) -> int:
    """A literal size, a shared named size, or a shared named size within its own bounds
    (drawn inside them when this is the name's first use in the test case; otherwise the
    example is rejected when the shared size falls outside them)."""
    if isinstance(d, int):
        return d
    if isinstance(d, str):
        return draw(dim(d, min_side, max_side))
    lo = d.lo if d.lo is not None else min_side
    hi = d.hi if d.hi is not None else max(max_side, lo)
    size = draw(dim(d.name, lo, hi))
    if not lo <= size <= hi:
        from hypothesis import reject

        reject()
    return size


@functools.lru_cache(maxsize=1024)
def _shape(dims: tuple, min_side: int, max_side: int, broadcast: bool) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes for ``dims``, one strategy per signature (built once, not per draw)."""
    return _draw_shape(dims, min_side, max_side, broadcast)


_COIN = st.booleans()


@st.composite
def _draw_shape(draw, dims, min_side, max_side, broadcast):
    shape = [_size(draw, d, min_side, max_side) for d in dims]
    if broadcast and shape:
        shape = [1 if draw(_COIN) else s for s in shape]
        drop = draw(st.integers(0, len(shape)))
        shape = shape[drop:]
    return tuple(shape)


def dtypes(family: str | Sequence[str] = "real") -> st.SearchStrategy[str]:
    """A dtype name from a family (``real``, ``half``, ``real+half``, ``complex``) or list;
    shared, so every tensor of one family in a test case has the same dtype."""
    names = _dtype_names(family, "family")
    key = family if isinstance(family, str) else ",".join(family)
    return _shared_choice(names, f"vjpcheck-dtype:{key}")


@functools.lru_cache(maxsize=256)
def _shared_choice(choices: tuple[str, ...], key: str) -> st.SearchStrategy[str]:
    return st.shared(st.sampled_from(choices), key=key)


def devices(names: Sequence[str] | None = None) -> st.SearchStrategy[str]:
    """``cpu`` always, ``cuda`` when available (shared by the tensors of one test case)."""
    if names is None:
        from .frameworks import cuda_available

        names = ["cpu", "cuda"] if cuda_available() else ["cpu"]
    return _shared_choice(tuple(names), "vjpcheck-device")


# ---- public strategies ---------------------------------------------------------------------
_ONE_IN_THREE = st.integers(0, 2)


@functools.lru_cache(maxsize=256)
def _choice(choices: tuple) -> st.SearchStrategy:
    return st.sampled_from(choices)


@st.composite
def _tensor(draw, dims, dtype, domain, layouts, min_side, max_side, broadcast, transform, device, framework):
    shape = draw(_shape(dims, min_side, max_side, broadcast))
    dtype_name = draw(dtypes(dtype))
    complex_ = dtype_name.startswith("complex")
    layout = draw(_choice(layouts))
    expand_dim = None
    if layout == "expanded":
        candidates = [i for i, s in enumerate(shape) if s > 1]
        if candidates:
            expand_dim = draw(st.sampled_from(candidates))
        else:
            layout = "contiguous"
    draw_shape = tuple(1 if i == expand_dim else s for i, s in enumerate(shape))
    # about one array in ten visits the dtype's danger points (shrinks to none)
    elements = domain.elements(dtype_name, dangerous=draw(_ONE_IN_THREE) == 2)
    values = draw(_float_arrays(draw_shape, elements))
    if complex_:
        values = values + 1j * draw(_float_arrays(draw_shape, elements))
    if expand_dim is not None:
        values = np.broadcast_to(values, shape).copy()
    if transform is not None:
        values = np.asarray(transform(values))
        if values.shape != shape:
            raise ValueError(f"transform changed the shape from {shape} to {values.shape}")
        if expand_dim is not None and not np.array_equal(values, np.broadcast_to(np.take(values, [0], axis=expand_dim), shape)):
            layout, expand_dim = "contiguous", None  # the transform broke the stride-0 pattern
    values = round_to_dtype(values, dtype_name)
    drawn = DrawnArray(values=values, dtype=dtype_name, layout=layout, device=draw(devices(device)), expand_dim=expand_dim)
    return drawn if framework is None else drawn.to(framework)


def tensor(
    dims: str | Sequence = "",
    dtype: str | Sequence[str] = "real",
    domain: Domain | str = "any",
    layouts: Sequence[str] = LAYOUTS,
    min_side: int = 0,
    max_side: int = MAX_SIDE,
    broadcast: bool = False,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    device: Sequence[str] | None = None,
    framework: str | None = None,
) -> st.SearchStrategy:
    """A differentiable array argument.

    Args:
        dims: comma-separated dimension names and literal sizes, e.g. ``"b,m,k"``,
            ``"3,n"``; ``""`` is a scalar. Named sizes are shared across strategies. A
            name may carry its own bounds: ``"b, n>=1, m"``, ``"n<=8"``, ``"2<=n<=6"``
            (examples where a shared size falls outside them are rejected).
        dtype: a family (``"real"``: float64/float32, ``"half"``, ``"real+half"``,
            ``"complex"``: complex128/complex64) or a dtype name or list of names.
        domain: ``"any"``, ``"positive"``, ``"nonnegative"``, or a :class:`Domain`
            (``bounded(lo, hi)``); special points (zeros, ties, tiny, large) come on purpose.
        layouts: memory layouts to draw from (PyTorch; JAX arrays have none).
        min_side, max_side: bounds for named sizes (0 and 1 included unless excluded).
            A name's first use in a test case fixes its bounds.
        broadcast: also draw broadcast variants (size-1 dims, dropped leading dims).
        transform: NumPy hook applied to the values, e.g. :func:`spd`.
        device: device names (default cpu, plus cuda when available).
        framework: ``"torch"``/``"jax"`` to draw framework arrays; None draws DrawnArray.
    """
    parsed = _parse_dims(dims)
    _dtype_names(dtype)
    layouts = check_subset("layouts", layouts, LAYOUTS)
    _check_common(min_side, max_side, framework)
    check_callable("transform", transform, optional=True)
    if device is not None:
        check_subset("device", device, _KNOWN_DEVICES)
    return _tensor(parsed, dtype, _domain(domain), tuple(layouts), min_side, max_side, broadcast, transform, device, framework)


@st.composite
def _index(draw, dims, high, min_side, max_side, framework):
    shape = draw(_shape(dims, min_side, max_side, False))
    size = high if isinstance(high, int) else draw(dim(high, 0, max_side))
    count = int(np.prod(shape, dtype=np.int64))
    if size == 0 and count:
        from hypothesis import reject

        reject()
    values = np.asarray(draw(st.lists(st.integers(0, max(size - 1, 0)), min_size=count, max_size=count)), dtype=np.int64)
    drawn = DrawnArray(values=values.reshape(shape), dtype="int64", device=draw(devices(None)))
    return drawn if framework is None else drawn.to(framework)


def index(dims: str | Sequence = "k", high: str | int = "n", min_side: int = 0, max_side: int = MAX_SIDE, framework: str | None = None):
    """An integer index array with values in ``[0, size of high)``; duplicates are likely."""
    parsed = _parse_dims(dims)
    if isinstance(high, str):
        if not high.isidentifier():
            raise ValueError(f"high must be a dimension name or an int, got {high!r}")
    else:
        check_nonnegative_int("high", high)
    _check_common(min_side, max_side, framework)
    return _index(parsed, high, min_side, max_side, framework)


COTANGENT_KINDS = ("dense", "one-hot", "zero", "scaled")


def cotangent(shape: tuple, dtype: str, kinds: Sequence[str] = COTANGENT_KINDS, layouts: Sequence[str] = LAYOUTS, device: str = "cpu") -> st.SearchStrategy:
    """A cotangent for an output of ``shape``/``dtype``: dense random, one-hot, zero or
    scaled by a large/tiny factor, in any layout. Shrinks toward dense contiguous."""
    shape = tuple(check_nonnegative_int("shape", s) for s in shape)
    if not isinstance(dtype, str) or _dtype_names(dtype) != (dtype,):
        raise ValueError(f"dtype must be one dtype name from {list(DTYPES)}, got {dtype!r}")
    return _cotangent_strategy(shape, dtype, check_subset("kinds", kinds, COTANGENT_KINDS), check_subset("layouts", layouts, LAYOUTS), device)


@functools.lru_cache(maxsize=1024)
def _cotangent_strategy(shape: tuple, dtype: str, kinds: tuple[str, ...], layouts: tuple[str, ...], device: str) -> st.SearchStrategy:
    """One strategy per output signature: verify draws a cotangent in every example."""
    return _cotangent(shape, dtype, kinds, layouts, device)


_SEED = st.integers(0, 2**32 - 1)
_SCALES = st.sampled_from([1e3, 1e-3])


@functools.lru_cache(maxsize=1024)
def _below(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


@st.composite
def _cotangent(draw, shape: tuple, dtype: str, kinds: tuple[str, ...], layouts: tuple[str, ...], device: str):
    kind = draw(_choice(kinds))
    complex_ = dtype.startswith("complex")
    n = int(np.prod(shape, dtype=np.int64))
    seed = draw(_SEED)
    rng = np.random.default_rng(seed)
    if kind == "zero" or n == 0:
        values = np.zeros(shape, dtype=np.complex128 if complex_ else np.float64)
    elif kind == "one-hot":
        values = np.zeros(n, dtype=np.complex128 if complex_ else np.float64)
        values[draw(_below(n))] = 1.0
        values = values.reshape(shape)
    else:
        values = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if complex_ else 0)
        if kind == "scaled":
            values = values * draw(_SCALES)
    # a cotangent's entries are independent: no expanded layout (it would only make
    # contiguous twice as likely, and layout bugs in a backward rarer to find)
    layout = draw(_choice(tuple(x for x in layouts if x != "expanded") or ("contiguous",)))
    return DrawnArray(values=round_to_dtype(np.asarray(values), dtype), dtype=dtype, layout=layout, device=device)


# ---- constrained values ----------------------------------------------------------------------
# Each is tensor(...) with a map from vjpcheck.constraints as its transform: the drawn array
# shrinks as usual and the constrained value follows. Options are tensor()'s (dtype, layouts,
# device, framework, min_side, max_side, domain); the values are exactly representable in the
# drawn dtype, so the constraint holds to that dtype's precision.


#: constrained values are drawn from ordinary magnitudes: the dtype's danger points (1e154,
#: subnormals) would only be normalised away, or break the constraint when rounded
_PLAIN = Domain(-100.0, 100.0, (-3.0, 3.0), (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-3, -1e-3), "plain")


def _constrained(dims: str | Sequence, transform: Callable, options: dict, real_only: str | None = None) -> st.SearchStrategy:
    options = {"domain": _PLAIN, **options}
    if "transform" in options:
        raise TypeError("a constrained strategy sets its own transform; compose yours inside a tensor(..., transform=...)")
    if real_only and any(n.startswith("complex") for n in _dtype_names(options.get("dtype", "real"))):
        raise ValueError(f"{real_only} draws real values only, got dtype={options['dtype']!r}")
    return tensor(dims, transform=transform, **options)


def well_conditioned(dims: str | Sequence = "m,n", max_cond: float = 100.0, **options: Any) -> st.SearchStrategy:
    """Matrices (last two dims) with condition number ≤ ``max_cond``: full rank, far from
    singular (solves, inverses, least squares, Procrustes). Complex dtypes allowed."""
    if check_number("max_cond", max_cond) < 1:
        raise ValueError(f"max_cond must be >= 1, got {max_cond!r}")
    _need_dims(dims, 2, "well_conditioned")
    return _constrained(dims, lambda a: constraints.well_conditioned(a, max_cond), options)


def full_rank(dims: str | Sequence = "m,n", **options: Any) -> st.SearchStrategy:
    """Full-rank matrices, held to a condition number ≤ 1000 so that they are full rank in
    floating point too (:func:`well_conditioned` with ``max_cond=1e3``)."""
    return well_conditioned(dims, max_cond=1e3, **options)


def orthogonal(dims: str | Sequence = "n,n", **options: Any) -> st.SearchStrategy:
    """Matrices with orthonormal columns (orthogonal when square, unitary for complex
    dtypes); a tall shape ("m,n" with m ≥ n) gives a Stiefel point. An example whose
    shared sizes make it wide is rejected."""
    _need_dims(dims, 2, "orthogonal")

    def transform(a: np.ndarray) -> np.ndarray:
        if a.shape[-2] < a.shape[-1]:
            from hypothesis import reject

            reject()
        return constraints.orthonormal_columns(a)

    return _constrained(dims, transform, options)


def rotation(n: int = 3, batch: str = "", **options: Any) -> st.SearchStrategy:
    """Rotation matrices (orthogonal, determinant +1) of size ``n`` × ``n`` (2 or 3 for
    geometry; any n ≥ 1), with batch dims ``batch`` (e.g. ``"b"``). Real dtypes."""
    check_nonnegative_int("n", n)
    if n < 1:
        raise ValueError("rotation needs n >= 1")
    return _constrained(_batched(batch, f"{n},{n}"), constraints.rotation_matrix, options, real_only="rotation")


def quaternion(batch: str = "", **options: Any) -> st.SearchStrategy:
    """Unit quaternions (…, 4): rotations of 3-D space, defined up to sign (check functions of
    them with ``output_map=vjpcheck.maps.outer`` when their output carries that sign). Real
    dtypes."""
    return _constrained(_batched(batch, "4"), constraints.unit_vectors, options, real_only="quaternion")


def unit_vector(dims: str | Sequence = "n", **options: Any) -> st.SearchStrategy:
    """Vectors of norm 1 along the last dim (a zero draw becomes e₁). Complex dtypes allowed."""
    _need_dims(dims, 1, "unit_vector")
    return _constrained(dims, constraints.unit_vectors, options)


def simplex(dims: str | Sequence = "n", **options: Any) -> st.SearchStrategy:
    """Points of the probability simplex along the last dim: nonnegative, summing to 1, with
    exact zeros on purpose (its faces). Real dtypes."""
    _need_dims(dims, 1, "simplex")
    return _constrained(dims, constraints.simplex_points, options, real_only="simplex")


def sorted_values(dims: str | Sequence = "n", min_gap: float = 0.0, **options: Any) -> st.SearchStrategy:
    """Values sorted along the last dim; with ``min_gap`` > 0, strictly increasing by at
    least it (no ties). Without it ties stay likely: sorting functions must handle them.
    Real dtypes."""
    check_number("min_gap", min_gap)
    _need_dims(dims, 1, "sorted_values")
    return _constrained(dims, lambda a: constraints.increasing(a, min_gap), options, real_only="sorted_values")


def distinct(dims: str | Sequence = "n", min_gap: float = 0.1, **options: Any) -> st.SearchStrategy:
    """Values along the last dim at least ``min_gap`` apart, in any order: no ties (sort,
    max, top-k, rank and eigen-solvers away from their non-differentiable points). Real
    dtypes."""
    if check_number("min_gap", min_gap, strict=True) <= 0:
        raise ValueError("distinct needs min_gap > 0")
    _need_dims(dims, 1, "distinct")
    return _constrained(dims, lambda a: constraints.separated(a, min_gap), options, real_only="distinct")


def mask(dims: str | Sequence = "n", min_side: int = 0, max_side: int = MAX_SIDE, device: Sequence[str] | None = None, framework: str | None = None) -> st.SearchStrategy:
    """A boolean array (not differentiated): all-true, all-false and mixed masks, shrinking
    toward all-false. Shares named sizes with the tensors of the test case."""
    parsed = _parse_dims(dims)
    _check_common(min_side, max_side, framework)
    return _mask(parsed, min_side, max_side, device, framework)


@st.composite
def _mask(draw, dims, min_side, max_side, device, framework):
    shape = draw(_shape(dims, min_side, max_side, False))
    kind = draw(st.sampled_from(("mixed", "none", "all")))
    if kind == "mixed":
        values = draw(hnp.arrays(np.bool_, shape))
    else:
        values = np.full(shape, kind == "all", dtype=bool)
    drawn = DrawnArray(values=values, dtype="bool", device=draw(devices(device)))
    return drawn if framework is None else drawn.to(framework)


def _batched(batch: str, core: str) -> str:
    if not isinstance(batch, str):
        raise TypeError(f"batch must be a string of dimension names like 'b' or 'b,t', got {batch!r}")
    return f"{batch},{core}" if batch.strip() else core


def _need_dims(dims: str | Sequence, least: int, what: str) -> None:
    if len(_parse_dims(dims)) < least:
        raise ValueError(f"{what} needs at least {least} dimension(s) in dims, got {dims!r}")
