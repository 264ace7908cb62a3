"""Issue 14, item 5: deliberately non-gradient backwards are declared with gradient_of.

Straight-through estimators (round forward; identity, or clipped, backward) in PyTorch
and JAX: the backward must equal the VJP of the declared function, with finite
differences of that function as the referee. Planted mutations are caught minimal."""

from __future__ import annotations

import pytest
import torch

import vjpcheck
from real_world import RoundClippedStraightThrough, RoundStraightThrough, RoundStraightThroughHalved, jax_round_ste, jax_round_ste_negated
from vjpcheck.strategies import tensor


def test_a_straight_through_estimator_is_a_mismatch_without_the_declaration():
    x = torch.tensor([0.3, 1.2, -2.4], dtype=torch.float64)
    assert vjpcheck.check_vjp(RoundStraightThrough.apply, x).status == "mismatch"


def test_straight_through_estimators_pass_against_their_declared_gradient():
    vjpcheck.verify(RoundStraightThrough.apply, tensor("n"), gradient_of=lambda x: x)
    vjpcheck.verify(RoundClippedStraightThrough.apply, tensor("n"), gradient_of=lambda x: x.clamp(-1, 1))
    vjpcheck.verify(jax_round_ste, tensor("n"), gradient_of=lambda x: x)


@pytest.mark.parametrize("fn", [RoundStraightThroughHalved.apply, jax_round_ste_negated], ids=["torch-halved", "jax-negated"])
def test_a_wrong_surrogate_is_caught_minimal(fn):
    with pytest.raises(vjpcheck.VJPMismatch) as found:
        vjpcheck.verify(fn, tensor("n"), gradient_of=lambda x: x)
    verdict = found.value.verdict
    assert verdict.case["args"][0]["shape"] == [1]
    assert any(o.name.endswith(".gradient_of") and o.ok for o in verdict.oracles)
    assert "gradient_of=gradient_of_fn" in verdict.reproducer and "gradient_of_fn = lambda x: x" in verdict.reproducer


def test_the_declared_function_must_match_the_outputs():
    with pytest.raises(ValueError, match="gradient_of=.* must return outputs shaped like the function's"):
        vjpcheck.check_vjp(RoundStraightThrough.apply, torch.ones(3, dtype=torch.float64), gradient_of=lambda x: x.sum())
    with pytest.raises(ValueError, match="gradient_of and reference"):
        vjpcheck.check_vjp(RoundStraightThrough.apply, torch.ones(3, dtype=torch.float64), gradient_of=lambda x: x, reference=lambda x: x)
