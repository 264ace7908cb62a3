"""A pass means an independent reference checked it; anything less says so."""

import json
import os

import numpy as np
import planted_torch
import pytest
import torch

import vjpcheck


def test_agreement_among_one_frameworks_ad_methods_is_inconclusive():
    verdict = vjpcheck.check_vjp(torch.sin, torch.linspace(-1, 1, 5, dtype=torch.float64), oracles=["torch.backward", "torch.autograd.grad"])
    assert verdict.status == "inconclusive" and not verdict.passed
    assert "no independent reference" in verdict.reasons[0]
    assert "inconclusive: no independent reference" in verdict.explain()


def test_sort_of_8000_entries_without_finite_differences_is_not_a_pass():
    """Every probe direction crosses a tie or a kink of sort at this size: finite differences
    never run, and only PyTorch's own rules were compared (once reported as pass)."""
    x = torch.randn(8000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    verdict = vjpcheck.check_vjp(lambda t: torch.sort(t).values, x, framework="torch")
    assert verdict.status in ("inconclusive", "skipped"), verdict.explain()
    assert not verdict.passed


def test_a_pass_still_passes_with_finite_differences():
    verdict = vjpcheck.check_vjp(torch.sin, torch.linspace(-1, 1, 5, dtype=torch.float64))
    assert verdict.status == "pass", verdict.explain()


def test_a_twin_in_the_other_framework_is_an_independent_reference():
    import jax.numpy as jnp

    verdict = vjpcheck.check_vjp(torch.sin, torch.linspace(-1, 1, 5, dtype=torch.float64), twin=jnp.sin, oracles=["torch.backward", "jax.vjp"])
    assert verdict.status == "pass", verdict.explain()


def test_verify_counts_inconclusive_examples_apart():
    from vjpcheck.strategies import tensor

    summary = vjpcheck.verify(torch.tanh, tensor("n", dtype="float64", min_side=1), oracles=["torch.backward", "torch.func.vjp"], max_examples=5, seed=0)
    assert summary.counts["inconclusive"] == summary.examples and summary.counts["pass"] == 0
    assert "inconclusive: 5" in str(summary)


def test_a_function_returning_no_array_is_a_finding_not_an_exception():
    x = torch.linspace(-1, 1, 3, dtype=torch.float64)
    for fn in (lambda t: None, lambda t: {"y": 3}, lambda t: float(t.sum()), lambda t: (t.sin(), "done")):
        verdict = vjpcheck.check_vjp(fn, x, framework="torch")
        assert verdict.status == "error"
        assert [f.kind for f in verdict.findings] == ["forward-error"] and "outputs must be torch arrays" in verdict.findings[0].message


def test_randomness_inside_the_function_is_named_non_deterministic():
    """Once explained as 'not Lipschitz (a jump like floor/sign)'."""
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)
    for fn in (lambda t: torch.nn.functional.dropout(t, 0.5, training=True), lambda t: t + torch.randn_like(t)):
        verdict = vjpcheck.check_vjp(fn, x, framework="torch")
        assert verdict.status == "error"
        assert [f.kind for f in verdict.findings] == ["non-deterministic"], verdict.explain()
        assert "seed its randomness" in verdict.findings[0].message
    seeded = lambda t: t * torch.rand(t.shape, generator=torch.Generator().manual_seed(0), dtype=t.dtype)  # noqa: E731
    assert vjpcheck.check_vjp(seeded, x, framework="torch").status == "pass"


class CumsumXSinX(torch.autograd.Function):
    """cumsum(x · sin x) with a backward scaled by ``factor`` (1: right, 2: the bug)."""

    factor = 1.0

    @staticmethod
    def forward(x):
        return torch.cumsum(x * torch.sin(x), 0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        suffix = torch.flip(torch.cumsum(torch.flip(g, [0]), 0), [0])
        return cls.factor * suffix * (torch.sin(x) + x * torch.cos(x))


class CumsumXSinXTwice(CumsumXSinX):
    factor = 2.0


def test_float32_probe_mode_never_passes_a_2x_wrong_backward():
    """Probes of a float32 case had a bound of 640 × ‖vᵀJ‖ at n = 1e5: a 2× error passed.
    Now the rule runs in float64 too (checked by the probes under float64's bound) and the
    float32 result is compared with it entry by entry."""
    x = torch.randn(100_000, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    wrong = vjpcheck.check_vjp(CumsumXSinXTwice.apply, x)
    assert wrong.status == "mismatch", wrong.explain()
    right = vjpcheck.check_vjp(CumsumXSinX.apply, x)
    assert right.status == "pass", right.explain()
    assert any(o.name == "torch.float64" and o.ok for o in right.oracles)
    # the stated probe bound is the float64 stage's, not the float32 rule's loose one
    assert "compared entry by entry with the float64 stage" in right.probe["statement"]
    assert right.probe["statement"].startswith("probe mode: an error Δ in torch.float64's")


class Float32Only(CumsumXSinX):
    """A kernel that exists in float32 only: the float64 stage cannot run."""

    @staticmethod
    def forward(x):
        if x.dtype != torch.float32:
            raise TypeError("float32 only")
        return torch.cumsum(x * torch.sin(x), 0)


def test_loose_probes_alone_are_inconclusive():
    """Without the float64 stage, probes whose bound exceeds 0.1 × ‖vᵀJ‖ cannot make a pass."""
    x = torch.randn(100_000, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    verdict = vjpcheck.check_vjp(Float32Only.apply, x)
    assert verdict.status == "inconclusive", verdict.explain()
    assert "too loose" in verdict.reasons[0]
    assert any(o.name == "torch.float64" and o.status == "unavailable" for o in verdict.oracles)


def _hangs(x):
    import time

    while True:  # swallows ordinary exceptions, as real code sometimes does
        try:
            time.sleep(0.05)
        except Exception:  # noqa: BLE001
            pass


class HangingBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        while True:
            pass


def test_a_hung_forward_or_backward_ends_as_a_timeout_within_its_limit():
    import time

    x = torch.ones(3, dtype=torch.float64)
    for fn, where in ((_hangs, "running the forward"), (HangingBackward.apply, "in torch.backward")):
        start = time.monotonic()
        verdict = vjpcheck.check_vjp(fn, x, framework="torch", timeout=1.0)
        assert time.monotonic() - start < 5
        assert verdict.status == "error" and [f.kind for f in verdict.findings] == ["timeout"]
        assert where in verdict.findings[0].message
    assert torch.equal(x, torch.ones(3, dtype=torch.float64))


class DoubleWithHangingSecondOrder(torch.autograd.Function):
    """2x with a correct backward whose own backward (second order) never returns."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return HangingBackward.apply(g)


def test_a_second_order_timeout_keeps_the_first_orders_verdict():
    verdict = vjpcheck.check_vjp(DoubleWithHangingSecondOrder.apply, torch.ones(3, dtype=torch.float64), order=2, timeout=2.0)
    assert verdict.status == "pass", verdict.explain()
    second = verdict.children[0]
    assert second.label.startswith("second order") and [f.kind for f in second.findings] == ["timeout"]
    assert verdict.overall_status == "error"


def test_verify_stops_at_a_timeout_without_shrinking_it():
    import time

    from vjpcheck.strategies import tensor

    start = time.monotonic()
    try:
        vjpcheck.verify(HangingBackward.apply, tensor("n", dtype="float64"), timeout=1.0, max_examples=20, seed=0)
    except vjpcheck.VJPMismatch as failure:
        assert "not shrunk" in str(failure) and "[timeout]" in str(failure)
    else:
        raise AssertionError("a hung backward passed")
    assert time.monotonic() - start < 10


def test_outputs_pytorch_declares_non_differentiable_are_left_out():
    """native_layer_norm's mean and rstd do not require grad: finite differences saw them,
    autograd did not (mismatch ratios of 1e6)."""
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(*s, dtype=torch.float64, generator=g) for s in ((3, 4), (4,), (4,)))
    verdict = vjpcheck.check_vjp(lambda x, w, b: torch.native_layer_norm(x, [4], w, b, 1e-5), x, w, b, framework="torch")
    assert verdict.status == "pass", verdict.explain()
    assert any("outputs 1, 2" in n and "non-differentiable" in n for n in verdict.notes)


def test_a_silently_detached_function_is_still_caught():
    """Only declared-constant outputs beside differentiable ones are left out: a function
    whose every output lost its gradient is a bug."""
    import numpy as np

    x = torch.linspace(-1, 1, 4, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(lambda t: torch.from_numpy(np.sin(t.detach().numpy())), x, framework="torch")
    assert verdict.status in ("mismatch", "error"), verdict.explain()


def test_a_helper_methods_own_limitation_is_not_the_functions_error():
    """torch.autograd.functional.jacobian cannot stack a zero-element output, and the
    explicit Jacobian path trips on view_as_real storage offsets for std_mean of complex
    input: once 'error' of the op, now 'unavailable' while torch.autograd.grad ran."""
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    zero = vjpcheck.check_vjp(lambda t: (2 * t, t[:0]), x, framework="torch", oracles="all")
    assert zero.status == "pass", zero.explain()
    assert any(o.name == "torch.jacobian" and o.status == "unavailable" and "limitation" in o.message for o in zero.oracles)
    z = torch.randn(5, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    assert vjpcheck.check_vjp(lambda t: torch.std_mean(t), z, framework="torch", oracles="all").status == "pass"


def test_inputs_that_cannot_be_checked_are_a_clear_type_error_before_any_work():
    import pytest

    x = torch.randn(4, 4, dtype=torch.float64)
    cases = [
        (lambda: x.to_sparse_csr(), "sparse_csr tensors are not supported"),
        (lambda: x.to_sparse(), "sparse_coo tensors are not supported"),
        (lambda: torch.empty(3, device="meta", dtype=torch.float64), "meta tensors have no values"),
        (lambda: torch.randn(3, dtype=torch.complex64).to(torch.complex32), "complex32"),
    ]
    for make, message in cases:
        calls = []
        with _quiet():
            arg = make()
        with pytest.raises(TypeError, match=r"args\[0\]: .*" + message):
            vjpcheck.check_vjp(lambda t: calls.append(1) or t * 2, arg, framework="torch")
        assert calls == []  # nothing ran


def _quiet():
    """No warnings inside (PyTorch's beta warnings for sparse CSR and complex32)."""
    import contextlib
    import warnings

    @contextlib.contextmanager
    def quiet():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield

    return quiet()


def test_zero_tensor_gradients_at_second_order_do_not_escape():
    """slogdet and sgn give ZeroTensor gradients ("Cannot convert a ZeroTensor to numpy")."""
    a = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for fn in (torch.linalg.slogdet, torch.sgn):
        verdict = vjpcheck.check_vjp(fn, a, order=2, framework="torch")
        assert verdict.overall_status == "pass", verdict.explain()


def test_auto_mode_weighs_the_outputs_too():
    """outer(x, x) with 1024 inputs: 1e9 coordinate × output pairs took 121 s in full mode."""
    x = torch.randn(1024, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    verdict = vjpcheck.check_vjp(lambda a: torch.outer(a, a), x, framework="torch")
    fd = next(o for o in verdict.oracles if o.name == "finite_differences")
    assert fd.probe and verdict.status == "pass", verdict.explain()
    small = vjpcheck.check_vjp(lambda a: torch.outer(a, a), x[:64], framework="torch")
    assert not next(o for o in small.oracles if o.name == "finite_differences").probe


def test_a_failure_on_a_large_input_stays_short(tmp_path):
    """One failing check on 1e6 entries once made a 21 MB exception message (2e5 here)."""
    x = torch.randn(200_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    try:
        vjpcheck.assert_vjp(CumsumXSinXTwice.apply, x)
    except vjpcheck.VJPMismatch as failure:
        message, verdict = str(failure), failure.verdict
    else:
        raise AssertionError("a 2x wrong backward passed")
    assert len(message) < 5_000 and len(message.splitlines()) <= 40
    full = verdict.explain()
    assert len(full) < 50_000 and "reproducer: python " in full
    assert len(verdict.to_dict()["reproducer"]) < 1_000
    path = full.split("reproducer: python ", 1)[1].split()[0]
    with open(path) as fh:
        script = fh.read()
    # a short script; the exact values in an .npz beside it, which the script loads
    assert len(script) < 5_000 and "np.load(" in script, script
    side = np.load(path[: -len(".py")] + ".npz")
    assert any(np.array_equal(side[name], x.numpy()) for name in side.files)
    # the record a report keeps stays small too: an inconclusive 5e6-entry OpInfo sample
    # (grid_sampler_3d) once put 162 MB into the journal and 570 MB into the JSON report
    assert len(json.dumps(verdict.to_dict())) < 100_000
    from vjpcheck.report import record_from_verdict, write_reports

    model, paths = write_reports([record_from_verdict(verdict, "t::large")], str(tmp_path / "r.html"))
    assert model.totals["mismatch"] == 1 and os.path.getsize(paths["json"]) < 200_000
    assert "CumsumXSinXTwice" in open(paths["html"]).read()


def test_finite_differences_see_the_same_layout_as_autograd():
    """as_strided reads the storage: finite differences of a contiguous copy compared two
    different functions. The view's storage (offset 5 into a larger base) is kept now."""
    base = torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = base.clone()
    verdict = vjpcheck.check_vjp(lambda t: torch.as_strided(t, (2, 2), (1, 2), 6), base[5:15], framework="torch")
    assert verdict.status == "pass", verdict.explain()
    assert torch.equal(base, before)  # the widened storage is a copy
    # a contiguous view at offset 0 whose storage is larger than itself: as_strided reads past it
    prefix = vjpcheck.check_vjp(lambda t: torch.as_strided(t, (2, 2), (1, 2), 6), base[:5], framework="torch")
    assert prefix.status == "pass", prefix.explain()


def test_the_explicit_jacobian_does_not_drop_a_complex_views_layout():
    """The realified Jacobian (view_as_real) of a complex view at a storage offset
    differentiated another function (OpInfo as_strided.partial_views, complex128): it is
    unavailable there now, and the verdict passes on the other oracles."""
    base = torch.randn(20, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    verdict = vjpcheck.check_vjp(lambda t: torch.as_strided(t, (2, 2), (1, 2), 6), base[5:15], framework="torch")
    assert verdict.status == "pass", verdict.explain()
    jacobian = next(o for o in verdict.oracles if o.name == "torch.jacobian")
    assert jacobian.status == "unavailable" and "layout" in jacobian.message


def test_second_order_of_a_first_order_result_that_is_rounding_noise_is_no_mismatch():
    """corrcoef of two values is the constant 1: its gradient is rounding noise (~1e-17)
    and the second-order tolerance, scaled by that noise, failed two correct rules
    (3.7e-32 against 1e-39). Second order is judged at the first order's scale now."""
    x = torch.tensor([1.5409961082440433, -0.2934289057609464], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(torch.corrcoef, x, order=2)
    assert verdict.children[0].status in ("pass", "skipped"), verdict.children[0].explain()
    # a planted second-order-only bug (a detached backward) is still caught at that scale
    wrong = vjpcheck.check_vjp(planted_torch.CubeDetachedBackward.apply, torch.randn(4, dtype=torch.float64), order=2)
    assert wrong.status == "pass" and wrong.children[0].status == "mismatch", wrong.explain()


NOISE_POINTS = [  # (x - x.mean()).sum()**2 is 0 in exact arithmetic: its values are rounding noise
    [1.5409961082440433, -0.2934289057609464, -2.1787893820745574, 0.5684312772806678, -1.084522342424021],
    [-0.004867807507124268, -0.0060382158788400385, -0.005580962308236769, 0.006675243015344896, -0.001974150932340056,
     0.019427835329161935, -0.014017020125953695, -0.007625571360284942, 0.00631213407129647, -0.008991351628864755,
     -0.005577934435782607, 0.006907187884258402, 0.0022245857875011653],
    [0.07905663656182521, -0.06409721787075652, 0.01660359469570668, 0.015526591710600874, -0.14610082908172112,
     0.06241706834871946, 0.04993061763707621, 0.00822750969516096, 0.13443108865138376, -0.05999694836132248,
     -0.1425734504542088, 0.028890129277550664, -0.10797830087519539],
    [-6.484010962545525, -7.058414286314203],
]


@pytest.mark.parametrize("point", NOISE_POINTS, ids=["n5", "n13-small", "n13", "n2"])
def test_a_function_whose_values_are_rounding_noise_is_no_mismatch_at_either_order(point):
    """The issue's minimal case: the first-order gradient of (x - x.mean()).sum()**2 is
    rounding noise, and so were the differences between two correct AD methods (reverse
    mode against the explicit Jacobian: 1.6e-30 against a tolerance of 1.6e-40) and the
    second-order values (1.1e-32 against 1.2e-42). The forward's measured noise is now the
    floor between analytic methods, and no second order is checked where the first order
    jumps."""
    verdict = vjpcheck.check_vjp(lambda x: (x - x.mean()).sum() ** 2, torch.tensor(point, dtype=torch.float64), order=2)
    assert verdict.status != "mismatch" and verdict.children[0].status != "mismatch", verdict.explain()


def test_the_forwards_noise_floor_does_not_widen_a_well_conditioned_check():
    """Measured where the forward is well conditioned, the floor is rounding-sized: a 1e-9
    relative error between two analytic rules is still seen (only AD methods meet here)."""

    class SlightlyOff(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * (1 + 1e-9)

    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(SlightlyOff.apply, x, primal=torch.sin)
    fd = next(r for r in verdict.oracles if r.name == "finite_differences")
    assert all(np.all(f < 1e-13) for f in fd.noise_floor), fd.noise_floor
    assert verdict.status == "mismatch", verdict.explain()


def test_second_order_finite_differences_are_batched():
    """The VJP map called requires_grad_ inside torch.func.vmap, so second-order finite
    differences ran point by point (conv_transpose2d's OpInfo sample: a 120 s timeout);
    under vmap the map goes through torch.func.vjp now."""
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    verdict = vjpcheck.check_vjp(lambda t: torch.cumsum(t.sin(), 1), x, order=2)
    second = verdict.children[0]
    assert second.status == "pass", second.explain()
    assert not any("point by point" in note for note in second.notes), second.notes


# ---- the dtype's edges: overflow thresholds and tiny entries ------------------------------------
def _f64(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_an_output_near_the_largest_value_does_not_blind_the_others():
    """exp([708, 4.88]): Σ|v|·|f| overflowed, marking every coordinate out of the domain and
    comparing entry 1 against 0 (a false alarm at a danger point); now both entries are
    checked, and a backward that overflows only at entry 0 (y² > max) is caught."""
    x, v = _f64(708.0, 4.88), _f64(0.5, -1.0)
    right = vjpcheck.check_vjp(planted_torch.ExpRight.apply, x, v=v)
    assert right.status == "pass", right.explain()
    fd_vs_backward = next(c for c in right.comparisons if (c.expected, c.got) == ("finite_differences", "torch.backward"))
    assert fd_vs_backward.compared == 2
    wrong = vjpcheck.check_vjp(planted_torch.ExpSquaringBackward.apply, x, v=v)
    assert wrong.status == "mismatch" and "non-finite" in wrong.finding_kinds(), wrong.explain()
    # at 709.5, vᵀJ = 1.8e308 itself: that entry cannot be judged, the other one still is
    edge = vjpcheck.check_vjp(planted_torch.ExpRight.apply, _f64(709.5, 4.88), v=_f64(1.3, -1.0))
    assert edge.status == "pass", edge.explain()
    assert next(c for c in edge.comparisons if (c.expected, c.got) == ("finite_differences", "torch.backward")).compared == 1


def test_a_true_overflow_is_not_a_wrong_gradient():
    """vᵀJ = 125.7·exp(707) passes float64's largest value: inf is the right answer; and
    forward mode's 0·inf = NaN with a zero cotangent is no finding either."""
    big = vjpcheck.check_vjp(planted_torch.ExpRight.apply, _f64(707.0101241711442), v=_f64(125.7302210933933))
    assert big.status in ("pass", "skipped", "inconclusive"), big.explain()
    zero_v = vjpcheck.check_vjp(planted_torch.ExpRight.apply, _f64(0.0, 709.532712893384), v=_f64(0.0, 0.0))
    assert zero_v.status == "pass", zero_v.explain()


def test_a_tiny_entry_next_to_an_unrelated_large_output_keeps_its_relative_precision():
    """exp([-39, 0.5]): entry 0 is 1.5e-18, the other output 1.6; the floor of 0.1·rtol·|v|·|y|
    (for cancellation) let a backward that flushes entry 0 to zero pass. Entries that share
    no output are judged at their own scale now."""
    x = _f64(-39.0, 0.5)
    assert vjpcheck.check_vjp(planted_torch.ExpNewStyle.apply, x, primal="auto").status == "pass"
    wrong = vjpcheck.check_vjp(planted_torch.ExpFlushTiny.apply, x, primal="auto")  # AD of the forward: a second rule
    assert wrong.status == "mismatch" and "arg0[0]" in wrong.explain(), wrong.explain()
    # finite differences cannot resolve 1e-18 next to an output of 1.6: the rules decide
    fd_check = next(c for c in wrong.comparisons if (c.expected, c.got) == ("finite_differences", "torch.backward"))
    assert fd_check.passed


def test_no_numpy_warning_reaches_the_user_at_overflow_or_nan():
    """inf and NaN in a result are evidence for the verdict, not warnings for the user's
    test output (once, vjpcheck's own matmuls and sums warned 'overflow encountered')."""
    import warnings

    from vjpcheck.strategies import tensor

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = vjpcheck.check_vjp(planted_torch.ExpRight.apply, _f64(707.0101241711442), v=_f64(125.7302210933933))
        nan = vjpcheck.check_vjp(planted_torch.XAbsXNaN.apply, _f64(0.0, 1.5))
        with pytest.raises(vjpcheck.VJPMismatch):
            vjpcheck.verify(planted_torch.ExpSquaringBackward.apply, tensor("n", dtype="float64"), framework="torch", max_examples=200, seed=0)
    assert big.status in ("pass", "skipped", "inconclusive") and nan.status == "mismatch", (big.explain(), nan.explain())


def test_an_explicit_jacobian_crashing_on_an_empty_output_is_unavailable_in_the_default_set():
    """The default set has no torch.autograd.grad: the limitation of an auxiliary route is
    judged against whichever primary route of the same rule ran (torch.backward); it was an
    `error` of the function."""
    w, b = torch.zeros(0, 1, dtype=torch.float64), torch.tensor([0.4], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(lambda w, b: (w * 2, b.tanh()), w, b)
    assert verdict.status == "pass", verdict.explain()
    jacobian = next(o for o in verdict.oracles if o.name == "torch.jacobian")
    assert jacobian.status == "unavailable" and "torch.backward ran the same rule" in jacobian.message


def test_an_overflow_inside_a_correct_rule_near_the_largest_value_is_no_mismatch():
    """vᵀJ = 5e307 (beyond a quarter of float64's largest): a rule whose terms overflow on
    the way gives inf there. That is an overflow, not a wrong value: neither a non-finite
    finding nor a mismatch (the comparison counted it as a mismatch)."""

    class SquaredScale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1e154

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (g * 1e308) * 1e-154  # the product overflows before it is scaled back

    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(SquaredScale.apply, x, v=torch.tensor([5.0e153, 1e-3], dtype=torch.float64))
    assert verdict.status != "mismatch", verdict.explain()
    assert "non-finite" not in verdict.finding_kinds()
