"""The functions the bench times."""

from __future__ import annotations

import numpy as np


def bench_function(xp):
    """f(x) = cumsum(x·sin x): elementwise work and a dense lower-triangular Jacobian."""
    return lambda x: xp.cumsum(x * xp.sin(x), 0)


def exact_vjp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """vᵀJ of cumsum(x·sin x): the reverse cumulative sum of v times (sin x + x·cos x)."""
    return np.cumsum(v[::-1])[::-1] * (np.sin(x) + x * np.cos(x))


def torch_sin_wrong_scale():
    """A custom rule whose backward is twice too large: wrong in every example."""
    import torch

    class SinWrongScale(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return torch.sin(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * torch.cos(x) * g

    return SinWrongScale.apply


def jax_sin_wrong_scale():
    """The same bug as a ``jax.custom_vjp``."""
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def sin(x):
        return jnp.sin(x)

    sin.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (2 * jnp.cos(x) * g,))
    return sin
