"""The finite-difference reference against analytic derivatives."""

import numpy as np
import pytest
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


def test_fd_too_large_is_reported_not_run():
    verdict = vjpcheck.check_vjp(torch.sin, torch.zeros(50, dtype=torch.float64), fd_max_coords=10)
    fd = verdict.oracles[0]
    assert fd.status == "unavailable" and "fd_max_coords" in fd.message
    assert verdict.status == "pass"


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
