"""Elementwise ops: unary (special functions included) and binary with broadcasting."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..registry import NotApplicable, Op, away_from, broadcast_partner, lowering, register


def _same(name: str, torch_name: str | None = None):
    """The function called ``name`` in NumPy and jax.numpy, ``torch_name`` in torch."""
    return lowering(npjax=lambda xp, x: getattr(xp.m, name)(x), torch=lambda xp, x: getattr(xp.m, torch_name or name)(x))


def _special(name: str, torch_name: str | None = None):
    """scipy.special / jax.scipy.special ``name``; ``torch.special`` ``torch_name``."""
    return lowering(npjax=lambda xp, x: getattr(xp.special, name)(x), torch=lambda xp, x: getattr(xp.special, torch_name or name)(x))


def unary(name, lower, domain="any", smooth=None, kinks="", complex_ok=False, doc=""):
    return Op(name, "elementwise", lower, domains=(domain,), smooth=smooth, kinks=kinks, complex_ok=complex_ok, doc=doc)


def _away(*points):
    return lambda x: away_from(np.real(x), points)


def _gelu_np(x):
    import scipy.special

    return 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2)))


def _gelu_tanh_np(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _floor_smooth(x):
    return x.size == 0 or bool(np.all(np.abs(x - np.round(x)) > 0.05))


register(
    unary("neg", lowering(lambda xp, x: -x), complex_ok=True),
    unary("sin", _same("sin"), complex_ok=True),
    unary("cos", _same("cos"), complex_ok=True),
    unary("tan", _same("tan"), "small"),
    unary("exp", _same("exp"), complex_ok=True),
    unary("expm1", _same("expm1")),
    unary("exp2", _same("exp2")),
    unary("log", _same("log"), "positive"),
    unary("log1p", _same("log1p"), "positive"),
    unary("log2", _same("log2"), "positive"),
    unary("sqrt", _same("sqrt"), "positive"),
    unary("rsqrt", lowering(numpy=lambda xp, x: 1 / np.sqrt(x), torch=lambda xp, x: xp.m.rsqrt(x), jax=lambda xp, x: xp.lax.rsqrt(x)), "positive"),
    unary("tanh", _same("tanh"), complex_ok=True),
    unary("sigmoid", lowering(numpy=lambda xp, x: xp.special.expit(x), torch=lambda xp, x: xp.m.sigmoid(x), jax=lambda xp, x: xp.nn.sigmoid(x))),
    unary("softplus", lowering(numpy=lambda xp, x: np.logaddexp(0, x), torch=lambda xp, x: xp.nn.softplus(x), jax=lambda xp, x: xp.nn.softplus(x))),
    unary("relu", lowering(numpy=lambda xp, x: np.maximum(x, 0), torch=lambda xp, x: xp.m.relu(x), jax=lambda xp, x: xp.nn.relu(x)), smooth=_away(0), kinks="x = 0"),
    unary("abs", _same("abs"), smooth=lambda x: away_from(np.abs(x)) if np.iscomplexobj(x) else away_from(x), kinks="x = 0", complex_ok=True),
    unary("square", lowering(lambda xp, x: x * x), complex_ok=True),
    unary("reciprocal", lowering(npjax=lambda xp, x: xp.m.reciprocal(x), torch=lambda xp, x: xp.m.reciprocal(x)), "nonzero", complex_ok=True),
    unary("sinh", _same("sinh")),
    unary("cosh", _same("cosh")),
    unary("asinh", _same("arcsinh", "asinh")),
    unary("acosh", _same("arccosh", "acosh"), "above_one"),
    unary("atanh", _same("arctanh", "atanh"), "unit"),
    unary("arcsin", _same("arcsin", "asin"), "unit"),
    unary("arccos", _same("arccos", "acos"), "unit"),
    unary("arctan", _same("arctan", "atan")),
    unary("erf", _special("erf")),
    unary("erfc", _special("erfc")),
    unary("erfinv", _special("erfinv"), "unit"),
    unary("lgamma", lowering(npjax=lambda xp, x: xp.special.gammaln(x), torch=lambda xp, x: xp.m.lgamma(x)), "positive"),
    unary("digamma", lowering(npjax=lambda xp, x: xp.special.digamma(x), torch=lambda xp, x: xp.special.digamma(x)), "positive"),
    unary("i0", lowering(npjax=lambda xp, x: xp.m.i0(x), torch=lambda xp, x: xp.special.i0(x))),
    unary("gelu", lowering(numpy=lambda xp, x: _gelu_np(x), torch=lambda xp, x: xp.nn.gelu(x), jax=lambda xp, x: xp.nn.gelu(x, approximate=False)), doc="exact (erf) GELU"),
    unary("gelu_tanh", lowering(numpy=lambda xp, x: _gelu_tanh_np(x), torch=lambda xp, x: xp.nn.gelu(x, approximate="tanh"), jax=lambda xp, x: xp.nn.gelu(x, approximate=True))),
    unary("elu", lowering(numpy=lambda xp, x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), torch=lambda xp, x: xp.nn.elu(x), jax=lambda xp, x: xp.nn.elu(x)), smooth=_away(0), kinks="x = 0 (second derivative)"),
    unary("silu", lowering(numpy=lambda xp, x: x * xp.special.expit(x), torch=lambda xp, x: xp.nn.silu(x), jax=lambda xp, x: xp.nn.silu(x))),
    unary("log_sigmoid", lowering(numpy=lambda xp, x: -np.logaddexp(0, -x), torch=lambda xp, x: xp.nn.logsigmoid(x), jax=lambda xp, x: xp.nn.log_sigmoid(x))),
    unary("sign", _same("sign"), smooth=_away(0), kinks="x = 0 (jump)"),
    unary("sinc", _same("sinc")),
    unary("clamp", lowering(npjax=lambda xp, x: xp.m.clip(x, -1.0, 1.0), torch=lambda xp, x: xp.m.clamp(x, -1.0, 1.0)), smooth=_away(-1.0, 1.0), kinks="x = ±1"),
    unary("floor", _same("floor"), smooth=_floor_smooth, kinks="integers (jumps)"),
)

register(
    Op(
        "pow_scalar",
        "elementwise",
        lowering(lambda xp, x, p: x**p),
        attrs=lambda draw, shapes: {"p": draw(st.sampled_from([2.0, 3.0, 0.5, -1.0, 1.5, -0.5]))},
        domains=("positive",),
        doc="x ** p for a Python float p",
    )
)


# ---- binary ------------------------------------------------------------------------------
def _broadcast_shape(shapes, attrs):
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError as exc:
        raise NotApplicable(str(exc)) from exc


def _broadcast_operands(draw, shape):
    return [tuple(shape), broadcast_partner(draw, shape)]


def binary(name, lower, domains=("any", "any"), smooth=None, kinks="", complex_ok=False):
    return Op(name, "binary", lower, arity=2, shape=_broadcast_shape, operands=_broadcast_operands, domains=domains, smooth=smooth, kinks=kinks, complex_ok=complex_ok)


def _apart(a, b):
    return away_from(np.real(np.asarray(a) - np.asarray(b)))


def _origin(a, b):
    return away_from(np.hypot(a, b))


def _fmod_smooth(a, b):
    q = np.asarray(a) / np.asarray(b)
    return q.size == 0 or bool(np.all(np.abs(q - np.round(q)) > 0.05))


register(
    binary("add", lowering(lambda xp, a, b: a + b), complex_ok=True),
    binary("sub", lowering(lambda xp, a, b: a - b), complex_ok=True),
    binary("mul", lowering(lambda xp, a, b: a * b), complex_ok=True),
    binary("div", lowering(lambda xp, a, b: a / b), ("any", "nonzero"), complex_ok=True),
    binary("pow", lowering(npjax=lambda xp, a, b: xp.m.power(a, b), torch=lambda xp, a, b: xp.m.pow(a, b)), ("positive", "any")),
    binary("maximum", lowering(lambda xp, a, b: xp.m.maximum(a, b)), smooth=_apart, kinks="a = b (ties)"),
    binary("minimum", lowering(lambda xp, a, b: xp.m.minimum(a, b)), smooth=_apart, kinks="a = b (ties)"),
    binary("atan2", lowering(npjax=lambda xp, a, b: xp.m.arctan2(a, b), torch=lambda xp, a, b: xp.m.atan2(a, b)), smooth=lambda a, b: _origin(a, b) and away_from(np.where(np.asarray(b) < 0, a, 1.0)), kinks="the origin; the branch cut a = 0, b < 0"),
    binary("hypot", lowering(lambda xp, a, b: xp.m.hypot(a, b)), smooth=_origin, kinks="the origin"),
    binary("logaddexp", lowering(lambda xp, a, b: xp.m.logaddexp(a, b))),
    binary("xlogy", lowering(npjax=lambda xp, a, b: xp.special.xlogy(a, b), torch=lambda xp, a, b: xp.special.xlogy(a, b)), ("any", "positive")),
    binary("fmod", lowering(lambda xp, a, b: xp.m.fmod(a, b)), ("any", "nonzero"), smooth=_fmod_smooth, kinks="a/b an integer (jumps)"),
)
