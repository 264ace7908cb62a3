"""Neural-network ops: softmax, log_softmax, layer norm, 1-d/2-d convolution and pooling."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..registry import MARGIN, NotApplicable, Op, lowering, register


def _softmax_attrs(draw, shapes):
    if not shapes[0]:
        raise NotApplicable("softmax needs rank >= 1")
    return {"dim": draw(st.integers(0, len(shapes[0]) - 1))}


def _layer_norm(xp, x):
    mean = x.mean(-1, keepdims=True) if xp.name != "torch" else x.mean(-1, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True) if xp.name != "torch" else (centred * centred).mean(-1, keepdim=True)
    return centred / xp.m.sqrt(var + 1e-5)


def _layer_norm_torch(xp, x):
    return xp.nn.layer_norm(x, x.shape[-1:], eps=1e-5)


def _need_last_dim(draw, shape):
    if not shape or shape[-1] == 0:
        raise NotApplicable("needs a nonempty last dim")
    return [tuple(shape)]


# ---- convolution ---------------------------------------------------------------------------------
def _conv_operands(spatial: int):
    def operands(draw, shape):
        if len(shape) != 2 + spatial or shape[1] == 0 or min(shape[2:]) == 0:
            # PyTorch rejects zero channels and empty spatial dims (by design, not a bug)
            raise NotApplicable(f"conv{spatial}d needs (N, C, {'L' if spatial == 1 else 'H, W'}) input with C and spatial dims >= 1")
        kernel = tuple(draw(st.integers(1, 3)) for _ in range(spatial))
        return [tuple(shape), (draw(st.integers(1, 3)), shape[1]) + kernel]

    return operands


def _conv_attrs(spatial: int):
    def attrs(draw, shapes):
        return {"stride": draw(st.integers(1, 2)), "padding": draw(st.integers(0, 1))}

    return attrs


def _conv_shape(spatial: int):
    def shape(shapes, attrs):
        x, w = shapes
        if len(x) != 2 + spatial or len(w) != 2 + spatial or x[1] != w[1]:
            raise NotApplicable("conv: channels differ")
        s, p = attrs["stride"], attrs["padding"]
        out = [(n + 2 * p - k) // s + 1 for n, k in zip(x[2:], w[2:])]
        if min(out) < 1:
            raise NotApplicable("conv: kernel larger than the padded input")
        return (x[0], w[0]) + tuple(out)

    return shape


def _conv_numpy(xp, x, w, stride, padding):
    spatial = x.ndim - 2
    pad = [(0, 0), (0, 0)] + [(padding, padding)] * spatial
    xp_ = np.pad(x, pad)
    windows = np.lib.stride_tricks.sliding_window_view(xp_, w.shape[2:], axis=tuple(range(2, 2 + spatial)))
    windows = windows[(slice(None), slice(None)) + (slice(None, None, stride),) * spatial]
    if spatial == 1:
        return np.einsum("ncli,oci->nol", windows, w)
    return np.einsum("nchwij,ocij->nohw", windows, w)


def _conv_torch(xp, x, w, stride, padding):
    f = xp.nn.conv1d if x.ndim == 3 else xp.nn.conv2d
    return f(x, w, stride=stride, padding=padding)


def _conv_jax(xp, x, w, stride, padding):
    spatial = x.ndim - 2
    return xp.lax.conv_general_dilated(x, w, (stride,) * spatial, [(padding, padding)] * spatial, precision=xp.lax.Precision.HIGHEST)


# ---- pooling ---------------------------------------------------------------------------------------
def _pool_operands(spatial: int):
    def operands(draw, shape):
        if len(shape) != 2 + spatial or min(shape[1:]) < 1:
            # PyTorch rejects zero channels ("Expected 3D or 4D tensor"): by design, not a bug
            raise NotApplicable(f"pool{spatial}d needs (N, C, spatial) input with C and spatial dims >= 1")
        return [tuple(shape)]

    return operands


def _pool_attrs(draw, shapes):
    spatial = shapes[0][2:]
    k = draw(st.integers(1, min(3, min(spatial))))
    return {"kernel": k, "stride": draw(st.integers(1, k))}


def _pool_shape(shapes, attrs):
    x = shapes[0]
    return tuple(x[:2]) + tuple((n - attrs["kernel"]) // attrs["stride"] + 1 for n in x[2:])


def _windows(x, kernel, stride):
    spatial = x.ndim - 2
    axes = tuple(range(2, 2 + spatial))
    w = np.lib.stride_tricks.sliding_window_view(x, (kernel,) * spatial, axis=axes)
    w = w[(slice(None), slice(None)) + (slice(None, None, stride),) * spatial]
    return w.reshape(w.shape[: 2 + spatial] + (kernel**spatial,))  # explicit: -1 fails on empty


def _pool_numpy(kind):
    def f(xp, x, kernel, stride):
        w = _windows(x, kernel, stride)
        return w.max(-1) if kind == "max" else w.mean(-1)

    return f


def _pool_torch(kind):
    def f(xp, x, kernel, stride):
        spatial = x.ndim - 2
        fn = getattr(xp.nn, f"{kind}_pool{spatial}d")
        return fn(x, kernel, stride)

    return f


def _pool_jax(kind):
    def f(xp, x, kernel, stride):
        spatial = x.ndim - 2
        dims, strides = (1, 1) + (kernel,) * spatial, (1, 1) + (stride,) * spatial
        if kind == "max":
            return xp.lax.reduce_window(x, -xp.m.inf, xp.lax.max, dims, strides, "VALID")
        return xp.lax.reduce_window(x, 0.0, xp.lax.add, dims, strides, "VALID") / kernel**spatial

    return f


def _max_pool_smooth(x, kernel, stride):
    w = _windows(x, kernel, stride)
    if w.size == 0 or w.shape[-1] < 2:
        return True
    top = np.sort(w, axis=-1)[..., -2:]
    return bool(np.all(top[..., 1] - top[..., 0] > MARGIN * max(1.0, float(np.max(np.abs(x))))))


def _pool_first(spatial):
    return lambda: st.tuples(*[st.integers(1, 2)] * 2, *[st.integers(1, 5)] * spatial)


register(
    Op("softmax", "nn", lowering(numpy=lambda xp, x, dim: xp.special.softmax(x, axis=dim), torch=lambda xp, x, dim: xp.m.softmax(x, dim), jax=lambda xp, x, dim: xp.nn.softmax(x, axis=dim)), attrs=_softmax_attrs),
    Op("log_softmax", "nn", lowering(numpy=lambda xp, x, dim: xp.special.log_softmax(x, axis=dim), torch=lambda xp, x, dim: xp.m.log_softmax(x, dim), jax=lambda xp, x, dim: xp.nn.log_softmax(x, axis=dim)), attrs=_softmax_attrs),
    Op("layer_norm", "nn", lowering(npjax=_layer_norm, torch=_layer_norm_torch), operands=_need_last_dim, smooth=lambda x: x.size == 0 or float(np.std(x, axis=-1).min()) > MARGIN, kinks="constant rows", doc="over the last dim, eps 1e-5, no affine"),
    Op("conv1d", "nn", lowering(numpy=_conv_numpy, torch=_conv_torch, jax=_conv_jax), arity=2, shape=_conv_shape(1), operands=_conv_operands(1), attrs=_conv_attrs(1), first=lambda: st.tuples(st.integers(0, 2), st.integers(1, 2), st.integers(1, 6))),
    Op("conv2d", "nn", lowering(numpy=_conv_numpy, torch=_conv_torch, jax=_conv_jax), arity=2, shape=_conv_shape(2), operands=_conv_operands(2), attrs=_conv_attrs(2), first=lambda: st.tuples(st.integers(0, 2), st.integers(1, 2), st.integers(1, 4), st.integers(1, 4))),
    Op("avg_pool1d", "nn", lowering(numpy=_pool_numpy("avg"), torch=_pool_torch("avg"), jax=_pool_jax("avg")), shape=_pool_shape, operands=_pool_operands(1), attrs=_pool_attrs, first=_pool_first(1)),
    Op("max_pool1d", "nn", lowering(numpy=_pool_numpy("max"), torch=_pool_torch("max"), jax=_pool_jax("max")), shape=_pool_shape, operands=_pool_operands(1), attrs=_pool_attrs, smooth=_max_pool_smooth, kinks="ties within a window", first=_pool_first(1)),
    Op("avg_pool2d", "nn", lowering(numpy=_pool_numpy("avg"), torch=_pool_torch("avg"), jax=_pool_jax("avg")), shape=_pool_shape, operands=_pool_operands(2), attrs=_pool_attrs, first=_pool_first(2)),
    Op("max_pool2d", "nn", lowering(numpy=_pool_numpy("max"), torch=_pool_torch("max"), jax=_pool_jax("max")), shape=_pool_shape, operands=_pool_operands(2), attrs=_pool_attrs, smooth=_max_pool_smooth, kinks="ties within a window", first=_pool_first(2)),
)
