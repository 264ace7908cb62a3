"""Correct functions evaluated at their kinks, ties and jumps are never called mismatches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import vjpcheck
from vjpcheck.strategies import tensor

TORCH_KINKED = {
    "relu": torch.relu,
    "abs": torch.abs,
    "amax": lambda x: torch.amax(x, dim=-1),
    "max": lambda x: torch.max(x),
    "max_dim": lambda x: torch.max(x, dim=-1),  # (values, indices): indices not differentiated
    "clamp": lambda x: torch.clamp(x, -0.5, 0.5),
    "floor": torch.floor,
    "round_mix": lambda x: torch.round(x) * x,
    "sort": lambda x: torch.sort(x, dim=-1).values,
    "maximum": lambda x: torch.maximum(x, x.flip(-1)),
    "hardtanh": torch.nn.functional.hardtanh,
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.1),
    "relu_sum": lambda x: torch.relu(x).sum() * x,
    "abs_norm": lambda x: x.abs().sum(-1),
    "median": lambda x: torch.median(x),
}

JAX_KINKED = {
    "relu": jax.nn.relu,
    "abs": jnp.abs,
    "max": lambda x: jnp.max(x, axis=-1),
    "clip": lambda x: jnp.clip(x, -0.5, 0.5),
    "floor": jnp.floor,
    "sort": lambda x: jnp.sort(x, axis=-1),
    "maximum": lambda x: jnp.maximum(x, x[..., ::-1]),
    "round_mix": lambda x: jnp.round(x) * x,
}

KINK_POINTS = np.array([[0.0, 0.0, 1.0, -1.0], [0.5, 0.5, -0.5, 2.0], [3.0, 3.0, 3.0, 0.0]])


@pytest.mark.parametrize("name", sorted(TORCH_KINKED))
def test_torch_kinks_at_kink_points(name):
    x = torch.tensor(KINK_POINTS, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(TORCH_KINKED[name], x)
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


@pytest.mark.parametrize("name", sorted(JAX_KINKED))
def test_jax_kinks_at_kink_points(name):
    with jax.enable_x64(True):
        x = jnp.asarray(KINK_POINTS)
    verdict = vjpcheck.check_vjp(JAX_KINKED[name], x)
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


def test_relu_at_zero_is_skipped_with_reason():
    verdict = vjpcheck.check_vjp(torch.relu, torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64))
    assert verdict.status == "skipped"
    assert "arg0[0]" in verdict.reasons[0] and "non-smooth" in verdict.reasons[0]


def test_floor_jump_detected():
    verdict = vjpcheck.check_vjp(torch.floor, torch.tensor([1.0, 0.3], dtype=torch.float64))
    assert verdict.status == "skipped" and "jump" in verdict.reasons[0], verdict.explain()


def test_relu_away_from_kink_passes():
    verdict = vjpcheck.check_vjp(torch.relu, torch.tensor([0.3, 1.0, -2.0, 1e-5], dtype=torch.float64))
    assert verdict.status == "pass", verdict.explain()


def test_consistency_still_checked_at_kinks():
    """At a kink, reverse-mode oracles of one rule must still agree with each other."""

    class NonlinearInV(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.relu(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (x > 0) * g * g.abs()  # not linear in g: jacobian rows disagree with vjp(v)

    x = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    v = torch.tensor([3.0, 2.0, 0.5], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(NonlinearInV.apply, x, v=v)
    assert verdict.status == "mismatch", verdict.explain()


VALUES = st.sampled_from([0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0, 0.25, -2.5])


@given(arrays(np.float64, (2, 3), elements=VALUES), st.sampled_from(sorted(TORCH_KINKED)))
def test_torch_kinks_never_mismatch_on_tie_heavy_values(values, name):
    verdict = vjpcheck.check_vjp(TORCH_KINKED[name], torch.tensor(values))
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


@given(arrays(np.float64, (2, 3), elements=VALUES), st.sampled_from(sorted(JAX_KINKED)))
def test_jax_kinks_never_mismatch_on_tie_heavy_values(values, name):
    with jax.enable_x64(True):
        x = jnp.asarray(values)
    verdict = vjpcheck.check_vjp(JAX_KINKED[name], x)
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


def test_joint_nondifferentiability_is_skipped_not_mismatched():
    """Every partial of median(0, …, 0) is 0, yet the slope along (1, …, 1) is 1."""
    verdict = vjpcheck.check_vjp(torch.median, torch.zeros(2, 3, dtype=torch.float64))
    assert verdict.status == "skipped", verdict.explain()
    assert "jointly" in verdict.reasons[0]


def test_joint_test_keeps_smooth_functions_checked():
    x = torch.randn(3, 3, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(lambda a: torch.tanh(a @ a.mT).sum(), x)
    assert verdict.status == "pass", verdict.explain()


def test_nan_at_a_kink_is_still_a_finding():
    """relu'(0) may be 0 or 1 by convention, never NaN: every subgradient is finite."""

    class ReluNaN(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.relu(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * torch.where(x == 0, torch.nan, (x > 0).to(g.dtype))

    verdict = vjpcheck.check_vjp(ReluNaN.apply, torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64))
    assert "non-finite" in verdict.finding_kinds(), verdict.explain()


def test_infinite_slope_at_a_jump_is_not_a_finding():
    verdict = vjpcheck.check_vjp(lambda x: torch.sqrt(x.abs()), torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert verdict.status == "skipped", verdict.explain()


def test_a_smooth_function_at_large_values_is_not_a_kink():
    """logsumexp([1e4, 1e4 + 0.5, 1e4 − 1]): a step of 2⁻¹⁰·|x| ≈ 10 straddles its
    curvature and looked like a kink (a false skip); a suspected kink is now retried at
    smaller steps, and the joint test moves each entry by the step its partial used."""
    import torch

    import vjpcheck

    x = torch.tensor([1e4, 1e4 + 0.5, 1e4 - 1], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(lambda t: torch.logsumexp(t, 0), x, framework="torch")
    assert verdict.status == "pass", verdict.explain()
    # a real kink stays a kink at every step
    relu = vjpcheck.check_vjp(torch.relu, torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert relu.status == "skipped" and "arg0[0]" in relu.reasons[0]


class GateNaNAtZero(torch.autograd.Function):
    """y = x[1:]·[x[0] > 0]: a jump along x[0] at 0, where the backward returns NaN for
    every entry by design (as kornia's null space does at X = 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x[1:] * (x[0] > 0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if x[0] == 0:
            return torch.full_like(x, float("nan"))
        return torch.cat([torch.zeros(1, dtype=x.dtype), g * (x[0] > 0)])


def test_a_jump_along_one_entry_excludes_every_entry_jointly():
    """Issue 14, item 7: at a jump the function is not continuous, so no entry of vᵀJ is
    defined; judged one coordinate at a time, x[1:] (slope 0 along their own axes) were
    held to be finite and this was a mismatch with a non-finite finding."""
    verdict = vjpcheck.check_vjp(GateNaNAtZero.apply, torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64))
    assert verdict.status == "skipped" and not verdict.findings, verdict.explain()
    assert "jumps at this point (along arg0[0])" in verdict.reasons[0]
    away = vjpcheck.check_vjp(GateNaNAtZero.apply, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64))
    assert away.status == "pass", away.explain()


def test_a_wrong_rule_beside_a_jump_is_still_caught_where_the_function_is_continuous():
    class GateWrong(GateNaNAtZero):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return torch.cat([torch.zeros(1, dtype=x.dtype), 2 * g * (x[0] > 0)])

    with pytest.raises(vjpcheck.VJPMismatch) as found:
        vjpcheck.verify(GateWrong.apply, tensor("n>=2"))
    assert found.value.verdict.case["args"][0]["values"][0] != 0
