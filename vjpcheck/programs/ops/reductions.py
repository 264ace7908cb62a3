"""Reductions (over any set of dims, with keepdim) and scans along one dim."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..registry import NotApplicable, Op, away_from, axis_arg, distinct, lowering, reduce_dims, reduced_shape, register


def _reduction_attrs(require_nonempty: bool = False, min_size: int = 0):
    def attrs(draw, shapes):
        shape = shapes[0]
        dims = reduce_dims(draw, shape, require_nonempty)
        sizes = [shape[d] for d in (range(len(shape)) if dims is None else dims)]
        if min_size and int(np.prod(sizes, dtype=np.int64)) < min_size:
            raise NotApplicable(f"fewer than {min_size} reduced entries")
        return {"dims": dims, "keepdim": draw(st.booleans())}

    return attrs


def _reduced(shapes, attrs):
    return reduced_shape(shapes[0], attrs["dims"], attrs["keepdim"])


def _tdims(x, dims):
    """torch's ``dim`` argument: every dim when None."""
    return tuple(range(x.ndim)) if dims is None else tuple(dims)


def reduction(name, lower, require_nonempty=False, min_size=0, smooth=None, kinks="", complex_ok=False, doc=""):
    return Op(name, "reduction", lower, shape=_reduced, attrs=_reduction_attrs(require_nonempty, min_size), smooth=smooth, kinks=kinks, complex_ok=complex_ok, doc=doc)


def _moved(x, dims):
    """``x`` with the reduced dims flattened into one trailing axis (NumPy)."""
    dims = list(range(x.ndim)) if dims is None else list(dims)
    rest = [i for i in range(x.ndim) if i not in dims]
    moved = np.transpose(x, rest + dims)
    return moved.reshape(moved.shape[: len(rest)] + (int(np.prod([x.shape[d] for d in dims], dtype=np.int64)),))


def _logsumexp_np(xp, x, dims, keepdim):
    out = xp.special.logsumexp(x, axis=axis_arg(dims), keepdims=keepdim)
    return np.reshape(out, np.sum(x, axis=axis_arg(dims), keepdims=keepdim).shape)  # scipy: 0-d keepdims gives (1,)


def _no_ties(x, dims, keepdim):
    return distinct(_moved(x, dims)) if x.size else True


def _vector_norm_np(x, dims, keepdim, ord):
    ax = axis_arg(dims)
    if ord == 2:
        return np.sqrt(np.sum(np.abs(x) ** 2, axis=ax, keepdims=keepdim))
    return np.sum(np.abs(x), axis=ax, keepdims=keepdim)


def _norm_smooth(x, dims, keepdim, ord):
    if ord == 1:
        return away_from(np.abs(x))
    return away_from(np.sqrt(np.sum(np.abs(_moved(x, dims)) ** 2, axis=-1)))


def _std_smooth(x, dims, keepdim, ddof):
    return away_from(np.std(_moved(x, dims), axis=-1))


def _var_attrs(draw, shapes):
    attrs = _reduction_attrs(True)(draw, shapes)
    shape = shapes[0]
    sizes = [shape[d] for d in (range(len(shape)) if attrs["dims"] is None else attrs["dims"])]
    attrs["ddof"] = draw(st.sampled_from([0, 1]))
    if int(np.prod(sizes, dtype=np.int64)) <= attrs["ddof"]:
        raise NotApplicable("var/std: no more entries than ddof")
    return attrs


def _moment(name: str, smooth=None, kinks: str = "") -> Op:
    """var / std over any dims, with ``ddof`` (torch's ``correction``)."""
    return Op(
        name,
        "reduction",
        lowering(
            npjax=lambda xp, x, dims, keepdim, ddof: getattr(xp.m, name)(x, axis=axis_arg(dims), keepdims=keepdim, ddof=ddof),
            torch=lambda xp, x, dims, keepdim, ddof: getattr(xp.m, name)(x, dim=_tdims(x, dims), keepdim=keepdim, correction=ddof),
        ),
        shape=_reduced,
        attrs=_var_attrs,
        smooth=smooth,
        kinks=kinks,
    )


def _norm_attrs(draw, shapes):
    return {**_reduction_attrs()(draw, shapes), "ord": draw(st.sampled_from([2, 1]))}


register(
    reduction("sum", lowering(npjax=lambda xp, x, dims, keepdim: xp.m.sum(x, axis=axis_arg(dims), keepdims=keepdim), torch=lambda xp, x, dims, keepdim: xp.m.sum(x, dim=_tdims(x, dims), keepdim=keepdim)), complex_ok=True),
    reduction("mean", lowering(npjax=lambda xp, x, dims, keepdim: xp.m.mean(x, axis=axis_arg(dims), keepdims=keepdim), torch=lambda xp, x, dims, keepdim: xp.m.mean(x, dim=_tdims(x, dims), keepdim=keepdim)), require_nonempty=True, complex_ok=True),
    reduction("prod", lowering(npjax=lambda xp, x, dims, keepdim: xp.m.prod(x, axis=axis_arg(dims), keepdims=keepdim), torch=lambda xp, x, dims, keepdim: _torch_prod(xp, x, dims, keepdim)), complex_ok=True, doc="zeros included on purpose"),
    reduction("amax", lowering(npjax=lambda xp, x, dims, keepdim: xp.m.max(x, axis=axis_arg(dims), keepdims=keepdim), torch=lambda xp, x, dims, keepdim: xp.m.amax(x, dim=_tdims(x, dims), keepdim=keepdim)), require_nonempty=True, smooth=_no_ties, kinks="ties for the maximum"),
    reduction("amin", lowering(npjax=lambda xp, x, dims, keepdim: xp.m.min(x, axis=axis_arg(dims), keepdims=keepdim), torch=lambda xp, x, dims, keepdim: xp.m.amin(x, dim=_tdims(x, dims), keepdim=keepdim)), require_nonempty=True, smooth=_no_ties, kinks="ties for the minimum"),
    reduction("logsumexp", lowering(numpy=_logsumexp_np, jax=lambda xp, x, dims, keepdim: xp.special.logsumexp(x, axis=axis_arg(dims), keepdims=keepdim), torch=lambda xp, x, dims, keepdim: xp.m.logsumexp(x, dim=_tdims(x, dims), keepdim=keepdim)), require_nonempty=True),
    Op(
        "vector_norm",
        "reduction",
        lowering(
            numpy=lambda xp, x, dims, keepdim, ord: _vector_norm_np(x, dims, keepdim, ord),
            torch=lambda xp, x, dims, keepdim, ord: xp.linalg.vector_norm(x, ord=ord, dim=_tdims(x, dims), keepdim=keepdim),
            jax=lambda xp, x, dims, keepdim, ord: xp.linalg.vector_norm(x, ord=ord, axis=axis_arg(dims), keepdims=keepdim),
        ),
        shape=_reduced,
        attrs=_norm_attrs,
        smooth=_norm_smooth,
        kinks="ord 2: a zero vector; ord 1: any zero entry",
        complex_ok=True,
    ),
    _moment("var"),
    _moment("std", smooth=_std_smooth, kinks="zero variance"),
)


def _torch_prod(xp, x, dims, keepdim):
    """torch.prod reduces one dim at a time (highest first so the indices stay valid)."""
    if dims is None and not keepdim:
        return xp.m.prod(x)
    for d in sorted(_tdims(x, dims), reverse=True):
        x = xp.m.prod(x, dim=d, keepdim=keepdim)
    return x


# ---- scans ---------------------------------------------------------------------------------
def _scan_attrs(draw, shapes):
    if not shapes[0]:
        raise NotApplicable("a scan needs at least one dim")
    return {"dim": draw(st.integers(0, len(shapes[0]) - 1))}


def scan(name, lower, smooth=None, kinks="", complex_ok=False):
    return Op(name, "scan", lower, attrs=_scan_attrs, smooth=smooth, kinks=kinks, complex_ok=complex_ok)


def _cummax_jax(xp, x, dim):
    return xp.lax.cummax(x, axis=dim) if x.size else x


def _logcumsumexp_jax(xp, x, dim):
    return xp.lax.cumlogsumexp(x, axis=dim) if x.size else x


register(
    scan("cumsum", lowering(npjax=lambda xp, x, dim: xp.m.cumsum(x, axis=dim), torch=lambda xp, x, dim: xp.m.cumsum(x, dim=dim)), complex_ok=True),
    scan("cumprod", lowering(npjax=lambda xp, x, dim: xp.m.cumprod(x, axis=dim), torch=lambda xp, x, dim: xp.m.cumprod(x, dim=dim)), complex_ok=True),
    scan("logcumsumexp", lowering(numpy=lambda xp, x, dim: np.logaddexp.accumulate(x, axis=dim), torch=lambda xp, x, dim: xp.m.logcumsumexp(x, dim=dim), jax=_logcumsumexp_jax)),
    scan("cummax", lowering(numpy=lambda xp, x, dim: np.maximum.accumulate(x, axis=dim), torch=lambda xp, x, dim: xp.m.cummax(x, dim=dim).values, jax=_cummax_jax), smooth=lambda x, dim: distinct(x, dim), kinks="ties along the scan"),
)
