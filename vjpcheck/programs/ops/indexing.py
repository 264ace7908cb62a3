"""Index ops with constant index arrays (duplicates on purpose) and boolean masks.

Index arrays and masks are attributes: constants of the program, drawn with it, stored in
its JSON, never differentiated.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..registry import NotApplicable, Op, dims_apart, lowering, one_dim_apart, register


def _indices(draw, shape, high):
    """int64 indices in [0, high) of ``shape``; a small ``high`` makes duplicates likely."""
    if high == 0 and int(np.prod(shape, dtype=np.int64)):
        raise NotApplicable("indexing an empty dim")
    return draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(0, max(high - 1, 0))))


def _dim(draw, shape):
    if not shape:
        raise NotApplicable("needs rank >= 1")
    return draw(st.integers(0, len(shape) - 1))


# ---- gather (take_along_axis) ------------------------------------------------------------------
def _gather_attrs(draw, shapes):
    shape = shapes[0]
    d = _dim(draw, shape)
    idx_shape = list(shape)
    idx_shape[d] = draw(st.integers(0, 4))
    return {"dim": d, "index": _indices(draw, idx_shape, shape[d])}


def _gather_torch(xp, x, dim, index):
    return xp.m.gather(x, dim, xp.const(index, x))


def _gather_npjax(xp, x, dim, index):
    return xp.m.take_along_axis(x, xp.const(index), axis=dim)


# ---- index_select --------------------------------------------------------------------------------
def _select_attrs(draw, shapes):
    shape = shapes[0]
    d = _dim(draw, shape)
    return {"dim": d, "index": _indices(draw, (draw(st.integers(0, 5)),), shape[d])}


def _select_shape(shapes, attrs):
    out = list(shapes[0])
    out[attrs["dim"]] = len(attrs["index"])
    return tuple(out)


# ---- index_add / scatter_add -------------------------------------------------------------------------
def _index_add_operands(draw, shape):
    return one_dim_apart(draw, shape, 5)


def _index_add_attrs(draw, shapes):
    x, src = shapes
    dims = dims_apart(x, src)
    if not dims:
        raise NotApplicable("index_add: source shape differs outside one dim")
    d = draw(st.sampled_from(dims))
    return {"dim": d, "index": _indices(draw, (src[d],), x[d])}


def _index_add_torch(xp, x, src, dim, index):
    return xp.m.index_add(x, dim, xp.const(index, x), src)


def _index_add_numpy(xp, x, src, dim, index):
    out = np.array(x, copy=True, dtype=np.result_type(x, src))
    np.add.at(out, (slice(None),) * dim + (index,), src)
    return out


def _index_add_jax(xp, x, src, dim, index):
    return x.at[(slice(None),) * dim + (xp.const(index),)].add(src)


def _scatter_attrs(draw, shapes):
    x, src = shapes
    if len(x) != len(src) or not x:
        raise NotApplicable("scatter_add: ranks differ")
    d = draw(st.integers(0, len(x) - 1))
    if any(s > t for k, (s, t) in enumerate(zip(src, x)) if k != d):
        raise NotApplicable("scatter_add: source larger than the target")
    return {"dim": d, "index": _indices(draw, src, x[d])}


def _scatter_operands(draw, shape):
    if not shape:
        raise NotApplicable("needs rank >= 1")
    return [tuple(shape), tuple(draw(st.integers(0, s)) if draw(st.booleans()) else s for s in shape)]


def _scatter_positions(index, dim):
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _scatter_torch(xp, x, src, dim, index):
    return xp.m.scatter_add(x, dim, xp.const(index, x), src)


def _scatter_numpy(xp, x, src, dim, index):
    out = np.array(x, copy=True, dtype=np.result_type(x, src))
    np.add.at(out, _scatter_positions(index, dim), src)
    return out


def _scatter_jax(xp, x, src, dim, index):
    return x.at[tuple(xp.const(g) for g in _scatter_positions(index, dim))].add(src)


# ---- where / take -----------------------------------------------------------------------------------
def _where_attrs(draw, shapes):
    shape = tuple(np.broadcast_shapes(*shapes))
    return {"mask": draw(hnp.arrays(np.bool_, shape))}


def _where_operands(draw, shape):
    return [tuple(shape), tuple(shape) if draw(st.booleans()) else tuple(1 if draw(st.booleans()) else s for s in shape)]


def _take_attrs(draw, shapes):
    size = int(np.prod(shapes[0], dtype=np.int64))
    return {"index": _indices(draw, draw(st.sampled_from([(3,), (2, 2), (5,), ()])), size)}


register(
    Op("gather", "indexing", lowering(npjax=_gather_npjax, torch=_gather_torch), shape=lambda s, a: tuple(a["index"].shape), attrs=_gather_attrs, complex_ok=True, doc="torch.gather / take_along_axis"),
    Op("index_select", "indexing", lowering(npjax=lambda xp, x, dim, index: xp.m.take(x, xp.const(index), axis=dim), torch=lambda xp, x, dim, index: xp.m.index_select(x, dim, xp.const(index, x))), shape=_select_shape, attrs=_select_attrs, complex_ok=True),
    Op("index_add", "indexing", lowering(numpy=_index_add_numpy, torch=_index_add_torch, jax=_index_add_jax), arity=2, operands=_index_add_operands, attrs=_index_add_attrs, complex_ok=True, doc="out = x; out[..., index[i], ...] += src[..., i, ...] (duplicates accumulate)"),
    Op("scatter_add", "indexing", lowering(numpy=_scatter_numpy, torch=_scatter_torch, jax=_scatter_jax), arity=2, operands=_scatter_operands, attrs=_scatter_attrs, complex_ok=True),
    Op("where", "indexing", lowering(lambda xp, a, b, mask: xp.m.where(xp.const(mask, a), a, b)), arity=2, shape=lambda s, a: tuple(a["mask"].shape), operands=_where_operands, attrs=_where_attrs, complex_ok=True, doc="where(mask, a, b) with a constant mask"),
    Op("take", "indexing", lowering(npjax=lambda xp, x, index: xp.m.take(x, xp.const(index)), torch=lambda xp, x, index: xp.m.take(x, xp.const(index, x))), shape=lambda s, a: tuple(a["index"].shape), attrs=_take_attrs, complex_ok=True, doc="flat indices"),
)
