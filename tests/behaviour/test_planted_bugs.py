"""Every planted wrong rule is caught with the right finding kind; every correct twin passes."""

import pytest

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
    assert {"torch.backward", "torch.autograd.grad", "torch.jacobian"} <= suspects, verdict.explain()


def test_mismatch_message_names_case_and_worst_entry():
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, planted_torch._t(5))
    text = verdict.explain()
    assert "float64[5]" in text and "expected" in text and "tol" in text
    assert "reproducer" in text and "check_vjp(" in text
