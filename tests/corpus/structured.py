"""Real-world-style functions whose inputs and outputs are pytrees or keywords, each correct
and with a planted mutation of its backward (issue 14, item 8):

* a dense layer whose parameters are a registered dataclass (an equinox / flax module
  in miniature), with a ``jax.custom_vjp``;
* a damped gradient step in the optimistix / jaxopt style, ``step(params, *, args=(x, M),
  config)`` with a hand-written PyTorch backward, returning a named tuple ``Step`` like
  jaxopt's ``OptStep``;
* a masked attention score with its parameters in a dict and a boolean mask.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import torch

# ---- a dense layer with registered-dataclass parameters (JAX) ----------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Dense:
    w: jax.Array  # (n, k)
    b: jax.Array  # (n,)


def _dense_forward(layer: Dense, x):
    return jnp.tanh(layer.w @ x + layer.b)


@jax.custom_vjp
def dense(layer: Dense, x):
    return _dense_forward(layer, x)


def _dense_fwd(layer, x):
    y = _dense_forward(layer, x)
    return y, (layer, x, y)


def _dense_bwd(residuals, g):
    layer, x, y = residuals
    d = g * (1 - y**2)
    return Dense(w=jnp.outer(d, x), b=d), layer.w.T @ d


dense.defvjp(_dense_fwd, _dense_bwd)


@jax.custom_vjp
def dense_forgets_tanh_for_w(layer: Dense, x):
    return _dense_forward(layer, x)


def _dense_bwd_mutated(residuals, g):
    """Mutation: the weight's gradient leaves out tanh's derivative (g xᵀ for d xᵀ)."""
    layer, x, y = residuals
    d = g * (1 - y**2)
    return Dense(w=jnp.outer(g, x), b=d), layer.w.T @ d


dense_forgets_tanh_for_w.defvjp(_dense_fwd, _dense_bwd_mutated)


# ---- a damped gradient step with keyword arguments (PyTorch) ------------------------------


class Step(NamedTuple):
    """What an optimiser step returns, as jaxopt's ``OptStep``: new parameters and a state."""

    params: torch.Tensor
    residual: torch.Tensor


class _DampedStep(torch.autograd.Function):
    """z = p − lr·(M p − x) / (1 + ‖M p − x‖²), with a hand-written backward."""

    generate_vmap_rule = True

    @staticmethod
    def forward(p, x, m, lr):
        r = m @ p - x
        return p - lr * r / (1 + (r * r).sum(-1, keepdim=True)), (r * r).sum(-1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        p, x, m, lr = inputs
        ctx.lr = lr
        ctx.save_for_backward(p, x, m)

    @staticmethod
    def backward(ctx, gz, gs):
        p, x, m = ctx.saved_tensors
        lr = ctx.lr
        r = m @ p - x
        q = 1 + (r * r).sum(-1, keepdim=True)
        u = r / q  # bounded, where r rᵀ / q² would overflow
        # z = p − lr·r/q:  dz/dr = −lr (I/q − 2 u uᵀ);  s = ‖r‖²: ds/dr = 2 r
        gr = -lr * (gz / q - 2 * u * (u * gz).sum(-1, keepdim=True)) + 2 * r * gs[..., None]
        return gz + m.mT @ gr, -gr, gr[..., :, None] * p[..., None, :], None


class _DampedStepWithoutTranspose(_DampedStep):
    """Mutation: the gradient of p goes through M instead of Mᵀ (right for symmetric M only)."""

    @staticmethod
    def backward(ctx, gz, gs):
        gp, gx, gm, _ = _DampedStep.backward(ctx, gz, gs)
        p, x, m = ctx.saved_tensors
        gr = -gx
        return gz + m @ gr, gx, gm, None


def damped_step(params, *, args, config):
    """``params`` a dict {"p": …}; ``args`` = (x, M); ``config`` = {"lr": float} (static)."""
    x, m = args
    z, s = _DampedStep.apply(params["p"], x, m, config["lr"])
    return Step(params=z, residual=s)


def damped_step_without_transpose(params, *, args, config):
    x, m = args
    z, s = _DampedStepWithoutTranspose.apply(params["p"], x, m, config["lr"])
    return Step(params=z, residual=s)


# ---- masked attention scores, parameters in a dict (PyTorch) ------------------------------


class _MaskedSoftmax(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(scores, mask):
        return torch.softmax(scores.masked_fill(~mask, -1e9), -1)

    @staticmethod
    def setup_context(ctx, inputs, p):
        ctx.save_for_backward(p, inputs[1])

    @staticmethod
    def backward(ctx, g):
        # masked scores were replaced by a constant: no gradient reaches them, also in a
        # row masked entirely, whose softmax is uniform (vjpcheck found that case missing)
        p, mask = ctx.saved_tensors
        return (p * (g - (p * g).sum(-1, keepdim=True))).masked_fill(~mask, 0), None


class _MaskedSoftmaxNoRowSum(_MaskedSoftmax):
    """Mutation: the row sum ⟨p, g⟩ taken over the whole matrix instead of each row."""

    @staticmethod
    def backward(ctx, g):
        p, mask = ctx.saved_tensors
        return (p * (g - (p * g).sum())).masked_fill(~mask, 0), None


def attention(params, x, mask):
    """softmax((x W_q)(x W_k)ᵀ) over the unmasked keys; ``params`` = {"wq": …, "wk": …}."""
    scores = (x @ params["wq"]) @ (x @ params["wk"]).mT
    return _MaskedSoftmax.apply(scores, mask)


def attention_no_row_sum(params, x, mask):
    scores = (x @ params["wq"]) @ (x @ params["wk"]).mT
    return _MaskedSoftmaxNoRowSum.apply(scores, mask)
