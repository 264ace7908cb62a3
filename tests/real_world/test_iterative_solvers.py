"""Issue 14, items 6 and 9: iterative and implicit functions.

A fixed-point layer z = tanh(z/2 + x) solved by iteration to a tolerance, with an implicit
(IFT) backward, in PyTorch and JAX: with ``solver_tol`` it passes with no false alarm;
the mutation that backpropagates through one iteration only is caught. A sparsemax found
by bisection, whose AD through the loop is not its derivative, passes with the primal's
disagreement as a note; its mutation (exactly what AD of the loop gives) is caught."""

from __future__ import annotations

import pytest
import torch

import vjpcheck
from real_world import (
    SOLVER_TOL,
    FixedPoint,
    FixedPointUnrolledOnce,
    SparsemaxBisect,
    SparsemaxBisectNoMean,
    jax_fixed_point,
    jax_fixed_point_unrolled_once,
)
from vjpcheck.strategies import tensor


@pytest.mark.parametrize("fn", [FixedPoint.apply, jax_fixed_point], ids=["torch", "jax"])
def test_a_fixed_point_layer_passes_with_its_solver_tolerance(fn):
    summary = vjpcheck.verify(fn, tensor("n"), solver_tol=SOLVER_TOL)
    assert summary.counts["mismatch"] == 0 and summary.counts["pass"] >= 0.8 * summary.examples, summary


@pytest.mark.parametrize("fn", [FixedPointUnrolledOnce.apply, jax_fixed_point_unrolled_once], ids=["torch", "jax"])
def test_a_fixed_point_backward_through_one_iteration_is_caught_minimal(fn):
    with pytest.raises(vjpcheck.VJPMismatch) as found:
        vjpcheck.verify(fn, tensor("n"), solver_tol=SOLVER_TOL)
    assert found.value.verdict.case["args"][0]["shape"] in ([1], [2])  # one entry is enough; shrinking may stop at two


def test_without_solver_tol_a_tiny_disagreement_says_how_to_state_it():
    x = torch.tensor([0.375], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(FixedPoint.apply, x, v=torch.tensor([0.125], dtype=torch.float64))
    if verdict.status == "mismatch":  # the iteration's stopping point is off by about its tolerance
        assert any("solver_tol" in note for note in verdict.notes), verdict.explain()
    assert vjpcheck.check_vjp(FixedPoint.apply, x, solver_tol=SOLVER_TOL).status == "pass"


def test_a_noise_dominated_point_is_inconclusive_with_the_noise_level_never_a_mismatch():
    """Where the solver's noise swamps the derivative, finite differences cannot judge it."""
    x = torch.tensor([30.0], dtype=torch.float64)  # tanh saturated: a derivative of 1e-26
    verdict = vjpcheck.check_vjp(FixedPoint.apply, x, solver_tol=1e-3)
    assert verdict.status == "inconclusive", verdict.explain()
    assert "noisy" in verdict.reasons[0] and "0.001" in verdict.reasons[0]


def test_sparsemax_by_bisection_passes_and_the_loops_ad_is_only_a_note():
    summary = vjpcheck.verify(SparsemaxBisect.apply, tensor("b, n>=1"))
    assert summary.counts["mismatch"] == 0 and summary.counts["pass"] >= 0.8 * summary.examples, summary
    verdict = vjpcheck.check_vjp(SparsemaxBisect.apply, torch.tensor([0.1, 0.5, 0.3], dtype=torch.float64), primal="auto")
    assert verdict.status == "pass", verdict.explain()
    assert any("torch.primal (AD of the forward) disagrees" in note for note in verdict.notes)


def test_sparsemax_without_the_mean_is_caught_minimal():
    with pytest.raises(vjpcheck.VJPMismatch) as found:
        vjpcheck.verify(SparsemaxBisectNoMean.apply, tensor("b, n>=1"))
    assert found.value.verdict.case["args"][0]["shape"] in ([1, 1], [1])  # one entry: its mean is itself
