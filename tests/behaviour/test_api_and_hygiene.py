"""Bad input gets clear errors; misbehaving functions become findings, never crashes."""

import numpy as np
import pytest
import torch

import vjpcheck


def test_not_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        vjpcheck.check_vjp(42, torch.zeros(2))


def test_no_differentiable_argument():
    with pytest.raises(ValueError, match="no differentiable argument"):
        vjpcheck.check_vjp(lambda i: i * 2, torch.arange(3))


def test_wrt_points_at_integer_arg():
    with pytest.raises(ValueError, match=r"wrt=1: argument 1 \(int64\)"):
        vjpcheck.check_vjp(lambda x, i: x[i], torch.zeros(3, dtype=torch.float64), torch.tensor([0, 2]), wrt=1)


def test_wrt_out_of_range():
    with pytest.raises(ValueError, match="not a position in args"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2), wrt=3)


def test_cotangent_shape_checked():
    with pytest.raises(ValueError, match=r"v\[0\] has shape \(3,\) but output 0 has shape \(2,\)"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2), v=torch.zeros(3))


def test_unknown_oracle():
    with pytest.raises(ValueError, match="unknown name"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2), oracles=["torch.magic"])


def test_foreign_oracle():
    with pytest.raises(ValueError, match="do not apply to a torch function"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2), oracles=["jax.vjp"])


def test_bad_order_and_tolerances():
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2), order=3)
    with pytest.raises(ValueError, match="rtol"):
        vjpcheck.check_vjp(torch.sin, torch.zeros(2), rtol=-1)


def test_framework_needed_for_numpy_args():
    with pytest.raises(ValueError, match="cannot tell the framework"):  # defined where neither framework is imported
        vjpcheck.check_vjp(eval("lambda x: x", {}), np.zeros(2))
    verdict = vjpcheck.check_vjp(torch.sin, np.linspace(0, 1, 3), framework="torch")
    assert verdict.status == "pass"


def test_forward_that_raises_is_a_finding_naming_function_and_args():
    def broken(x, k):
        raise ValueError("boom")

    verdict = vjpcheck.check_vjp(broken, torch.zeros(2, 3, dtype=torch.float64), 7)
    assert verdict.status == "error"
    (finding,) = verdict.findings
    assert finding.kind == "forward-error"
    assert "broken(" in finding.message and "float64[2,3]" in finding.message and "7" in finding.message
    assert "ValueError: boom" in finding.message


def test_non_differentiable_args_pass_through_untouched():
    idx = torch.tensor([0, 2, 2, 1])

    def gather(x, i, scale):
        return x[i] * scale

    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(gather, x, idx, 2.5)
    assert verdict.status == "pass", verdict.explain()
    assert verdict.case["wrt"] == [0]
    assert idx.tolist() == [0, 2, 2, 1]


def test_tuple_outputs_with_integer_output():
    verdict = vjpcheck.check_vjp(lambda x: torch.sort(x), torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64))
    assert verdict.status == "pass", verdict.explain()
    assert verdict.case["outputs"][1]["differentiable"] is False


def test_callers_inputs_and_cotangent_unchanged():
    x = torch.randn(4, 3, dtype=torch.float64).mT
    v = torch.randn(3, 4, dtype=torch.float64)[:, ::2]
    x0, v0 = x.clone(), v.clone()
    verdict = vjpcheck.check_vjp(lambda a: torch.tanh(a)[:, :2] * 2, x, v=v)
    assert verdict.status == "pass", verdict.explain()
    assert torch.equal(x, x0) and torch.equal(v, v0)
    assert x.stride() == (1, 3) and not x.requires_grad


def test_forward_that_mutates_its_input():
    def sneaky(x):
        y = torch.sin(x)
        x.data.add_(1.0)  # modifies the caller's storage behind autograd's back
        return y

    verdict = vjpcheck.check_vjp(sneaky, torch.zeros(3, dtype=torch.float64))
    assert "mutated-input" in verdict.finding_kinds(), verdict.explain()


def test_oracle_error_does_not_crash_other_oracles():
    class Crashes(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("backward exploded")

    verdict = vjpcheck.check_vjp(Crashes.apply, torch.ones(2, dtype=torch.float64))
    assert verdict.status == "error"
    assert any("backward exploded" in f.message for f in verdict.findings)
    assert next(o for o in verdict.oracles if o.name == "finite_differences").ok


def test_layout_of_cotangent_reaches_backward():
    seen = {}

    class Spy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            seen.setdefault("strides", g.stride())
            return g

    v = torch.randn(4, 3, dtype=torch.float64).mT
    vjpcheck.check_vjp(Spy.apply, torch.zeros(3, 4, dtype=torch.float64), v=v, oracles=["torch.backward"])
    assert seen["strides"] == (1, 3)


def test_verdict_is_json_serialisable():
    import json

    verdict = vjpcheck.check_vjp(torch.sin, torch.tensor([0.5 + 1j], dtype=torch.complex128), order=2)
    text = json.dumps(verdict.to_dict())
    assert '"overall_status": "pass"' in text


def test_float32_case_passes_against_float64_reference():
    x = torch.linspace(-3, 3, 12).reshape(3, 4)
    verdict = vjpcheck.check_vjp(lambda a: torch.softmax(torch.tanh(a) * 3, dim=-1), x)
    assert verdict.status == "pass", verdict.explain()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_cases(dtype):
    x = torch.linspace(-2, 2, 8, dtype=dtype)
    assert vjpcheck.check_vjp(lambda a: torch.sin(a) * a, x).status == "pass"
    bug_scale = lambda a: SinScale.apply(a)  # noqa: E731
    assert vjpcheck.check_vjp(bug_scale, x).status == "mismatch"


class SinScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x) * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (torch.cos(x) * x + torch.sin(x)) * g * 1.5
