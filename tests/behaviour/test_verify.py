"""verify(): every planted bug is caught with default settings; every correct twin passes."""

import numpy as np
import pytest
import torch

import planted_jax as pj
import planted_torch as pt
import vjpcheck
from vjpcheck.strategies import bounded, index, tensor

# name → (argument specs, verify options); the same rules as the concrete-case catalogue
SPECS = {
    "wrong axis (cumsum)": (lambda: (tensor("m,n"),), {}),
    "missing conjugate (complex mul)": (lambda: (tensor("m,n", dtype="complex"), tensor("m,n", dtype="complex")), {}),
    "wrong broadcast reduction (mean)": (lambda: (tensor("m,n"), tensor("n")), {}),
    "missing broadcast reduction": (lambda: (tensor("m,n"), tensor("n")), {}),
    "transposed matmul gradient": (lambda: (tensor("m,k"), tensor("k,n")), {}),  # crashes unless square
    "wrong scale (sin)": (lambda: (tensor("n"),), {}),
    "writes into incoming gradient": (lambda: (tensor("n"),), {}),
    "crash on a size-1 dimension": (lambda: (tensor("n,k"), tensor("k,m")), {"wrt": (0,)}),
    "NaN at an exact zero": (lambda: (tensor("n"),), {}),
    "wrong only for non-contiguous input": (lambda: (tensor("m,n"),), {}),
    "wrong only for non-contiguous cotangent": (lambda: (tensor("m,n"),), {}),
    "wrong only at second order": (lambda: (tensor("n"),), {"order": 2}),
    "wrong only in forward mode": (lambda: (tensor("n", domain=bounded(-3, 3)),), {}),
    "wrong dtype (silently cast)": (lambda: (tensor("n"),), {}),
    "wrong only for non-square input": (lambda: (tensor("m,n"),), {}),
    "tie-dependent (unique-merged gradient)": (lambda: (tensor("n"),), {}),
    "duplicate indices lose gradient": (lambda: (tensor("n,k"), index("m", high="n")), {"wrt": (0,), "framework": "torch"}),
    "jax wrong axis (cumsum)": (lambda: (tensor("m,n"),), {}),
    "jax extra conjugate (complex mul)": (lambda: (tensor("m,n", dtype="complex"), tensor("m,n", dtype="complex")), {}),
    "jax wrong broadcast reduction (mean)": (lambda: (tensor("m,n"), tensor("n")), {}),
    "jax missing broadcast reduction": (lambda: (tensor("m,n"), tensor("n")), {}),
    "jax transposed matmul gradient": (lambda: (tensor("m,k"), tensor("k,n")), {}),
    "jax wrong scale (sin)": (lambda: (tensor("n"),), {}),
    "jax NaN at an exact zero": (lambda: (tensor("n"),), {}),
    "jax wrong only at second order": (lambda: (tensor("n"),), {"order": 2}),
    "jax wrong only for non-square input": (lambda: (tensor("m,n"),), {}),
    "jax wrong only at an exact zero (smooth point)": (lambda: (tensor("n"),), {}),
}
ALL = [p for p in pt.PLANTED + pj.PLANTED if p.name in SPECS]
# a wrong rule may show as wrong values on some shapes and as a crash on others
ALSO_ACCEPTED = {
    "transposed matmul gradient": {"oracle-error"},
    "jax transposed matmul gradient": {"oracle-error"},
    # 2·x·x/|x| is also wrong at tiny |x| (x·x underflows: 0 where the gradient is 2|x|·v,
    # e.g. 1.1e-187 at x = 4.5e-187): a second real defect, a mismatch, that a random or
    # replayed (example database) draw may reach before the NaN at 0
    "NaN at an exact zero": {"mismatch"},
    "jax NaN at an exact zero": {"mismatch"},
}
# JAX compiles per drawn shape and shrinking a JAX failure takes 10-130 s: these sweeps run
# in CI (slow); the development loop keeps their concrete-case twins (test_planted_bugs.py)
SLOW = {name for name in SPECS if name.startswith("jax ")} | {"missing broadcast reduction"}
PARAMS = [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW else []) for p in ALL]


def test_every_planted_bug_has_specs():
    assert len(ALL) == len(SPECS) >= 20


@pytest.mark.parametrize("planted", PARAMS)
def test_verify_catches_planted_bug(planted):
    specs, options = SPECS[planted.name]
    with pytest.raises(vjpcheck.VJPMismatch) as info:
        vjpcheck.verify(planted.buggy, *specs(), seed=0, **options)
    verdict = info.value.verdict
    accepted = {planted.kind} | ALSO_ACCEPTED.get(planted.name, set())
    assert accepted & verdict.finding_kinds(), str(info.value)
    message = str(info.value)
    assert "arg0:" in message and "reproducer" in message  # the minimal case, spelled out


@pytest.mark.parametrize("planted", PARAMS)
def test_verify_passes_correct_twin(planted):
    specs, options = SPECS[planted.name]
    summary = vjpcheck.verify(planted.correct, *specs(), seed=0, **options)
    assert summary.counts["mismatch"] == 0 and summary.counts["error"] == 0
    assert summary.counts["pass"] > 0, str(summary)


def test_minimal_case_is_small():
    """Shrinking reaches the smallest case that still shows the bug."""
    with pytest.raises(vjpcheck.VJPMismatch) as info:
        vjpcheck.verify(pt.RowSumSquareOnly.apply, tensor("m,n"), seed=0)
    shape = info.value.verdict.case["args"][0]["shape"]
    assert sorted(shape) == [2, 3]  # 1×m and n×1 happen to be right; 2×3 is the smallest wrong


def test_summary_and_validation():
    summary = vjpcheck.verify(pt.SinRight.apply, tensor("n"), max_examples=10, seed=1)
    assert summary.examples >= 10 and "pass" in str(summary)
    with pytest.raises(ValueError, match="framework"):  # a function defined where neither framework is imported
        vjpcheck.verify(eval("lambda x: x", {}), tensor("n"))
    assert vjpcheck.verify(lambda x: x * 2, tensor("n"), max_examples=5).framework == "torch"  # this module imports torch only
    with pytest.raises(ValueError, match="one spec per argument"):
        vjpcheck.verify(pt.SinRight.apply)
    with pytest.raises(ValueError, match="unknown name"):
        vjpcheck.verify(pt.SinRight.apply, tensor("n"), oracles=["nope"])


def test_framework_inferred_from_plain_functions():
    from vjpcheck.frameworks import infer_framework

    assert infer_framework(lambda x: torch.sin(x)) == "torch"
    assert infer_framework(pj.sin_right) == "jax"
    import jax.numpy as jnp

    assert infer_framework(lambda x: jnp.sin(x)) == "jax"


def test_framework_inferred_through_the_library_a_lambda_calls():
    """``lambda M: roma.procrustes(M)``: the framework the called library imports."""
    import fake_libraries as lib
    from vjpcheck.frameworks import infer_framework

    rotations, solvers, both = lib.rotations, lib.solvers, lib.both
    assert infer_framework(lambda M: rotations.procrustes(M)) == "torch"
    assert infer_framework(lambda a: solvers.smooth(a)) == "jax"  # a package re-exporting a submodule
    smooth = solvers.smooth
    assert infer_framework(lambda a: smooth(a) * 2) == "jax"
    assert infer_framework(lambda a: both.f(a)) is None  # both: the user must say
    summary = vjpcheck.verify(lambda a: solvers.smooth(a), tensor("n", dtype="float64", min_side=1), max_examples=3, seed=0)
    assert summary.framework == "jax" and summary.counts["pass"] == 3
    with pytest.raises(ValueError, match="cannot tell whether .* is PyTorch or JAX .* the libraries it calls import both"):
        vjpcheck.verify(lambda a: both.f(a), tensor("n"))
    verdict = vjpcheck.check_vjp(lambda M: rotations.procrustes(M), np.eye(3) + 0.1 * np.arange(9.0).reshape(3, 3))
    assert verdict.framework == "torch" and verdict.status == "pass", verdict.explain()


def test_strategies_compose_with_plain_hypothesis():
    from hypothesis import given, settings

    @settings(max_examples=15, deadline=None)
    @given(tensor("m,n", framework="torch"), tensor("n,k", framework="torch"))
    def check(a, b):
        assert a.shape[1] == b.shape[0]
        vjpcheck.assert_vjp(torch.matmul, a, b)

    check()


def test_shrink_attempts_run_only_the_failures_oracles_and_the_minimal_case_meets_them_all(monkeypatch):
    """Once an example fails, shrinking keeps only that failure's oracles (and finite
    differences); the minimal case is then checked again with the whole default set."""
    from vjpcheck._engine import sweep

    seen = []
    check = sweep.check_with_options
    monkeypatch.setattr(sweep, "check_with_options", lambda fn, args, v, opts, kwargs=None: seen.append(opts.oracles) or check(fn, args, v, opts, kwargs))
    with pytest.raises(vjpcheck.VJPMismatch) as failure:
        vjpcheck.verify(pt.SinWrongScale.apply, tensor("n", dtype="float64", min_side=2), seed=0, max_examples=20)
    reduced = [o for o in seen if o is not None]
    assert reduced and set(reduced[0]) == {"finite_differences", "torch.backward", "torch.jacobian"}, reduced[:1]
    assert seen[-1] is None  # the minimal case, again with the default set
    assert {"finite_differences", "torch.backward", "torch.forward"} <= {o.name for o in failure.value.verdict.oracles}
    assert sweep.shrink_options(sweep.CheckOptions(), failure.value.verdict).oracles == reduced[0]


def test_a_verify_that_checked_too_little_raises_low_coverage_with_the_reasons():
    def f(x):
        return torch.log(x).sum() * torch.ones(2, dtype=x.dtype)

    with pytest.raises(vjpcheck.LowCoverage, match=r"only \d+ of 40 examples were checked .*\n.*the function value is not finite") as low:
        vjpcheck.verify(f, tensor("n", dtype="float64", min_side=1), max_examples=40, seed=0)
    assert low.value.summary.counts["skipped"] > 20
    summary = vjpcheck.verify(f, tensor("n", dtype="float64", min_side=1), max_examples=40, seed=0, min_checked=0)
    assert summary.counts["pass"] < 20  # accepted, as asked
    assert vjpcheck.verify(f, tensor("n", dtype="float64", min_side=1), max_examples=9, seed=0)  # too few to judge
    with pytest.raises(ValueError, match="min_checked must be a number between 0 and 1"):
        vjpcheck.verify(f, tensor("n"), min_checked=2)
    with pytest.raises(TypeError, match="min_checked must be a number"):
        vjpcheck.verify(f, tensor("n"), min_checked="half")


def _softmax_rejecting_empty(x):
    """A library function that refuses inputs outside its contract, as entmax does."""
    if x.shape[-1] == 0:
        raise ValueError("softmax over an empty dimension")
    return torch.softmax(x, -1)


def test_inputs_outside_the_contract_are_rejected_not_failures():
    spec = tensor("n, m", dtype="float64")
    with pytest.raises(vjpcheck.VJPMismatch, match="ValueError: softmax over an empty dimension"):
        vjpcheck.verify(_softmax_rejecting_empty, spec, max_examples=30, seed=0)
    summary = vjpcheck.verify(_softmax_rejecting_empty, spec, max_examples=30, seed=0, reject=ValueError)
    assert summary.examples == 30 and summary.counts["pass"] > 15 and not summary.counts["error"]
    assert summary.rejected and all(r.startswith("ValueError: softmax over an empty dimension") for r in summary.rejected)
    assert "rejected" in str(summary)
    # another exception type is still the function's error
    with pytest.raises(vjpcheck.VJPMismatch, match="ValueError"):
        vjpcheck.verify(_softmax_rejecting_empty, spec, max_examples=30, seed=0, reject=(KeyError,))
    with pytest.raises(TypeError, match="reject must be an exception type"):
        vjpcheck.verify(_softmax_rejecting_empty, spec, reject="ValueError")


def test_a_jax_function_rejecting_a_shape_at_trace_time_is_rejected_too():
    import jax.numpy as jnp

    def normalise(x):
        if x.shape[0] < 2:
            raise ValueError("needs at least two rows")
        return (x - x.mean(0)) / jnp.sqrt(1.0 + x.var(0))

    summary = vjpcheck.verify(normalise, tensor("n, m", dtype="float64"), max_examples=20, seed=0, reject=ValueError)
    assert summary.rejected and summary.counts["pass"] >= 10


def test_a_verify_whose_draws_are_mostly_rejected_fails_on_coverage_with_the_reasons():
    """Issue 14, item 7: rejections (reject=) compare nothing either. A function that takes
    only square matrices, drawn as any n×m: most draws are rejected, and the test must not
    be green on the few that passed (before, Hypothesis's own filter_too_much health check
    or a green summary of a handful of examples)."""
    import torch

    from vjpcheck.strategies import tensor

    def square_only(a):
        if a.shape[-1] != a.shape[-2] or a.shape[-1] < 2:
            raise ValueError("expects a square matrix of side >= 2")
        return torch.linalg.inv(a + 10 * torch.eye(a.shape[-1], dtype=a.dtype))

    with pytest.raises(vjpcheck.LowCoverage, match=r"(?s)rejected \d+× .*expects a square matrix.*fix: draw inputs inside the function's contract") as low:
        vjpcheck.verify(square_only, tensor("n, m", dtype="float64"), reject=ValueError, max_examples=30, seed=0)
    assert low.value.summary.rejected_total > low.value.summary.counts["pass"]
    fine = vjpcheck.verify(square_only, tensor("n>=2, n", dtype="float64"), reject=ValueError, max_examples=30, seed=0)
    assert fine.counts["pass"] >= 15
