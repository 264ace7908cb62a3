"""The oracle interface and the bookkeeping every oracle shares.

An oracle computes vᵀJ for a case by one method and returns an :class:`OracleResult` in
canonical form. It never raises: exceptions become ``status="error"`` with an
``oracle-error`` finding, or ``status="unavailable"`` when the method simply does not
apply (e.g. ``torch.func`` on an old-style ``autograd.Function``).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import numpy as np

from .._engine.case import Case
from .._engine.options import DEFAULTS, CheckOptions
from .._engine.results import Finding, OracleResult


class OracleUnavailable(Exception):
    """This method cannot be applied to this case (not a finding)."""


@dataclass
class OracleContext:
    """One check's options, and what earlier oracles learnt (finite differences' mask of
    non-smooth input entries, which forward mode's tangents avoid)."""

    options: CheckOptions = DEFAULTS
    projections: int = 2  # forward-mode tangents per forward oracle
    nonsmooth: list[np.ndarray] | None = None  # set by finite differences
    measured_noise: float | None = None  # the forward's noise, measured (finite differences' re-run)

    def entropy(self, *salt: int) -> tuple[int, ...]:
        """The seed material of one random stream of this check (``salt`` tells them apart)."""
        return (self.options.seed, *salt)

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng(list(self.entropy(salt)))


class Oracle:
    """Base class: subclasses set the class attributes and implement :meth:`compute`."""

    name: str = ""
    framework: str | None = None  # None: works for any framework
    rule: str = ""  # the derivative rule it exercises (agreement expected even at kinks)
    kind: str = "vector"  # vector (returns vᵀJ) | projection (returns ⟨v, J u⟩)
    applies_to_order2: bool = True
    #: another route through the same rule (explicit Jacobian, torch.func): its own
    #: limitations (zero-size outputs, storage tricks, untraceable calls) are not the
    #: function's, so when the primary route ran, its crash makes it unavailable
    auxiliary: bool = False

    def compute(self, case: Case, ctx: OracleContext, result: OracleResult) -> None:
        raise NotImplementedError

    def require_traced(self, case: Case) -> None:
        """Before differentiating a primal with this method (``PrimalAD``): raise
        :class:`OracleUnavailable` when its outputs are not traced by this AD at all."""

    def unsupported(self, exc: BaseException) -> str | None:
        """A reason when ``exc`` means 'method not applicable' rather than 'bug found'."""
        return None

    def describe_error(self, exc: BaseException) -> tuple[str, str]:
        """(finding kind, what happened) for an exception that is a finding."""
        return classify_error(exc), f"raised {type(exc).__name__}: {first_line(exc)}"

    def run(self, case: Case, ctx: OracleContext) -> OracleResult:
        result = OracleResult(name=self.name, rule=self.rule or self.name)
        start = time.perf_counter()
        try:
            self.compute(case, ctx, result)
        except OracleUnavailable as exc:
            result.status, result.message = "unavailable", str(exc)
        except Exception as exc:
            reason = self.unsupported(exc)
            if reason:
                result.status, result.message = "unavailable", reason
            else:
                kind, text = self.describe_error(exc)
                result.status = "error"
                result.message = f"{type(exc).__name__}: {exc}"
                result.findings.append(
                    Finding(
                        kind=kind,
                        oracle=self.name,
                        message=f"{self.name} {text}",
                        details={"traceback": "".join(traceback.format_exception(exc, limit=8))},
                    )
                )
        result.seconds = time.perf_counter() - start
        if result.grads is not None and result.status == "ok":
            result.findings.extend(shape_findings(case, result))
            if any(f.kind == "wrong-shape" for f in result.findings):
                result.status, result.grads = "error", None
        return result


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def classify_error(exc: BaseException) -> str:
    """Framework shape/dtype/device complaints about a backward's output get their own kinds."""
    text = str(exc).lower()
    if "expected" in text and "device" in text and "grad" in text:
        return "wrong-device"
    if ("shape" in text or "size" in text) and ("grad" in text or "bwd" in text or "vjp" in text or "cotangent" in text):
        return "wrong-shape"
    if "dtype" in text and ("grad" in text or "bwd" in text or "vjp" in text):
        return "wrong-dtype"
    return "oracle-error"


def shape_findings(case: Case, result: OracleResult) -> list[Finding]:
    out = []
    for k, (g, info) in enumerate(zip(result.grads, case.wrt_infos)):
        if tuple(np.shape(g)) != tuple(info.shape):
            out.append(
                Finding(
                    kind="wrong-shape",
                    oracle=result.name,
                    message=(
                        f"{result.name}: gradient for argument {case.wrt[k]} has shape "
                        f"{tuple(np.shape(g))}, expected {tuple(info.shape)}"
                    ),
                )
            )
    return out
