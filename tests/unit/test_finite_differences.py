"""The finite-difference reference against analytic derivatives."""

import numpy as np
import pytest

from vjpcheck.oracles.finite_differences.stats import RETRIES
import torch

import vjpcheck

ANALYTIC = [
    ("sin", torch.sin, np.cos),
    ("exp", torch.exp, np.exp),
    ("tanh", torch.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("log1p_sq", lambda x: torch.log1p(x * x), lambda x: 2 * x / (1 + x * x)),
    ("x_cubed", lambda x: x**3, lambda x: 3 * x**2),
    ("sigmoid", torch.sigmoid, lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    ("atan", torch.atan, lambda x: 1 / (1 + x * x)),
]


@pytest.mark.parametrize("name,fn,deriv", ANALYTIC, ids=[a[0] for a in ANALYTIC])
def test_fd_matches_analytic_derivative(name, fn, deriv):
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=20)
    v = rng.standard_normal(20)
    verdict = vjpcheck.check_vjp(fn, torch.tensor(x), v=torch.tensor(v), oracles=["finite_differences"])
    fd = verdict.oracles[0]
    exact = v * deriv(x)
    rel = np.abs(fd.grads[0] - exact) / np.maximum(np.abs(exact), 1e-300)
    assert np.max(rel) < 1e-8, (name, np.max(rel))
    # the error estimate is honest: it bounds the actual error
    assert np.all(np.abs(fd.grads[0] - exact) <= 2 * fd.error[0] + 1e-15)


def test_fd_complex_input_matches_wirtinger_convention():
    z = torch.tensor([1 + 2j, -0.5 + 0.3j], dtype=torch.complex128)
    v = torch.tensor([0.7 - 0.2j, 1.1 + 0.4j], dtype=torch.complex128)
    verdict = vjpcheck.check_vjp(lambda z: z * z, z, v=v, oracles=["finite_differences", "torch.backward"])
    fd, bw = (o.grads[0] for o in verdict.oracles)
    np.testing.assert_allclose(fd, v.numpy() * np.conj(2 * z.numpy()), rtol=1e-9)
    np.testing.assert_allclose(fd, bw, rtol=1e-9)


def test_fd_out_of_domain_step_is_masked_not_mismatched():
    x = torch.tensor([1e-12, 1.0], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(torch.sqrt, x)
    assert verdict.status in ("pass", "skipped"), verdict.explain()


def test_fd_falls_back_when_function_rejects_float64():
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32)

    def needs_float32(x):
        if x.dtype != torch.float32:
            raise TypeError("float32 only")
        return torch.sin(x) * w

    verdict = vjpcheck.check_vjp(needs_float32, torch.tensor([0.1, 0.2, 0.3]))
    assert verdict.status == "pass", verdict.explain()
    assert any("case's dtype" in n for n in verdict.notes)


def test_fd_above_the_size_limit_switches_to_probe_mode():
    verdict = vjpcheck.check_vjp(torch.sin, torch.zeros(50, dtype=torch.float64), fd_max_coords=10)
    fd = verdict.oracles[0]
    assert fd.status == "ok" and fd.probe and "fd_max_coords=10" in fd.message
    assert fd.grads is None and len(fd.projections) == 3
    assert verdict.status == "pass", verdict.explain()
    full = vjpcheck.check_vjp(torch.sin, torch.zeros(50, dtype=torch.float64), fd_max_coords=10, mode="full")
    assert full.oracles[0].grads is not None and not full.oracles[0].probe


def test_fd_underflow_is_not_taken_as_exact():
    """x·|x| at 1.2e-229: every evaluation underflows to 0; AD's 2|x|·v is right."""
    import planted_torch

    x = torch.tensor([1.2108448424147786e-229], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(planted_torch.XAbsXRight.apply, x, primal="auto")
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


def test_fd_never_returns_nan_for_a_subnormal_step():
    """x = 2.8e-309: a step relative to |x| is subnormal; FD must abstain, not say NaN."""
    import planted_torch

    x = torch.tensor([2.797590e-309], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(planted_torch.XAbsXRight.apply, x, primal="auto")
    fd = verdict.oracles[0]
    assert np.all(np.isfinite(fd.grads[0])) and np.all(np.isfinite(fd.scale[0]))
    assert verdict.overall_status in ("pass", "skipped"), verdict.explain()


def test_fd_error_covers_an_output_that_cancels():
    """sum([-2.994, x, 2.994]) at x = 0: the output is ~0 but computed from terms of size 3;
    rounding of ε·3 over the small step at x = 0 made a false alarm (10k-program run)."""
    import torch

    import vjpcheck

    x = torch.tensor([-2.994, 0.0, 2.994], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(torch.sum, x, v=torch.tensor(0.1257302210933933, dtype=torch.float64), seed=202606090)
    assert verdict.overall_status == "pass", verdict.explain()
    # same forward, gradient off by 1e-7 relative: the wider error bound still sees it
    sloppy = vjpcheck.check_vjp(lambda a: torch.sum(a) + 1e-7 * (a - a.detach()).sum(), x, oracles=["finite_differences", "torch.backward"])
    assert sloppy.overall_status == "mismatch", sloppy.explain()


def _fd(fn, *args, **options):
    verdict = vjpcheck.check_vjp(fn, *args, oracles=["finite_differences"], **options)
    return verdict.oracles[0]


BATCHABLE = [
    ("cumsum", lambda x: torch.cumsum(torch.sin(x) * x, 0), (torch.linspace(-2, 2, 7, dtype=torch.float64),)),
    ("matmul_tuple", lambda a, b: (a @ b, torch.tanh(a).sum()), (torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64))),
    ("complex", lambda z: torch.exp(z) * z.conj(), (torch.tensor([1 + 2j, -0.5 + 0.3j], dtype=torch.complex128),)),
    ("relu_kink", torch.relu, (torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64),)),
]


@pytest.mark.parametrize("name,fn,args", BATCHABLE, ids=[b[0] for b in BATCHABLE])
def test_batched_fd_equals_point_by_point(name, fn, args):
    """Stacking the 4n points in one vmapped call changes nothing but the time."""
    torch.manual_seed(0)
    batched = _fd(fn, *args)
    # f0, one batch, its validation, the joint test; a kink is retried at smaller steps
    # (RETRIES more batches, for the kinked coordinates only)
    assert batched.evaluations <= 5 + (RETRIES if name.endswith("kink") else 0)
    looped = _fd(fn, *args, fd_batch=False)
    assert looped.evaluations > 4 * sum(a.numel() for a in args)
    # same estimates up to rounding (a batched matmul may sum in another order): within
    # the error each one states for itself
    for b, l, eb, el in zip(batched.grads, looped.grads, batched.error, looped.error):
        assert np.all(np.abs(b - l) <= eb + el + 1e-300)
    for b, l in zip(batched.nonsmooth, looped.nonsmooth):
        np.testing.assert_array_equal(b, l)


class _Doubler(torch.autograd.Function):  # an old-style Function: no vmap rule
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def _branchy(x):  # data-dependent control flow
    return x.sin() if float(x.sum()) > 0 else x.cos()


def _in_place(x):  # writes into a buffer that is not batched
    out = torch.zeros(x.shape, dtype=x.dtype)
    out += x * x
    return out


@pytest.mark.parametrize("fn", [_Doubler.apply, _branchy, _in_place], ids=["autograd_function", "branchy", "in_place"])
def test_unbatchable_functions_fall_back_to_a_loop(fn):
    x = torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(fn, x)
    assert verdict.status == "pass", verdict.explain()
    fd = verdict.oracles[0]
    assert "point by point" in fd.message and fd.evaluations > 12


def test_batched_values_are_validated_against_the_plain_call():
    """A function whose batched path silently differs is caught and evaluated point by point."""
    from vjpcheck._engine.case import build_case
    from vjpcheck.oracles.finite_differences.evaluate import build_evaluator

    case = build_case(torch.sin, (torch.tensor([0.1, 0.2], dtype=torch.float64),))
    evaluator = build_evaluator(case)
    evaluator._batch = lambda stacked: np.sin(stacked[0]) + 1.0  # wrong batched path
    out = evaluator.many([np.array([[0.1, 0.2], [0.3, 0.4]])], np.sin(np.array([0.1, 0.2])))
    np.testing.assert_allclose(out, np.sin([[0.1, 0.2], [0.3, 0.4]]))
    assert not evaluator.batched and "something else at the base point" in evaluator.fallback


def test_the_base_point_is_validated_inside_the_first_batch():
    """The batched path is validated on the base point's row of the first batch: no call
    of its own, and a batched path that mixes its rows is caught there too."""
    from vjpcheck._engine.case import build_case
    from vjpcheck.oracles.finite_differences.evaluate import build_evaluator

    x0 = np.array([0.1, 0.2])
    points = np.array([[0.1, 0.25], [0.3, 0.4]])
    case = build_case(torch.sin, (torch.tensor(x0, dtype=torch.float64),))
    evaluator = build_evaluator(case)
    out = evaluator.many([points], np.sin(x0))
    np.testing.assert_allclose(np.asarray(out), np.sin(points), rtol=1e-15)
    assert evaluator.batched and evaluator.calls == 1

    mixing = build_evaluator(case)
    mixing._batch = lambda stacked: np.sin(stacked[0]) + 1e-6 * stacked[0][:1]  # reads row 0 in every row
    out = mixing.many([points], np.sin(x0))
    np.testing.assert_allclose(out, np.sin(points), rtol=1e-15)
    assert not mixing.batched and "something else at the base point" in mixing.fallback


def test_a_coordinate_whose_every_step_failed_is_never_read_as_a_zero_derivative():
    """At the smallest normal number beside a kink at 0 (an entropy clamped at 1e-30, on a
    simplex face), the steps that straddle the kink are retried down to |x|'s own scale,
    which is subnormal: no step was usable, so the coordinate is non-smooth, not 0."""
    import torch

    import vjpcheck

    entropy = lambda p: -(p * torch.log(p.clamp(min=1e-30))).sum(-1)  # noqa: E731
    p = torch.tensor([[1.0, 2.2250738585072014e-308]], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(entropy, p, v=torch.tensor([0.125], dtype=torch.float64))
    fd = next(o for o in verdict.oracles if o.name == "finite_differences")
    assert verdict.status == "skipped", verdict.explain()
    assert fd.nonsmooth[0].tolist() == [[False, True]]


def test_jax_finite_differences_compile_no_more_than_they_need_per_new_shape():
    """A JAX case compiles per new shape (20–40 ms each on a CPU, more than the runs).
    A float64 case lends finite differences its forward values as the base evaluation,
    and a float32 case shares the float64 evaluators of a float64 case of its shape."""
    import jax
    import jax.numpy as jnp

    from vjpcheck.frameworks.jax_backend import x64

    traces = [0]

    def f(x):
        if isinstance(x, jax.core.Tracer):
            traces[0] += 1
        return jnp.sin(x) * 2

    def traced(dtype, shape):
        traces[0] = 0
        with x64():
            x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, shape).astype(dtype))
        assert vjpcheck.check_vjp(f, x).status == "pass"
        return traces[0]

    # finite differences' batch, jax.vjp and jax.forward: no single evaluation of f's own
    assert traced("float64", (5, 3)) == 3
    # the float32 case at that shape evaluates its float64 base once; the batch is reused
    assert traced("float32", (5, 3)) == 3
    assert traced("float32", (6, 3)) == 4
    # and a float64 case after it reuses the batch: only its own rules are compiled
    assert traced("float64", (6, 3)) == 2
