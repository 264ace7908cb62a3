"""The autograd OpInfos of ``torch.testing._internal``, and what each one declares.

An OpInfo states whether forward-mode AD and second-order gradients are supported, and
decorates the tests PyTorch expects to fail or skips (``TestBwdGradients.test_fn_grad``
and friends). vjpcheck uses those declarations, never silently: an oracle PyTorch says does
not apply is left out with a note, and a discrepancy on a test PyTorch marks as expected to
fail is reported as ``known`` with PyTorch's own reason.
"""

from __future__ import annotations

import unittest
from dataclasses import dataclass
from functools import lru_cache

#: the PyTorch test that covers each check: (test class, test name)
BACKWARD_TESTS = {1: ("TestBwdGradients", "test_fn_grad"), 2: ("TestBwdGradients", "test_fn_gradgrad")}
FORWARD_TESTS = {1: ("TestFwdGradients", "test_forward_mode_AD"), 2: ("TestFwdGradients", "test_fn_fwgrad_bwgrad")}

INSTALL_HINT = "vjpcheck opinfo needs PyTorch's test helpers (torch.testing._internal), which import expecttest: pip install 'vjpcheck[opinfo]'"


@lru_cache(maxsize=1)
def op_db() -> tuple:
    """Every OpInfo of ``common_methods_invocations.op_db``; ``ImportError`` with the fix."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.testing._internal.common_methods_invocations import op_db as ops
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return tuple(ops)


def full_name(op) -> str:
    """``name`` or ``name.variant`` (``nn.functional.linear_cross_entropy.chunked``)."""
    return f"{op.name}.{op.variant_test_name}" if op.variant_test_name else op.name


def autograd_ops(names: list[str] | None = None) -> list:
    """The OpInfos that support autograd, in database order; ``names`` selects by full name
    or by base name (every variant). An unknown name is a ``ValueError`` that lists it."""
    ops = [op for op in op_db() if op.supports_autograd]
    if not names:
        return ops
    wanted = set(names)
    chosen = [op for op in ops if full_name(op) in wanted or op.name in wanted]
    found = {full_name(op) for op in chosen} | {op.name for op in chosen}
    unknown = sorted(wanted - found)
    if unknown:
        raise ValueError(f"ops: no autograd OpInfo named {unknown} (names are OpInfo names, e.g. 'nn.functional.hardsigmoid', or name.variant)")
    return chosen


def find(name: str):
    """The OpInfo with this full name (``KeyError`` when there is none)."""
    for op in op_db():
        if full_name(op) == name:
            return op
    raise KeyError(f"no OpInfo named {name!r}")


@dataclass(frozen=True)
class Expectation:
    """A decorator PyTorch put on one of its tests of an op: expected failure or skip."""

    effect: str  # "expected failure" | "skipped"
    test: str  # "TestBwdGradients.test_fn_grad"
    reason: str = ""

    def describe(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"PyTorch's OpInfo marks {self.test} as {self.effect} for this op{why}"


def expectations(op, test: tuple[str, str], device: str, dtype) -> list[Expectation]:
    """The expected-failure and skip decorators on ``test`` for this device type and dtype
    (other decorators, such as tolerance overrides, do not change a verdict)."""
    out = []
    for decorator in op.get_decorators(test[0], test[1], device, dtype, {}):
        effect = _effect(decorator)
        if effect is not None:
            out.append(Expectation(effect[0], ".".join(test), effect[1]))
    return out


def _effect(decorator) -> tuple[str, str] | None:
    """What a unittest decorator does to a test, found by applying it to a stand-in."""

    def stand_in(*args, **kwargs):
        return None

    try:
        wrapped = decorator(stand_in)
    except Exception:  # a decorator that needs a real test method: not an xfail or skip
        return None
    if getattr(wrapped, "__unittest_expecting_failure__", False):
        return ("expected failure", "")
    if getattr(wrapped, "__unittest_skip__", False):
        return ("skipped", str(getattr(wrapped, "__unittest_skip_why__", "")))
    try:  # skipIf-style wrappers decide when called
        wrapped()
    except unittest.SkipTest as exc:
        return ("skipped", str(exc))
    except Exception:
        return None
    return None


def forward_mode_unusable(op, order: int, device: str, dtype) -> str:
    """Why PyTorch's forward-mode AD oracle does not apply to this op ("" when it does)."""
    supported = op.supports_forward_ad if order == 1 else op.supports_fwgrad_bwgrad
    if not supported:
        flag = "supports_forward_ad" if order == 1 else "supports_fwgrad_bwgrad"
        return f"the OpInfo declares {flag}=False"
    marked = expectations(op, FORWARD_TESTS[order], device, dtype)
    return marked[0].describe() if marked else ""
