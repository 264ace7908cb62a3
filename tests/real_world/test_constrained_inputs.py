"""Issue 14, item 3: constrained inputs come from public strategies, not hand-written hooks.

A hand-written linear solve drawn on well-conditioned matrices, and functions of rotations,
unit quaternions, simplex points, sorted and distinct values and masks; the planted
mutation (the gradient of A transposed) is caught with a minimal case."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import vjpcheck
from real_world import Solve, SolveWrongAxis
from vjpcheck import strategies as S


def test_a_solve_on_well_conditioned_matrices_passes_with_defaults():
    summary = vjpcheck.verify(Solve.apply, S.well_conditioned("n,n"), S.tensor("n"))
    assert summary.counts["pass"] >= 0.9 * summary.examples, summary


def test_a_solve_with_the_gradient_of_a_transposed_is_caught_minimal():
    with pytest.raises(vjpcheck.VJPMismatch) as found:
        vjpcheck.verify(SolveWrongAxis.apply, S.well_conditioned("n,n"), S.tensor("n"))
    assert found.value.verdict.case["args"][0]["shape"] == [2, 2]  # transposition needs two rows


def test_functions_of_rotations_quaternions_and_simplex_points_pass():
    def quaternion_to_matrix(q):  # the rotation of a unit quaternion (normalises it again, as libraries do)
        q = q / q.norm(dim=-1, keepdim=True)
        w, x, y, z = q.unbind(-1)
        rows = [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    vjpcheck.verify(quaternion_to_matrix, S.quaternion(batch="b"))
    vjpcheck.verify(lambda r, v: r @ v, S.rotation(3, batch="b"), S.tensor("b,3,k"))
    vjpcheck.verify(lambda p: -(p * torch.log(p.clamp(min=1e-30))).sum(-1), S.simplex("b, n>=1"), min_checked=0.3)


@settings(max_examples=60, database=None, deadline=None)
@given(
    S.well_conditioned("m,n", max_cond=20.0),
    S.orthogonal("k,j"),
    S.rotation(2, batch="b"),
    S.quaternion(),
    S.unit_vector("u", dtype="complex"),
    S.simplex("s"),
    S.sorted_values("t"),
    S.distinct("d", min_gap=0.5),
    S.mask("s"),
)
def test_each_strategy_draws_what_it_promises(wc, orth, rot, quat, unit, simplex, ordered, apart, mask):
    if wc.values.size:
        assert np.all(np.linalg.cond(wc.values) <= 20.0 * (1 + 1e-5))
    if orth.values.size:
        q = orth.values
        assert q.shape[-2] >= q.shape[-1] and np.allclose(q.T.conj() @ q, np.eye(q.shape[-1]), atol=1e-5)
    if rot.values.size:
        assert np.allclose(np.linalg.det(rot.values), 1.0, atol=1e-5)
    assert np.isclose(np.linalg.norm(quat.values), 1.0, atol=1e-6)
    if unit.values.size:
        assert unit.dtype.startswith("complex") and np.isclose(np.linalg.norm(unit.values), 1.0, atol=1e-5)
    if simplex.values.size:
        assert np.all(simplex.values >= 0) and np.isclose(simplex.values.sum(), 1.0, atol=1e-5)
    assert np.all(np.diff(ordered.values) >= 0)
    if apart.values.size > 1:
        assert np.min(np.diff(np.sort(apart.values))) >= 0.5 * (1 - 1e-3)
    assert mask.dtype == "bool" and mask.values.dtype == np.bool_ and mask.values.shape == simplex.values.shape


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="max_cond must be >= 1"):
        S.well_conditioned("n,n", max_cond=0.5)
    with pytest.raises(ValueError, match="rotation draws real values only"):
        S.rotation(3, dtype="complex")
    with pytest.raises(ValueError, match="orthogonal needs at least 2 dimension"):
        S.orthogonal("n")
    with pytest.raises(ValueError, match="distinct needs min_gap > 0|min_gap must be > 0"):
        S.distinct("n", min_gap=0)
    with pytest.raises(TypeError, match="sets its own transform"):
        S.simplex("n", transform=np.abs)


def test_the_op_registry_shares_the_constraint_predicates():
    from vjpcheck import constraints
    from vjpcheck.programs import registry

    assert registry._cond_ok is constraints.condition_below
    assert registry.distinct(np.array([0.0, 1.0])) and not registry.distinct(np.array([1.0, 1.0]))
