"""Probe mode: random directions instead of one column per coordinate, with a stated
miss probability; full mode still localises the wrong entries."""

import math

import numpy as np
import pytest
import torch

import planted_torch
import vjpcheck
from vjpcheck._engine.probe import detectable_error, miss_probability


def test_miss_probability_is_the_gaussian_small_ball():
    # one probe, tolerance 1, error norm 1: |Z| <= 1 for a standard normal Z
    assert miss_probability([(1.0, 1.0)], 1.0) == pytest.approx(math.erf(1 / math.sqrt(2)))
    # independent probes multiply; larger errors are missed less often
    assert miss_probability([(1.0, 1.0)] * 3, 1.0) == pytest.approx(math.erf(1 / math.sqrt(2)) ** 3)
    assert miss_probability([(1.0, 1.0)], 10.0) < miss_probability([(1.0, 1.0)], 1.0)
    size = detectable_error([(1.0, 1.0)] * 3, 1e-6)
    assert miss_probability([(1.0, 1.0)] * 3, size) <= 1e-6 < miss_probability([(1.0, 1.0)] * 3, size * 0.99)


def test_miss_probability_matches_simulation():
    """The formula against Monte Carlo: random errors of a fixed norm, random probes."""
    rng = np.random.default_rng(0)
    n, tol, norm, k = 50, 0.8, 1.0, 2
    trials = 20000
    delta = rng.standard_normal(n)
    delta *= norm / np.linalg.norm(delta)
    u = rng.standard_normal((trials, k, n))
    missed = np.all(np.abs(u @ delta) <= tol, axis=1).mean()
    assert missed == pytest.approx(miss_probability([(tol, 1.0)] * k, norm), abs=0.01)


@pytest.mark.parametrize(
    "bug,shape", [(planted_torch.SinWrongScale, (6000,)), (planted_torch.CumsumWrongAxis, (60, 100))], ids=["scale", "axis"]
)
def test_probe_mode_catches_planted_bugs_at_large_n(bug, shape):
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    verdict = vjpcheck.check_vjp(bug.apply, x)
    assert verdict.status == "mismatch", verdict.explain()
    assert verdict.oracles[0].probe
    assert "finite_differences" in {c.got for c in verdict.comparisons if not c.passed}


def test_probe_mode_passes_a_correct_function_and_states_its_guarantee():
    x = torch.randn(6000, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    verdict = vjpcheck.check_vjp(lambda a: torch.cumsum(torch.tanh(a) * a, 0), x)
    assert verdict.status == "pass", verdict.explain()
    per = verdict.probe["per_oracle"]["torch.backward"]
    assert per["probes"] == 5  # 3 finite-difference directions + 2 forward-mode tangents
    assert 0 < per["relative"] < 1e-2
    assert any("escapes all" in n for n in verdict.notes)
    assert verdict.to_dict()["probe"]["miss_probability"] == 1e-6


def test_probe_mode_on_complex_inputs():
    z = torch.randn(3000, dtype=torch.complex128, generator=torch.Generator().manual_seed(3))
    verdict = vjpcheck.check_vjp(lambda a: torch.exp(a) * a.conj(), z, mode="probe")
    assert verdict.status == "pass", verdict.explain()
    assert all(sigma == pytest.approx(math.sqrt(0.5)) for c in verdict.comparisons if c.kind == "projection" for _, sigma in c.probes)


def test_full_mode_localises_what_probe_mode_only_detects():
    class WrongAtOne(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            out = g * 3
            out[5] = 0.0
            return out

    x = torch.randn(40, dtype=torch.float64)
    probe = vjpcheck.check_vjp(WrongAtOne.apply, x, mode="probe", oracles=["finite_differences", "torch.backward"])
    assert probe.status == "mismatch"
    full = vjpcheck.check_vjp(WrongAtOne.apply, x, mode="full", oracles=["finite_differences", "torch.backward"])
    assert full.status == "mismatch"
    assert full.comparisons[0].worst[0].index == (5,)


def test_bad_mode_and_probes_are_named():
    with pytest.raises(ValueError, match="mode"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2, dtype=torch.float64), mode="fast")
    with pytest.raises(ValueError, match="probes"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2, dtype=torch.float64), probes=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_directions_regenerated_from_their_seed_are_the_ones_the_projections_used(dtype):
    """Probe and forward-mode directions are not held through a check (five of them are
    400 MB at 1e7 entries): each projection regenerates its direction when it is read, and
    ⟨v, A u⟩ of a linear map must come out of the very u that was used (rounded to the
    input's dtype for forward mode)."""
    rng = np.random.default_rng(0)
    A = torch.tensor(rng.standard_normal((7, 300)), dtype=dtype)
    x = torch.tensor(rng.standard_normal(300), dtype=dtype)
    v = torch.tensor(rng.standard_normal(7), dtype=dtype)
    verdict = vjpcheck.check_vjp(lambda x: A.to(x.dtype) @ x, x, v=v, mode="probe")
    assert verdict.status == "pass", verdict
    exact = (v.double() @ A.double()).numpy()
    for name in ("finite_differences", "torch.forward"):
        result = next(o for o in verdict.oracles if o.name == name)
        assert len(result.projections) >= 2
        for p in result.projections:
            (u,) = p.tangent_arrays()
            assert np.array_equal(u, p.tangent_arrays()[0])  # the same on every read
            if name == "torch.forward" and dtype == torch.float32:
                assert np.array_equal(u, u.astype(np.float32))  # what float32 forward mode saw
            assert p.value == pytest.approx(float(exact @ u), rel=1e-4 if dtype == torch.float32 else 1e-8)


def test_small_directions_are_kept_and_large_ones_regenerated_read_only():
    """Directions of a small input are generated once (a generator per read is most of a
    small check's probe cost); a large input's are regenerated at each read. Either way
    the arrays are read-only: every reader shares them."""
    from vjpcheck._engine.numeric import KEPT_DIRECTION_ENTRIES, Directions

    small = Directions(entropy=(1, 2), shapes=((3, 4),), complex_=(False,))
    assert small.arrays()[0] is small.arrays()[0]
    large = Directions(entropy=(1, 2), shapes=((KEPT_DIRECTION_ENTRIES + 1,),), complex_=(False,))
    first, again = large.arrays()[0], large.arrays()[0]
    assert first is not again and np.array_equal(first, again)
    for u in (small.arrays()[0], first):
        with pytest.raises(ValueError, match="read-only"):
            u[0] = 1.0
