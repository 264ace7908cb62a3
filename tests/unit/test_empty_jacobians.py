"""An empty Jacobian (no input coordinate or no output entry) has one exact vᵀJ: zeros of
each input's shape. Finite differences state it without evaluating f, the default set
runs only the reverse methods against it, and a backward that returns anything else is
a mismatch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import vjpcheck


def _drop_all(x):
    return x[..., :0] * 2


def _sum_rows(x):
    return x.sum(0)


class TorchOnesAtEmptyOutput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x[..., :0] * 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.ones_like(x)  # planted: an empty output's vᵀJ is zero


@jax.custom_vjp
def jax_ones_at_empty_output(x):
    return x[..., :0] * 2


jax_ones_at_empty_output.defvjp(lambda x: (x[..., :0] * 2, x), lambda x, g: (jnp.ones_like(x),))


def _array(framework, shape):
    values = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    return torch.tensor(values, dtype=torch.float64) if framework == "torch" else jnp.asarray(values)


def _oracle(verdict, name):
    return next(o for o in verdict.oracles if o.name == name)


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("fn, shape", [(_drop_all, (3, 2)), (_sum_rows, (0, 3))], ids=["empty-output", "empty-input"])
def test_an_empty_jacobian_is_checked_against_exact_zeros_without_evaluating_f(framework, fn, shape):
    x = _array(framework, shape)
    verdict = vjpcheck.check_vjp(fn, x)
    assert verdict.status == "pass", verdict.explain()
    fd = _oracle(verdict, "finite_differences")
    assert fd.ok and fd.evaluations == 0 and "Jacobian is empty" in fd.message
    assert fd.grads[0].shape == shape and not np.any(fd.grads[0]) and not np.any(fd.error[0])
    ran = {o.name for o in verdict.oracles}
    assert ran == {"finite_differences", "torch.backward" if framework == "torch" else "jax.vjp"}
    thorough = {o.name for o in vjpcheck.check_vjp(fn, x, oracles="all").oracles}
    assert f"{framework}.forward" in thorough


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_a_backward_that_is_not_zero_at_an_empty_output_is_a_mismatch(framework):
    fn = TorchOnesAtEmptyOutput.apply if framework == "torch" else jax_ones_at_empty_output
    verdict = vjpcheck.check_vjp(fn, _array(framework, (3, 2)))
    assert verdict.status == "mismatch", verdict.explain()
    assert "finite_differences" in {c.expected for c in verdict.comparisons if not c.passed} | {
        c.got for c in verdict.comparisons if not c.passed
    }
