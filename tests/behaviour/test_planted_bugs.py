"""Every planted wrong rule is caught with the right finding kind; every correct twin passes."""

import pytest
import torch

import planted_jax
import planted_torch
import vjpcheck

ALL = planted_torch.PLANTED + planted_jax.PLANTED


def _run(fn, planted):
    args = planted.make_args()
    v = planted.make_v() if planted.make_v else None
    return vjpcheck.check_vjp(fn, *args, v=v, **planted.options)


@pytest.mark.parametrize("planted", ALL, ids=[p.name for p in ALL])
def test_planted_bug_is_caught(planted):
    verdict = _run(planted.buggy, planted)
    assert verdict.overall_status in ("mismatch", "error"), verdict.explain()
    assert planted.kind in verdict.finding_kinds(), verdict.explain()
    with pytest.raises(vjpcheck.VJPMismatch) as info:
        vjpcheck.assert_vjp(planted.buggy, *planted.make_args(), v=planted.make_v() if planted.make_v else None, **planted.options)
    assert planted.kind in str(info.value)


@pytest.mark.parametrize("planted", ALL, ids=[p.name for p in ALL])
def test_correct_twin_passes(planted):
    verdict = _run(planted.correct, planted)
    assert verdict.overall_status == "pass", verdict.explain()


def test_layout_bug_hides_on_contiguous_input():
    """The non-contiguous-input bug is invisible on contiguous inputs: layouts matter."""
    bug = planted_torch.SquareAssumesContiguousInput.apply
    assert vjpcheck.check_vjp(bug, planted_torch._t(3, 4)).passed
    assert not vjpcheck.check_vjp(bug, planted_torch._transposed(3, 4)).passed


def test_size_one_crash_only_at_size_one():
    x = planted_torch._t(3, 2)
    assert vjpcheck.check_vjp(planted_torch.project_bug, x, planted_torch._t(2, 2), wrt=0).passed
    verdict = vjpcheck.check_vjp(planted_torch.project_bug, x, planted_torch._t(2, 1), wrt=0)
    assert verdict.status == "error"
    assert any(f.oracle == "torch.backward" and f.kind == "oracle-error" for f in verdict.findings)


def test_second_order_bug_invisible_at_first_order():
    x = planted_torch._t(4)
    assert vjpcheck.check_vjp(planted_torch.CubeDetachedBackward.apply, x).passed
    verdict = vjpcheck.check_vjp(planted_torch.CubeDetachedBackward.apply, x, order=2)
    assert verdict.status == "pass" and verdict.children[0].status == "mismatch", verdict.explain()


def test_forward_mode_bug_blames_forward_oracle():
    verdict = vjpcheck.check_vjp(planted_torch.ExpWrongJvp.apply, planted_torch._t(4))
    assert verdict.suspects() == ["torch.forward"], verdict.explain()


def test_wrong_scale_blames_every_reverse_oracle_not_fd():
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, planted_torch._t(5))
    suspects = set(verdict.suspects())
    assert "finite_differences" not in suspects
    assert {"torch.backward", "torch.jacobian"} <= suspects, verdict.explain()


def test_mismatch_message_names_case_and_worst_entry():
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, planted_torch._t(5))
    text = verdict.explain()
    assert "float64[5]" in text and "expected" in text and "tol" in text
    assert "reproducer" in text and "check_vjp(" in text


class BisectionSqrt(torch.autograd.Function):
    """sqrt by bisection (autograd through the loop gives 0: the input only steers
    comparisons) with the analytic backward 1 / (2 sqrt x), or a wrong one."""

    scale = 0.5

    @staticmethod
    def forward(x):
        lo, hi = torch.zeros_like(x), torch.ones_like(x) + x
        for _ in range(60):
            mid = (lo + hi) / 2
            below = mid * mid < x
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return (lo + hi) / 2

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @classmethod
    def backward(cls, ctx, g):
        (y,) = ctx.saved_tensors
        return g * cls.scale / y


class BisectionSqrtWrong(BisectionSqrt):
    scale = 0.45


def test_ad_through_an_iterative_forward_is_outvoted_by_finite_differences():
    """The rule agrees with finite differences; AD of the forward (through the bisection
    loop) does not, and is the suspect: a note, not a failure. A wrong rule still fails."""
    x = torch.linspace(0.5, 2.0, 5, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(BisectionSqrt.apply, x, primal="auto")  # verify's default
    assert verdict.status == "pass", verdict.explain()
    assert any("torch.primal (AD of the forward) disagrees with finite differences" in n for n in verdict.notes)
    wrong = vjpcheck.check_vjp(BisectionSqrtWrong.apply, x, primal="auto")
    assert wrong.status == "mismatch" and "torch.backward" in wrong.suspects(), wrong.explain()


def test_overflow_only_at_the_dtypes_edge_is_found_by_verify():
    """g·y²/y overflows only for x > 355 (float64): the default generation visits exp's
    overflow threshold on purpose, so verify finds it; the correct rule passes."""
    from vjpcheck.strategies import tensor

    with pytest.raises(vjpcheck.VJPMismatch, match="non-finite"):
        vjpcheck.verify(planted_torch.ExpSquaringBackward.apply, tensor("n", dtype="float64"), framework="torch", max_examples=200, seed=0)
    vjpcheck.verify(planted_torch.ExpRight.apply, tensor("n", dtype="float64"), framework="torch", max_examples=200, seed=0)
