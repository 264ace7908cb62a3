"""Shape ops: reshape, permute/transpose, expand, squeeze/unsqueeze, flip, roll, cat/stack,
split, strided slicing, triangles and diagonals. In PyTorch most of them are views."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..registry import MAX_RANK, NotApplicable, Op, dims_apart, lowering, one_dim_apart, register


def _need_rank(shape, lo):
    if len(shape) < lo:
        raise NotApplicable(f"needs rank >= {lo}")


def _dim(draw, shape):
    _need_rank(shape, 1)
    return draw(st.integers(0, len(shape) - 1))


# ---- reshape -------------------------------------------------------------------------------
def _reshape_attrs(draw, shapes):
    shape = list(shapes[0])
    kind = draw(st.sampled_from(["flatten", "merge", "split", "insert"]))
    if kind == "merge" and len(shape) >= 2:
        i = draw(st.integers(0, len(shape) - 2))
        new = shape[:i] + [shape[i] * shape[i + 1]] + shape[i + 2 :]
    elif kind == "split" and any(s >= 2 for s in shape) and len(shape) < MAX_RANK:
        i = draw(st.sampled_from([k for k, s in enumerate(shape) if s >= 2]))
        factors = [f for f in range(1, shape[i] + 1) if shape[i] % f == 0]
        f = draw(st.sampled_from(factors))
        new = shape[:i] + [f, shape[i] // f] + shape[i + 1 :]
    elif kind == "insert" and len(shape) < MAX_RANK:
        i = draw(st.integers(0, len(shape)))
        new = shape[:i] + [1] + shape[i:]
    else:
        new = [int(np.prod(shape, dtype=np.int64))]
    return {"shape": tuple(new)}


# ---- permute / transpose ---------------------------------------------------------------------
def _permute_attrs(draw, shapes):
    _need_rank(shapes[0], 2)
    return {"perm": tuple(draw(st.permutations(range(len(shapes[0])))))}


def _transpose_attrs(draw, shapes):
    _need_rank(shapes[0], 2)
    i, j = draw(st.lists(st.integers(0, len(shapes[0]) - 1), min_size=2, max_size=2, unique=True))
    return {"i": i, "j": j}


def _swapped(shape, i, j):
    s = list(shape)
    s[i], s[j] = s[j], s[i]
    return tuple(s)


# ---- expand ------------------------------------------------------------------------------------
def _expand_attrs(draw, shapes):
    shape = shapes[0]
    target = [draw(st.integers(0, 3)) if s == 1 else s for s in shape]
    if len(shape) < MAX_RANK and draw(st.booleans()):
        target = [draw(st.integers(1, 3))] + target
    return {"shape": tuple(target)}


# ---- squeeze / unsqueeze ------------------------------------------------------------------------
def _squeeze_attrs(draw, shapes):
    ones = [i for i, s in enumerate(shapes[0]) if s == 1]
    if not ones:
        raise NotApplicable("no size-1 dim to squeeze")
    return {"dim": draw(st.sampled_from(ones))}


def _unsqueeze_attrs(draw, shapes):
    if len(shapes[0]) >= MAX_RANK:
        raise NotApplicable("rank limit")
    return {"dim": draw(st.integers(0, len(shapes[0])))}


# ---- flip / roll ----------------------------------------------------------------------------------
def _flip_attrs(draw, shapes):
    _need_rank(shapes[0], 1)
    return {"dims": tuple(sorted(draw(st.sets(st.integers(0, len(shapes[0]) - 1), min_size=1))))}


def _roll_attrs(draw, shapes):
    return {"shift": draw(st.integers(-3, 3)), "dim": _dim(draw, shapes[0])}


# ---- cat / stack / split --------------------------------------------------------------------------
def _cat_operands(draw, shape):
    return one_dim_apart(draw, shape, 3)


def _cat_attrs(draw, shapes):
    dims = dims_apart(*shapes)
    if not dims:
        raise NotApplicable("cat: shapes differ outside one dim")
    return {"dim": draw(st.sampled_from(dims))}


def _cat_shape(shapes, attrs):
    out = list(shapes[0])
    out[attrs["dim"]] += shapes[1][attrs["dim"]]
    return tuple(out)


def _stack_attrs(draw, shapes):
    if tuple(shapes[0]) != tuple(shapes[1]):
        raise NotApplicable("stack: shapes differ")
    if len(shapes[0]) >= MAX_RANK:
        raise NotApplicable("rank limit")
    return {"dim": draw(st.integers(0, len(shapes[0])))}


def _stack_shape(shapes, attrs):
    s = list(shapes[0])
    return tuple(s[: attrs["dim"]] + [2] + s[attrs["dim"] :])


def _split_attrs(draw, shapes):
    shape = shapes[0]
    d = _dim(draw, shape)
    n = shape[d]
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return {"dim": d, "sizes": tuple(sizes), "index": draw(st.integers(0, len(sizes) - 1))}


def _split_shape(shapes, attrs):
    out = list(shapes[0])
    out[attrs["dim"]] = attrs["sizes"][attrs["index"]]
    return tuple(out)


def _split_np(xp, x, dim, sizes, index):
    return xp.m.split(x, np.cumsum(sizes)[:-1].tolist(), axis=dim)[index]


# ---- slicing with steps -----------------------------------------------------------------------------
def _slice_attrs(draw, shapes):
    shape = shapes[0]
    d = _dim(draw, shape)
    n = shape[d]
    start = draw(st.integers(0, n))
    stop = draw(st.integers(start, n))
    return {"dim": d, "start": start, "stop": stop, "step": draw(st.integers(1, 3))}


def _slice_index(x, dim, start, stop, step):
    return (slice(None),) * dim + (slice(start, stop, step),)


def _slice_shape(shapes, attrs):
    out = list(shapes[0])
    out[attrs["dim"]] = len(range(attrs["start"], attrs["stop"], attrs["step"]))
    return tuple(out)


# ---- triangles / diagonals ----------------------------------------------------------------------------
def _tril_attrs(draw, shapes):
    _need_rank(shapes[0], 2)
    return {"k": draw(st.integers(-1, 1)), "upper": draw(st.booleans())}


def _tri(xp, x, k, upper):
    return xp.m.triu(x, k) if upper else xp.m.tril(x, k)


def _diagonal_attrs(draw, shapes):
    _need_rank(shapes[0], 2)
    return {"offset": draw(st.integers(-1, 1))}


def _diagonal_shape(shapes, attrs):
    *batch, m, n = shapes[0]
    off = attrs["offset"]
    length = max(0, min(m, n - off) if off >= 0 else min(m + off, n))
    return tuple(batch) + (length,)


register(
    Op("reshape", "shape", lowering(lambda xp, x, shape: xp.m.reshape(x, shape)), shape=lambda s, a: a["shape"], attrs=_reshape_attrs, complex_ok=True),
    Op("permute", "shape", lowering(npjax=lambda xp, x, perm: xp.m.transpose(x, perm), torch=lambda xp, x, perm: x.permute(perm)), shape=lambda s, a: tuple(s[0][p] for p in a["perm"]), attrs=_permute_attrs, complex_ok=True),
    Op("transpose", "shape", lowering(npjax=lambda xp, x, i, j: xp.m.swapaxes(x, i, j), torch=lambda xp, x, i, j: xp.m.transpose(x, i, j)), shape=lambda s, a: _swapped(s[0], a["i"], a["j"]), attrs=_transpose_attrs, complex_ok=True),
    Op("expand", "shape", lowering(npjax=lambda xp, x, shape: xp.m.broadcast_to(x, shape), torch=lambda xp, x, shape: x.expand(shape)), shape=lambda s, a: a["shape"], attrs=_expand_attrs, complex_ok=True, doc="stride-0 views in PyTorch"),
    Op("squeeze", "shape", lowering(npjax=lambda xp, x, dim: xp.m.squeeze(x, axis=dim), torch=lambda xp, x, dim: xp.m.squeeze(x, dim)), shape=lambda s, a: tuple(v for i, v in enumerate(s[0]) if i != a["dim"]), attrs=_squeeze_attrs, complex_ok=True),
    Op("unsqueeze", "shape", lowering(npjax=lambda xp, x, dim: xp.m.expand_dims(x, dim), torch=lambda xp, x, dim: xp.m.unsqueeze(x, dim)), shape=lambda s, a: tuple(s[0][: a["dim"]]) + (1,) + tuple(s[0][a["dim"] :]), attrs=_unsqueeze_attrs, complex_ok=True),
    Op("flip", "shape", lowering(npjax=lambda xp, x, dims: xp.m.flip(x, axis=dims), torch=lambda xp, x, dims: xp.m.flip(x, dims)), attrs=_flip_attrs, complex_ok=True),
    Op("roll", "shape", lowering(npjax=lambda xp, x, shift, dim: xp.m.roll(x, shift, axis=dim), torch=lambda xp, x, shift, dim: xp.m.roll(x, shift, dim)), attrs=_roll_attrs, complex_ok=True),
    Op("cat", "shape", lowering(npjax=lambda xp, a, b, dim: xp.m.concatenate([a, b], axis=dim), torch=lambda xp, a, b, dim: xp.m.cat([a, b], dim)), arity=2, shape=_cat_shape, operands=_cat_operands, attrs=_cat_attrs, complex_ok=True),
    Op("stack", "shape", lowering(npjax=lambda xp, a, b, dim: xp.m.stack([a, b], axis=dim), torch=lambda xp, a, b, dim: xp.m.stack([a, b], dim)), arity=2, shape=_stack_shape, operands=lambda draw, s: [tuple(s), tuple(s)], attrs=_stack_attrs, complex_ok=True),
    Op("split", "shape", lowering(npjax=_split_np, torch=lambda xp, x, dim, sizes, index: xp.m.split(x, list(sizes), dim)[index]), shape=_split_shape, attrs=_split_attrs, complex_ok=True, doc="one chunk of a split into given sizes"),
    Op("slice", "shape", lowering(lambda xp, x, dim, start, stop, step: x[_slice_index(x, dim, start, stop, step)]), shape=_slice_shape, attrs=_slice_attrs, complex_ok=True, doc="x[start:stop:step] along one dim"),
    Op("tril", "shape", lowering(_tri), attrs=_tril_attrs, complex_ok=True, doc="tril/triu with offset k"),
    Op("diagonal", "shape", lowering(lambda xp, x, offset: xp.m.diagonal(x, offset, -2, -1)), shape=_diagonal_shape, attrs=_diagonal_attrs, complex_ok=True),
)
