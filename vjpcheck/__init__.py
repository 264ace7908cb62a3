"""vjpcheck: property-based verification of reverse-mode autodiff.

Public API::

    check_vjp(fn, *args, v=None, **options) -> Verdict
    assert_vjp(fn, *args, v=None, **options) -> Verdict   # raises VJPMismatch
    verify(fn, *arg_specs, **options) -> Summary           # property-based, raises VJPMismatch
                                                           # (or LowCoverage: too few examples checked)
    strategies                                             # Hypothesis strategies for arguments
    maps                                                   # output maps for outputs defined up to a symmetry
"""

from __future__ import annotations

from . import maps, strategies
from ._engine.check import VJPMismatch, assert_vjp, check_vjp
from .oracles import ORACLE_NAMES
from ._engine.verdict import Verdict
from ._engine.sweep import LowCoverage, Summary, verify

__version__ = "0.1.0"

#: ``pytest -p vjpcheck`` registers this package as the plugin: its hooks and fixture are
#: served lazily from ``vjpcheck.pytest_plugin`` (importing vjpcheck never imports pytest)
_PLUGIN_ATTRIBUTES = ("pytest_addoption", "pytest_configure", "pytest_unconfigure", "pytest_report_header", "vjp")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PLUGIN_ATTRIBUTES))


__all__ = [
    "check_vjp",
    "assert_vjp",
    "verify",
    "strategies",
    "maps",
    "VJPMismatch",
    "LowCoverage",
    "Verdict",
    "Summary",
    "ORACLE_NAMES",
    "make_tensor",
    "__version__",
]


def __getattr__(name: str):
    """Lazy attributes: ``make_tensor`` (imports torch) and the pytest plugin's hooks."""
    if name == "make_tensor":
        from .frameworks.torch_backend import make_tensor

        return make_tensor
    if name in _PLUGIN_ATTRIBUTES:
        from . import pytest_plugin

        return getattr(pytest_plugin, name)
    raise AttributeError(f"module 'vjpcheck' has no attribute {name!r}")
