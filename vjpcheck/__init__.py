"""vjpcheck: property-based verification of reverse-mode autodiff.

Public API::

    check_vjp(fn, *args, v=None, **options) -> Verdict
    assert_vjp(fn, *args, v=None, **options) -> Verdict   # raises VJPMismatch
    verify(fn, *arg_specs, **options) -> Summary           # property-based, raises VJPMismatch
"""

from __future__ import annotations

import sys as _sys

from . import strategies
from .api import VJPMismatch, assert_vjp, check_vjp
from .oracles import ORACLE_NAMES
from .verdict import Verdict
from .verifier import Summary, verify

__version__ = "0.1.0"

if "pytest" in _sys.modules:  # `pytest -p vjpcheck` registers this package as the plugin
    from .pytest_plugin import pytest_addoption, pytest_configure, vjp  # noqa: F401

__all__ = [
    "check_vjp",
    "assert_vjp",
    "verify",
    "strategies",
    "VJPMismatch",
    "Verdict",
    "Summary",
    "ORACLE_NAMES",
    "make_tensor",
    "__version__",
]


def __getattr__(name):  # torch imported only when a reproducer asks for make_tensor
    if name == "make_tensor":
        from .frameworks.torch_backend import make_tensor

        return make_tensor
    raise AttributeError(f"module 'vjpcheck' has no attribute {name!r}")
