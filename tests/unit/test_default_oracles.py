"""The default oracle set is sized to the case: methods whose cost grows with the output
(one backward pass per output entry) join it only where they are cheap, or when asked."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
import torch

import vjpcheck
from vjpcheck.oracles import CHEAP_JACOBIAN_ROWS, default_oracles

O_OF_M = {"torch.jacobian", "jax.jacobian"}


def _ran(verdict) -> set[str]:
    return {o.name for o in verdict.oracles}


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_the_default_set_at_a_large_output_has_no_method_whose_cost_grows_with_it(framework):
    n = 4 * CHEAP_JACOBIAN_ROWS
    x = torch.linspace(-1, 1, n, dtype=torch.float64) if framework == "torch" else jnp.linspace(-1.0, 1.0, n)
    fn = (lambda t: torch.cumsum(t.sin(), 0)) if framework == "torch" else (lambda t: jnp.cumsum(jnp.sin(t), 0))
    for mode in ("full", "probe"):
        verdict = vjpcheck.check_vjp(fn, x, mode=mode)
        assert verdict.passed, verdict.explain()
        assert not (_ran(verdict) & O_OF_M), (mode, _ran(verdict))
        assert {"finite_differences", f"{framework}.forward"} <= _ran(verdict)
        assert (f"{framework}.backward" if framework == "torch" else "jax.vjp") in _ran(verdict)
    assert default_oracles(framework, output_entries=10**6) == default_oracles(framework, output_entries=CHEAP_JACOBIAN_ROWS + 1)


def test_a_small_output_keeps_the_explicit_jacobian_by_default():
    verdict = vjpcheck.check_vjp(torch.sin, torch.linspace(-1, 1, CHEAP_JACOBIAN_ROWS, dtype=torch.float64))
    assert "torch.jacobian" in _ran(verdict)
    # complex outputs count real coordinates: 16 complex entries are 32 rows
    z = torch.linspace(-1, 1, CHEAP_JACOBIAN_ROWS, dtype=torch.float64).to(torch.complex128)
    assert "torch.jacobian" not in _ran(vjpcheck.check_vjp(torch.sin, z))


def test_all_asks_for_every_method_up_to_jacobian_max_rows():
    x = torch.linspace(-1, 1, 100, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(torch.sin, x, oracles="all")
    assert verdict.passed, verdict.explain()
    assert {"torch.backward", "torch.autograd.grad", "torch.func.vjp", "torch.jacobian", "torch.forward"} <= {
        o.name for o in verdict.oracles if o.ok
    }
    capped = vjpcheck.check_vjp(torch.sin, x, oracles="all", jacobian_max_rows=50)
    jac = next(o for o in capped.oracles if o.name == "torch.jacobian")
    assert jac.status == "unavailable" and "jacobian_max_rows=50" in jac.message
    # a name asked for runs at any size up to the cap
    named = vjpcheck.check_vjp(torch.sin, x, oracles=["finite_differences", "torch.jacobian"])
    assert next(o for o in named.oracles if o.name == "torch.jacobian").ok


def test_all_is_the_only_word_oracles_accepts():
    with pytest.raises(TypeError, match='oracles must be "all" or a list'):
        vjpcheck.check_vjp(torch.sin, torch.ones(2, dtype=torch.float64), oracles="every")
    from vjpcheck.strategies import tensor

    summary = vjpcheck.verify(torch.tanh, tensor("n", dtype="float64", min_side=1), oracles="all", max_examples=3, seed=0)
    assert {"torch.autograd.grad", "torch.func.vjp"} <= set(summary.oracles_run)
