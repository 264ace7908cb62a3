"""CheckOptions: defaults written once, one validation vocabulary, non-defaults listed."""

from __future__ import annotations

import inspect

import pytest

import vjpcheck
from vjpcheck._engine.options import DEFAULTS, CheckOptions


def test_check_vjp_signature_defaults_are_the_options_defaults():
    params = inspect.signature(vjpcheck.check_vjp).parameters
    for name, value in DEFAULTS.__dict__.items():
        assert params[name].default == value, name


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"order": 3}, ValueError, "order must be 1 or 2, got 3"),
        ({"order": True}, TypeError, "order must be an int"),
        ({"rtol": -1}, ValueError, "rtol must be >= 0"),
        ({"rtol": float("nan")}, ValueError, "rtol must be a finite number"),
        ({"atol": "0"}, TypeError, "atol must be a number"),
        ({"fd_max_coords": -1}, ValueError, "fd_max_coords must be a non-negative int"),
        ({"jacobian_max_rows": 1.5}, TypeError, "jacobian_max_rows must be an int"),
        ({"mode": "fast"}, ValueError, "mode must be 'auto', 'full' or 'probe', got 'fast'"),
        ({"probes": 0}, ValueError, "probes must be a positive int, got 0"),
        ({"probes": True}, TypeError, "probes must be an int"),
        ({"framework": "tf"}, ValueError, "framework must be 'torch' or 'jax'"),
        ({"seed": 1.0}, TypeError, "seed must be an int"),
        ({"twin": 3}, TypeError, "twin must be callable"),
        ({"reference": "np.sin"}, TypeError, "reference must be callable"),
        ({"primal": "yes"}, TypeError, "primal must be None, 'auto' or a callable"),
        ({"oracles": "finite_differences"}, TypeError, "oracles must be \"all\" or a list of names"),
        ({"fd_batch": 1}, TypeError, "fd_batch must be True or False"),
    ],
)
def test_bad_options_are_rejected_naming_the_option(options, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        CheckOptions(**options)


def test_non_defaults_and_reproducer_options():
    def twin(x):
        return x

    opts = CheckOptions(order=2, rtol=1e-3, twin=twin, primal="auto", seed=4, oracles=["finite_differences"], wrt=0)
    assert opts.non_defaults() == {"wrt": 0, "oracles": ("finite_differences",), "order": 2, "twin": twin, "primal": "auto", "seed": 4, "rtol": 1e-3}
    literal, callables = opts.reproducer_options()
    assert literal == {"oracles": ["finite_differences"], "order": 2, "primal": "auto", "rtol": 1e-3}
    assert callables == {"twin": twin}
    assert DEFAULTS.non_defaults() == {}


def test_verify_rejects_unknown_and_bad_options_before_generating():
    import torch

    from vjpcheck.strategies import tensor

    with pytest.raises(TypeError, match=r"unknown option\(s\) \['rtool'\]"):
        vjpcheck.verify(torch.sin, tensor("n"), rtool=1e-3)
    with pytest.raises(ValueError, match="mode must be"):
        vjpcheck.verify(torch.sin, tensor("n"), mode="quick")
    with pytest.raises(ValueError, match="max_examples must be a positive int"):
        vjpcheck.verify(torch.sin, tensor("n"), max_examples=0)
