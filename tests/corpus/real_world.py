"""Small versions of what real libraries hand-write gradients for, each correct and with a
planted mutation of its backward: a linear solve, a top eigenvector, straight-through
estimators, a fixed-point layer (PyTorch and JAX) and a bisection-based simplex
projection (sparsemax). tests/real_world checks them through vjpcheck's public API."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import torch

# ---- a linear solve: x = A⁻¹ b ------------------------------------------------------------


class Solve(torch.autograd.Function):
    generate_vmap_rule = True
    @staticmethod
    def forward(a, b):
        return torch.linalg.solve(a, b)

    @staticmethod
    def setup_context(ctx, inputs, x):
        ctx.save_for_backward(inputs[0], x)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gb = torch.linalg.solve(a.mT, g)
        return -gb[..., :, None] * x[..., None, :], gb


class SolveWrongAxis(Solve):
    """Mutation: the gradient of A transposed (gb xᵀ written as x gbᵀ)."""

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gb = torch.linalg.solve(a.mT, g)
        return -x[..., :, None] * gb[..., None, :], gb


# ---- the eigenvector of the largest eigenvalue (defined up to sign) -----------------------


class TopEigenvector(torch.autograd.Function):
    """v of the largest eigenvalue of a symmetric A (its sign is whatever eigh returns)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a):
        return torch.linalg.eigh(a)[1][..., -1]

    @staticmethod
    def setup_context(ctx, inputs, v):
        w, vectors = torch.linalg.eigh(inputs[0])
        ctx.save_for_backward(w, vectors)

    @staticmethod
    def backward(ctx, g):
        w, vectors = ctx.saved_tensors
        gap = w[..., -1:] - w[..., :-1]  # λₙ − λⱼ, j < n
        others = vectors[..., :, :-1]
        coefficients = (others.mT @ g[..., :, None])[..., 0] / gap  # (Vⱼᵀ g) / (λₙ − λⱼ)
        dv = others @ coefficients[..., :, None]  # Σⱼ … Vⱼ
        ga = dv * vectors[..., None, :, -1]  # dv vₙᵀ
        return (ga + ga.mT) / 2  # A is symmetric: the symmetric part


class TopEigenvectorWrongSign(TopEigenvector):
    """Mutation: divides by λⱼ − λₙ."""

    @staticmethod
    def backward(ctx, g):
        return -TopEigenvector.backward(ctx, g)


def symmetric_from(q: torch.Tensor, eigenvalues: torch.Tensor) -> torch.Tensor:
    """Q diag(λ) Qᵀ: a symmetric matrix with the given (distinct) eigenvalues."""
    return (q * eigenvalues[..., None, :]) @ q.mT


# ---- straight-through estimators ----------------------------------------------------------


class RoundStraightThrough(torch.autograd.Function):
    """round(x) forward, identity backward: the gradient of x itself."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return torch.round(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        return g


class RoundClippedStraightThrough(RoundStraightThrough):
    """round(x) forward, the gradient of clamp(x, -1, 1) backward (a clipped STE)."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


class RoundStraightThroughHalved(RoundStraightThrough):
    """Mutation: half the declared gradient."""

    @staticmethod
    def backward(ctx, g):
        return g / 2


@jax.custom_vjp
def jax_round_ste(x):
    return jnp.round(x)


jax_round_ste.defvjp(lambda x: (jnp.round(x), None), lambda _, g: (g,))


@jax.custom_vjp
def jax_round_ste_negated(x):
    return jnp.round(x)


jax_round_ste_negated.defvjp(lambda x: (jnp.round(x), None), lambda _, g: (-g,))


# ---- a fixed-point layer: z = tanh(a·z + x), solved by iteration to SOLVER_TOL -----------
SOLVER_TOL = 1e-7
CONTRACTION = 0.5


def _iterate(x, step, stop):
    z = x * 0
    for _ in range(1000):
        new = step(z, x)
        if stop(new, z):
            return new
        z = new
    return z


class FixedPoint(torch.autograd.Function):
    """Forward by iteration; backward by the implicit function theorem:
    dz = D (a dz + dx), D = diag(1 − z²)  ⇒  x̄ = D (I − a D)⁻¹ z̄ (elementwise here)."""

    @staticmethod
    def forward(x):
        return _iterate(x, lambda z, x: torch.tanh(CONTRACTION * z + x), lambda new, z: bool((new - z).abs().max() < SOLVER_TOL) if z.numel() else True)

    @staticmethod
    def setup_context(ctx, inputs, z):
        ctx.save_for_backward(z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        d = 1 - z**2
        return g * d / (1 - CONTRACTION * d)


class FixedPointUnrolledOnce(FixedPoint):
    """Mutation: the backward of one iteration (drops (I − a D)⁻¹)."""

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * (1 - z**2)


def _jax_fixed_point_forward(x):
    def cond(state):
        z, previous, k = state
        return (k < 1000) & (jnp.max(jnp.abs(z - previous), initial=0.0) >= SOLVER_TOL)

    def body(state):
        z, _, k = state
        return jnp.tanh(CONTRACTION * z + x), z, k + 1

    first = jnp.tanh(x)
    z, _, _ = jax.lax.while_loop(cond, body, (first, jnp.zeros_like(x), 0))
    return z


def _make_jax_fixed_point(unrolled_once: bool):
    @jax.custom_vjp
    def fixed_point(x):
        return _jax_fixed_point_forward(x)

    def fwd(x):
        z = _jax_fixed_point_forward(x)
        return z, z

    def bwd(z, g):
        d = 1 - z**2
        return (g * d,) if unrolled_once else (g * d / (1 - CONTRACTION * d),)

    fixed_point.defvjp(fwd, bwd)
    return fixed_point


jax_fixed_point = _make_jax_fixed_point(unrolled_once=False)
jax_fixed_point_unrolled_once = _make_jax_fixed_point(unrolled_once=True)


# ---- sparsemax by bisection: the Euclidean projection onto the simplex ---------------------


def _threshold_by_bisection(x: torch.Tensor) -> torch.Tensor:
    """τ with Σ max(x − τ, 0) = 1 along the last dim, by 200 bisection steps."""
    lo = x.max(dim=-1, keepdim=True).values - 1
    hi = x.max(dim=-1, keepdim=True).values
    for _ in range(200):
        mid = (lo + hi) / 2
        over = (x - mid).clamp(min=0).sum(dim=-1, keepdim=True) > 1
        lo, hi = torch.where(over, mid, lo), torch.where(over, hi, mid)
    return (lo + hi) / 2


class SparsemaxBisect(torch.autograd.Function):
    """p = max(x − τ, 0); backward: on the support S, g − mean_S(g) (zero off it)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return (x - _threshold_by_bisection(x)).clamp(min=0)

    @staticmethod
    def setup_context(ctx, inputs, p):
        ctx.save_for_backward(p)

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_tensors
        support = (p > 0).to(g.dtype)  # empty where x is so large that x − τ rounds to 0
        mean = (g * support).sum(dim=-1, keepdim=True) / support.sum(dim=-1, keepdim=True).clamp(min=1)
        return support * (g - mean)


class SparsemaxBisectNoMean(SparsemaxBisect):
    """Mutation: forgets the mean over the support (what AD of the bisection forward gives)."""

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_tensors
        return g * (p > 0).to(g.dtype)
