"""The tolerance model: no false alarms from honest rounding, yet small errors are caught."""

import jax
import numpy as np
import pytest
import torch

import vjpcheck


def test_float32_softmax_near_one_hot_is_not_a_false_alarm():
    """y₀(v₀ − Σ yⱼvⱼ) cancels from |v|·|y| down to 1e-7: float32 cannot do better."""
    x = torch.tensor([[25.0, -20.0, -0.002, 12.0]], dtype=torch.float32)
    v = torch.tensor([[0.3, -1.2, 0.7, 0.1]], dtype=torch.float32)
    verdict = vjpcheck.check_vjp(lambda a: torch.softmax(a, -1), x, v=v, twin=lambda a: jax.nn.softmax(a, -1))
    assert verdict.status == "pass", verdict.explain()


def _scaled_sin(factor):
    class ScaledSin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.sin(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return torch.cos(x) * g * factor

    return ScaledSin.apply


@pytest.mark.parametrize("dtype,factor", [(torch.float32, 1.01), (torch.float64, 1 + 1e-7)])
def test_small_relative_errors_are_caught(dtype, factor):
    x = torch.linspace(-2, 2, 9, dtype=dtype)
    assert vjpcheck.check_vjp(_scaled_sin(1.0), x).status == "pass"
    assert vjpcheck.check_vjp(_scaled_sin(factor), x).status == "mismatch"


def test_user_rtol_override_loosens():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    assert vjpcheck.check_vjp(_scaled_sin(1 + 1e-7), x, rtol=1e-5).status == "pass"


def test_float64_ad_oracles_agree_to_near_machine_precision():
    x = torch.randn(4, 5, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(lambda a: torch.tanh(a @ a.mT).sum(0), x)
    ad = [o for o in verdict.oracles if o.name.startswith("torch.") and o.grads is not None]
    base = ad[0].grads[0]
    for o in ad[1:]:
        assert abs(o.grads[0] - base).max() <= 1e-13 * abs(base).max()


def test_float32_underflow_is_not_a_false_alarm():
    import jax.numpy as jnp

    verdict = vjpcheck.check_vjp(jax.nn.softplus, jnp.asarray([-100.0, 0.5], dtype=jnp.float32))
    assert verdict.status == "pass", verdict.explain()


def test_tiny_normal_inputs_at_second_order_are_not_false_alarms():
    """x = 2.3e-91: FD cannot resolve the derivative; one-ulp AD differences must pass."""
    import planted_torch as pt

    x = torch.full((3,), 2.259312670098906e-91, dtype=torch.float64)
    v = torch.tensor([0.1257302210933933, -0.1321048632913019, 0.6404226504432821], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(pt.CubeRight.apply, x, v=v, order=2)
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


@pytest.mark.parametrize(
    "a,b",
    [(-2.0, 3.0), ([[-1.0, 2.0]], [[3.0, -4.0]]), ([1 + 2j, -3j], [2.0, 1.0]), (np.float32([1e30, -2]), [1e10, 3.0])],
    ids=["0-d", "2-d", "complex", "float32-no-overflow"],
)
def test_abs_inner_is_the_sum_of_products_of_magnitudes(a, b):
    """Σ|a|·|b| scales every projection's tolerance: 0-d arrays (scalar programs) included,
    and float32 products accumulated in float64."""
    from vjpcheck._engine.numeric import abs_inner

    a, b = np.asarray(a), np.asarray(b)
    expected = float(np.sum(np.abs(a.astype(np.complex128)) * np.abs(b.astype(np.complex128))))
    assert abs_inner(a, b) == pytest.approx(expected, rel=1e-12)


def test_a_scalar_function_is_checked_by_every_default_oracle():
    verdict = vjpcheck.check_vjp(torch.abs, torch.tensor(-2.994, dtype=torch.float64))
    assert verdict.status == "pass" and {o.name for o in verdict.oracles if o.ok} >= {"torch.backward", "torch.forward"}, verdict.explain()


def test_rtol_per_dtype_replaces_only_the_dtypes_it_names():
    """An iterative solver is accurate to its tolerance, per precision: rtol by dtype."""
    x64 = torch.linspace(0.1, 1, 5, dtype=torch.float64)

    class SlightlyOff(torch.autograd.Function):  # a backward accurate to 1e-7 (a solver's tolerance)
        @staticmethod
        def forward(x):
            return x.sin()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * (1 + 1e-7)

    assert vjpcheck.check_vjp(SlightlyOff.apply, x64).status == "mismatch"
    assert vjpcheck.check_vjp(SlightlyOff.apply, x64, rtol={"float64": 1e-5}).passed
    assert vjpcheck.check_vjp(SlightlyOff.apply, x64, rtol={"float32": 1e-2}).status == "mismatch"  # float64 untouched
    verdict = vjpcheck.check_vjp(SlightlyOff.apply, x64, rtol={"float64": 1e-5})
    assert "rtol={'float64': 1e-05}" in verdict.reproducer
    with pytest.raises(ValueError, match="rtol: a dict names dtypes"):
        vjpcheck.check_vjp(torch.sin, x64, rtol={"double": 1e-3})
    with pytest.raises(ValueError, match=r"rtol\['float64'\] must be >= 0"):
        vjpcheck.check_vjp(torch.sin, x64, rtol={"float64": -1.0})
