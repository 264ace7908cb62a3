"""Plain records produced by a check: oracle results, comparisons, findings, verdicts.

Everything here converts to JSON-serialisable dicts with ``to_dict()`` so that pytest-xdist
workers and the report writer can pass records around without pickling framework objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

class Status(StrEnum):
    """The outcome of a check (a ``str``: JSON, HTML and comparisons with plain strings
    see ``"pass"``, ``"mismatch"``, …)."""

    PASS = "pass"  # the rule under test agrees with an independent reference
    INCONCLUSIVE = "inconclusive"  # the oracles agree, but no independent reference checked them
    SKIPPED = "skipped"  # see the verdict's reasons
    KNOWN = "known"  # a discrepancy explained by known_differences.toml
    MISMATCH = "mismatch"  # wrong values
    ERROR = "error"  # a broken contract or a crash
    CRASHED = "crashed"  # the test's process died (a pytest-xdist worker lost mid-test)

    @property
    def failing(self) -> bool:
        return self in FAILING


#: statuses that fail a test, a report and a run
FAILING = (Status.MISMATCH, Status.ERROR, Status.CRASHED)


def is_failing(status: str) -> bool:
    """Whether ``status`` (a :class:`Status` or its string) fails a check."""
    return status in FAILING


class FindingKind(StrEnum):
    """What one finding says is wrong."""

    MISMATCH = "mismatch"  # values disagree beyond the tolerance
    NON_FINITE = "non-finite"  # NaN/inf where a finite derivative exists
    FORWARD_ERROR = "forward-error"  # the function itself raised on the case
    ORACLE_ERROR = "oracle-error"  # an oracle (usually the backward rule) raised
    WRONG_SHAPE = "wrong-shape"  # a backward returned a gradient of the wrong shape
    WRONG_DTYPE = "wrong-dtype"
    WRONG_DEVICE = "wrong-device"
    MUTATED_INPUT = "mutated-input"  # an input was modified by a forward/backward
    MUTATED_COTANGENT = "mutated-cotangent"  # a backward wrote into its incoming gradient
    NON_DETERMINISTIC = "non-deterministic"  # two calls on the same arguments differ
    TIMEOUT = "timeout"  # the check did not finish within its time limit


#: finding kinds whose presence makes a verdict a *mismatch* (wrong values)
VALUE_FINDINGS = (FindingKind.MISMATCH, FindingKind.NON_FINITE)
#: finding kinds whose presence makes a verdict an *error* (a broken contract or a crash)
ERROR_FINDINGS = tuple(k for k in FindingKind if k not in VALUE_FINDINGS)


#: arrays with more entries than this are left out of verdict dicts (``None``): a record
#: of a check on 5 million entries must not carry 160 MB of values into every report; the
#: worst entries, the story and the reproducer still describe it
REPORT_MAX_ENTRIES = 4096


def array_to_json(a: np.ndarray | None, limit: int | None = None) -> Any:
    """Arrays as nested lists; complex entries as ``[re, im]`` pairs; ``None`` for an array
    of more than ``limit`` entries."""
    if a is None:
        return None
    a = np.asarray(a)
    if limit is not None and a.size > limit:
        return None
    if np.iscomplexobj(a):
        return np.stack([a.real, a.imag], axis=-1).tolist()
    return a.tolist()


@dataclass
class Finding:
    """One thing wrong with the case, attributed to the oracle that revealed it."""

    kind: str
    message: str
    oracle: str | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "oracle": self.oracle, "message": self.message, "details": self.details}


@dataclass
class Projection:
    """A forward-mode result: ⟨v, J u⟩ for a tangent ``u`` (one array per input)."""

    tangents: Any  # list[np.ndarray], or numeric.Directions (regenerated when read)
    value: float  # ⟨v, J u⟩
    scale: float  # Σ|v|·|J u|, for the rounding part of the tolerance
    error: float = 0.0  # estimated absolute error of ``value`` (finite differences)

    def tangent_arrays(self) -> list[np.ndarray]:
        """u, one array per input (regenerated from its seed where it was not kept)."""
        return self.tangents if isinstance(self.tangents, list) else self.tangents.arrays()


@dataclass
class OracleResult:
    """What one oracle computed for one case, in canonical form.

    ``grads[i]`` is vᵀJ for the i-th differentiated argument (float64/complex128, the
    argument's shape).  ``error[i]`` is an estimate of the absolute error of each entry
    (zero for AD oracles).  ``scale[i]``, when known, is Σ_j |v_j|·|J_jk|, the size of the
    terms that were summed into entry k: the natural yardstick for rounding errors.
    """

    name: str
    status: str = "ok"  # ok | error | unavailable
    rule: str = ""  # oracles sharing a rule must agree even at non-smooth points
    grads: list[np.ndarray] | None = None
    error: list[np.ndarray] | None = None
    scale: list[np.ndarray] | None = None
    nonsmooth: list[np.ndarray] | None = None  # boolean masks (finite differences)
    # where the function is locally Lipschitz (smooth, or a kink): every correct
    # derivative there is finite, even where its value is a matter of convention
    finite_required: list[np.ndarray] | None = None
    # where the function jumps (not Lipschitz): no derivative and no subgradient, so no
    # convention for oracles of one rule to agree on (rounding noise looks like this too)
    jumps: list[np.ndarray] | None = None
    # rounding noise of the forward itself, per entry, as a derivative-sized absolute
    # floor between analytic oracles (finite_differences.noise)
    noise_floor: list[np.ndarray] | None = None
    noise_level: float = 0.0  # finite differences: the forward's noise they allowed for (solver_tol or measured)
    unresolved: int = 0  # finite differences: entries that noise left unresolved (masked)
    nonsmooth_reasons: list[str] = field(default_factory=list)
    projections: list[Projection] = field(default_factory=list)
    jacobian: np.ndarray | None = None  # matricised (m × n) Jacobian, small cases only
    findings: list[Finding] = field(default_factory=list)
    message: str = ""  # error text / reason unavailable / notes
    seconds: float = 0.0
    evaluations: int = 0  # function calls made (finite differences; a batch counts once)
    probe: bool = False  # finite differences in probe mode: projections, no vᵀJ
    wide: bool = False  # computed in float64/complex128 whatever the case's dtype
    compile_seconds: float = 0.0  # a transform oracle: the time of its call that compiled (0: reused)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "rule": self.rule,
            "message": self.message,
            "seconds": round(self.seconds, 6),
        }
        if self.compile_seconds:
            d["compile_seconds"] = round(self.compile_seconds, 4)
        if self.grads is not None:
            d["grads"] = [array_to_json(g, REPORT_MAX_ENTRIES) for g in self.grads]
        if self.error is not None:
            d["error"] = [array_to_json(e, REPORT_MAX_ENTRIES) for e in self.error]
        if self.nonsmooth is not None:
            d["nonsmooth"] = [array_to_json(m, REPORT_MAX_ENTRIES) for m in self.nonsmooth]
        if self.projections:
            d["projections"] = [{"value": p.value, "scale": p.scale, "error": p.error} for p in self.projections]
        if self.jacobian is not None:
            d["jacobian"] = array_to_json(self.jacobian, REPORT_MAX_ENTRIES)
        return d


@dataclass
class EntryError:
    """One compared entry: where, what each side said, and the tolerance it had."""

    arg: int
    index: tuple
    expected: complex | float
    got: complex | float
    abs_error: float
    rel_error: float
    tolerance: float

    def to_dict(self) -> dict:
        def num(x):
            return [x.real, x.imag] if isinstance(x, complex) else x

        return {
            "arg": self.arg,
            "index": list(self.index),
            "expected": num(self.expected),
            "got": num(self.got),
            "abs_error": self.abs_error,
            "rel_error": self.rel_error,
            "tolerance": self.tolerance,
        }


@dataclass
class Comparison:
    """Oracle ``got`` checked against oracle ``expected``."""

    expected: str
    got: str
    passed: bool
    kind: str = "vector"  # vector | projection
    worst_ratio: float = 0.0  # max over entries of abs_error / tolerance
    compared: int = 0
    excluded: int = 0  # entries left out: non-smooth points, unbounded error estimates
    worst: list[EntryError] = field(default_factory=list)
    error_maps: list[np.ndarray | None] | None = None  # |got - expected| / tolerance per arg (None: too large to keep)
    message: str = ""
    # projection comparisons: (tolerance, σ) per probe, σ = std of ⟨Δ, u⟩ per unit ‖Δ‖
    probes: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "expected": self.expected,
            "got": self.got,
            "passed": self.passed,
            "kind": self.kind,
            "worst_ratio": self.worst_ratio,
            "compared": self.compared,
            "excluded": self.excluded,
            "worst": [w.to_dict() for w in self.worst],
            "error_maps": None if self.error_maps is None else [array_to_json(m, REPORT_MAX_ENTRIES) for m in self.error_maps],
            "message": self.message,
            "probes": [list(p) for p in self.probes],
        }
