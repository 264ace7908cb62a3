"""Ops with planted autodiff bugs, registered only inside tests (see ``planted`` below).

Each imitates a framework bug the random programs must find: a PyTorch backward that
scans the wrong way, a JAX custom_vjp that forgets the conjugate, a NumPy reference that is
not the same function, a backward that is wrong only when a size-1 dim is broadcast.
"""

from __future__ import annotations

import contextlib

import numpy as np

from vjpcheck.programs.registry import OPS, Op, lowering


def _torch_bad_cumsum():
    import torch

    class BadCumsum(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.cumsum(x, -1)

        @staticmethod
        def backward(ctx, g):
            return torch.cumsum(g, -1)  # should be the reversed cumsum

    return BadCumsum.apply


def _jax_no_conj_mul():
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def square(z):
        return z * z

    def fwd(z):
        return z * z, z

    def bwd(z, g):
        return (2 * jnp.conj(z) * g,)  # JAX's convention wants 2·z·g (no conjugate)

    square.defvjp(fwd, bwd)
    return square


def _torch_bad_when_broadcast():
    import torch

    class BadMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            copies = max(1, g.numel() // max(1, b.numel()))
            # b's gradient is averaged over its broadcast copies instead of summed
            return (g * b).sum_to_size(a.shape), (g * a).sum_to_size(b.shape) / copies

    return BadMul.apply


def _cached(factory):
    cache = {}

    def get():
        if "fn" not in cache:
            cache["fn"] = factory()
        return cache["fn"]

    return get


_bad_cumsum, _no_conj, _bad_bcast = _cached(_torch_bad_cumsum), _cached(_jax_no_conj_mul), _cached(_torch_bad_when_broadcast)


def _scan_attrs(draw, shapes):
    from vjpcheck.programs.registry import NotApplicable

    if not shapes[0]:
        raise NotApplicable("needs rank >= 1")
    return {}


PLANTED = {
    "planted_torch_cumsum": Op(
        "planted_torch_cumsum",
        "planted",
        lowering(npjax=lambda xp, x: xp.m.cumsum(x, axis=-1), torch=lambda xp, x: _bad_cumsum()(x)),
        attrs=_scan_attrs,
    ),
    "planted_jax_square": Op(
        "planted_jax_square",
        "planted",
        lowering(numpy=lambda xp, z: z * z, torch=lambda xp, z: z * z, jax=lambda xp, z: _no_conj()(z)),
        complex_ok=True,
        real_ok=False,
    ),
    "planted_numpy_sin": Op(
        "planted_numpy_sin",
        "planted",
        lowering(numpy=lambda xp, x: np.sin(x) + 0.01 * x, torch=lambda xp, x: xp.m.sin(x), jax=lambda xp, x: xp.m.sin(x)),
    ),
    "planted_torch_broadcast_mul": Op(
        "planted_torch_broadcast_mul",
        "planted",
        lowering(npjax=lambda xp, a, b: a * b, torch=lambda xp, a, b: _bad_bcast()(a, b)),
        arity=2,
        shape=lambda shapes, attrs: tuple(np.broadcast_shapes(*shapes)),
        operands=lambda draw, s: [tuple(s), tuple(1 if i == 0 else v for i, v in enumerate(s))],
    ),
}


@contextlib.contextmanager
def planted(*names: str):
    """Register planted ops for the duration of a ``with`` block."""
    for name in names:
        OPS[name] = PLANTED[name]
    try:
        yield
    finally:
        for name in names:
            OPS.pop(name, None)
