"""Shapes and arguments at the edges: size 0 and 1, scalars, aliasing layouts, index args."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import vjpcheck

F64 = torch.float64


@pytest.mark.parametrize(
    "fn,args",
    [
        (torch.sin, (torch.zeros(0, 3, dtype=F64),)),
        (lambda a: a[:0] * 2, (torch.randn(3, dtype=F64),)),
        (lambda a: a.sum(0), (torch.randn(1, 1, dtype=F64),)),
        (lambda a: a * a, (torch.tensor(1.5, dtype=F64),)),
        (lambda a, b: a * 2, (torch.randn(2, dtype=F64), torch.randn(3, dtype=F64))),
        (lambda a, i: a.index_select(0, i), (torch.randn(3, dtype=F64), torch.tensor([0, 0, 2]))),
        (lambda a: a.sin() * torch.arange(4.0, dtype=F64), (torch.randn(3, 1, dtype=F64).expand(3, 4),)),
        (lambda a: torch.softmax(a, -1), (torch.randn(3, 4, dtype=torch.bfloat16),)),
        (lambda x: torch.max(x, 0), (torch.tensor([[1.0, 5.0], [3.0, 2.0]], dtype=F64),)),
    ],
    ids=["size0-in", "size0-out", "size1", "scalar", "unused-input", "dup-index", "expanded", "bf16", "max-tuple"],
)
def test_torch_edges_pass(fn, args):
    verdict = vjpcheck.check_vjp(fn, *args)
    assert verdict.status == "pass", verdict.explain()


def _x64(values):
    with jax.enable_x64(True):
        return jnp.asarray(values)


@pytest.mark.parametrize(
    "fn,make",
    [
        (lambda a, i: a[i] * 2, lambda: (_x64(np.random.default_rng(0).random((4, 3))), jnp.asarray([0, 0, 3]))),
        (lambda a: jax.lax.top_k(a, 2), lambda: (_x64(np.random.default_rng(1).random((4, 3))),)),
        (jnp.sin, lambda: (jnp.zeros((0, 2)),)),
        (lambda a: a**3, lambda: (jnp.float32(1.5),)),
        (lambda a: jnp.tanh(a) * a, lambda: (jnp.asarray(np.linspace(-1, 1, 5), dtype=jnp.bfloat16),)),
        (lambda a, s: a * s, lambda: (jnp.ones(3), 2.5)),
    ],
    ids=["int-index", "top_k-tuple", "size0", "scalar-f32", "bf16", "python-float"],
)
def test_jax_edges_pass(fn, make):
    verdict = vjpcheck.check_vjp(fn, *make())
    assert verdict.status == "pass", verdict.explain()


def test_a_float64_jax_argument_not_differentiated_keeps_its_precision():
    """Finite differences evaluate the other float64 arguments as given (once rounded to
    float32 outside x64: 1e300 became inf, with a NumPy overflow warning)."""
    x, w = _x64(np.linspace(-1, 1, 4)), _x64(np.full(4, 1e300))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verdict = vjpcheck.check_vjp(lambda a, b: a * b * 1e-300, x, w, wrt=0)
    assert verdict.status == "pass", verdict.explain()


def test_jax_global_x64_untouched():
    before = jax.config.jax_enable_x64
    vjpcheck.check_vjp(jnp.sin, _x64(np.ones(3)))
    assert jax.config.jax_enable_x64 == before


def test_second_order_with_integer_arg_and_complex():
    x = _x64(np.random.default_rng(2).random((4, 3)))
    assert vjpcheck.check_vjp(lambda a, i: jnp.sin(a[i]), x, jnp.asarray([0, 0, 3]), order=2).passed
    z = torch.randn(3, dtype=torch.complex128)
    assert vjpcheck.check_vjp(lambda z: z * z.conj() * z, z, order=2).passed


def test_jax_value_dependent_shape_from_index_arg_runs_eagerly():
    """int(i[0]) cannot be traced by jit but works eagerly (i is not differentiated)."""

    def head(x, i):
        return jnp.sin(x[: int(i[0])])

    verdict = vjpcheck.check_vjp(head, _x64(np.linspace(0.1, 1.0, 5)), jnp.asarray([3]))
    assert verdict.status == "pass", verdict.explain()


def _inplace_scale(x):
    x.mul_(2)
    return x.sin()


def _inplace_on_other(x, buf):
    buf.add_(1)
    return x.sin() * buf.sum()


@pytest.mark.parametrize(
    "fn, make",
    [
        (_inplace_scale, lambda: (torch.linspace(0.1, 1, 4, dtype=torch.float64),)),
        (_inplace_scale, lambda: (torch.linspace(0.1, 1, 8, dtype=torch.float64).reshape(2, 4).mT,)),  # a view
        (_inplace_on_other, lambda: (torch.linspace(0.1, 1, 4, dtype=torch.float64), torch.ones(3, dtype=torch.float64))),
    ],
    ids=["input", "transposed view", "other argument"],
)
def test_in_place_functions_leave_the_callers_arguments_bit_for_bit(fn, make):
    """The snapshot once shared memory with the batched finite-difference input, so an
    in-place forward corrupted it and the audit "restored" the corrupted values."""
    args = make()
    before = [(a.clone(), a.stride(), a.storage_offset()) for a in args]
    verdict = vjpcheck.check_vjp(fn, *args, wrt=0)
    for a, (values, strides, offset) in zip(args, before):
        assert torch.equal(a, values) and a.stride() == strides and a.storage_offset() == offset, verdict.explain()
    assert verdict.status == "error" and "mutated-input" in verdict.finding_kinds()


def test_a_function_checked_on_real_then_complex_arguments_gets_fresh_compilations():
    """The compiled finite-difference evaluator was keyed by the function object alone: the
    real case's (casting to float64) served the complex case, which then lost the batched
    path (or, unvalidated, its imaginary part)."""
    f = lambda a, b: jnp.linalg.solve(a, b)  # noqa: E731 - one object for both checks
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=3)
    real = vjpcheck.check_vjp(f, a, b, framework="jax")
    complex_ = vjpcheck.check_vjp(f, a + 1j * rng.normal(size=(3, 3)), b + 1j * rng.normal(size=3), framework="jax")
    assert (real.status, complex_.status) == ("pass", "pass"), complex_.explain()
    assert not any("batched" in note for note in complex_.notes), complex_.notes


@pytest.mark.parametrize(
    "a,b,worst,scale",
    [
        (2.0, 2.5, 0.5, 2.0),  # 0-d outputs
        ([1.0, np.nan, -3.0], [1.5, np.nan, -3.0], 0.5, 3.0),  # NaNs in the same places are equal
        ([1.0, np.nan], [1.0, 2.0], np.nan, 0.0),  # NaNs in different places: never within a limit
        ([1 + 1j, 2.0], [1 + 1j, 2.5], 0.5, 2.0),  # complex: moduli
    ],
)
def test_the_determinism_check_compares_two_calls_entry_by_entry(a, b, worst, scale):
    from vjpcheck._engine.case import _largest_change

    got = _largest_change(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(got, (worst, scale))
