"""Records: one per verdict (or per group of equal verdicts), with a JSON round trip.

A record says which test produced it, what was checked (function, framework, device,
dtype) and the verdict; discrepancies carry the whole verdict (case with values,
cotangent, each oracle's result, comparisons with per-entry error maps, the matricised
Jacobian when finite differences built it, the reproducer) as ``detail``. Records travel
from pytest-xdist workers to the controller as JSON text, so nothing here holds a framework
object.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .._engine.results import FAILING, Status
from .._engine.verdict import case_key

STATUSES = tuple(Status)
DISCREPANCIES = FAILING + (Status.KNOWN,)


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def plain_text(text: str) -> str:
    """``text`` without terminal colour codes (pytest's long representations carry them)."""
    return _ANSI.sub("", str(text))


def worker_id() -> str:
    """pytest-xdist's worker name (gw0, gw1, …) or "main" outside xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass
class Record:
    """One verdict (or a group of equal verdicts) as the report sees it: which test made it,
    what was checked, the status, and for discrepancies the whole verdict as ``detail``.

    Records cross process boundaries as JSON (:meth:`to_json` / :meth:`from_json`, the
    same shape as the ``records`` of the JSON report), never as pickled objects.
    """

    test: str
    function: str
    framework: str
    status: Status
    kind: str  # check | verify | skip | catalogue | composed
    device: str = "-"
    dtype: str = "-"
    count: int = 1  # cases this record stands for
    reasons: list[str] = field(default_factory=list)
    known: str | None = None  # known-differences id(s)
    explanation: str | None = None
    detail: dict | None = None  # Verdict.to_dict() of a discrepancy
    worker: str = field(default_factory=worker_id)
    seconds: float = 0.0  # time the check(s) took

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # ValueError for an unknown status
        self.count = int(self.count)
        self.reasons = list(self.reasons)
        self.seconds = float(self.seconds)

    def to_json(self) -> dict:
        """A JSON-ready dict (shallow: ``detail`` is shared, not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> "Record":
        """The inverse of :meth:`to_json`; unknown or missing fields are a ``ValueError``."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"not a vjpcheck record: unknown field(s) {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"not a vjpcheck record: {exc}") from None


def record_from_verdict(verdict, test: str, kind: str = "check") -> Record:
    """One record for one verdict; ``detail`` (the full verdict) for discrepancies only."""
    status = verdict.overall_status
    device, dtype = case_key(verdict.case)
    keep = status in DISCREPANCIES
    return Record(
        test, verdict.function, verdict.framework, status, kind=kind, device=device, dtype=dtype,
        reasons=list(verdict.reasons)[:3],
        explanation=verdict.explain() if keep else None,
        detail=verdict.to_dict() if keep else None,
        seconds=verdict.seconds,
    )


def record_from_summary(summary, test: str, kind: str = "verify") -> list[Record]:
    """Grouped records for the examples :func:`vjpcheck.verify` checked (one per
    device × dtype × verdict), with the skip reasons; the run's time is shared among them
    by their counts (shrinking attempts are not examples and are not counted)."""
    total = sum(summary.breakdown.values()) or 1
    return [
        Record(
            test, summary.function, summary.framework, status, kind=kind, device=device, dtype=dtype, count=count,
            reasons=[r for r, _ in summary.skip_reasons.most_common(3)] if status in ("skipped", "inconclusive") else [],
            seconds=summary.seconds * count / total,
        )
        for (device, dtype, status), count in sorted(summary.breakdown.items())
    ]


def dumps(records: list[Record]) -> str:
    """JSON text of records (NumPy scalars and non-finite floats handled)."""
    return json.dumps([r.to_json() for r in records], default=json_default, allow_nan=True)


def loads(text: str) -> list[Record]:
    """Records from :func:`dumps`' text."""
    return [Record.from_json(d) for d in json.loads(text)]


def strict_json(obj: Any) -> Any:
    """``obj`` with every non-finite float spelled as a string ("NaN", "Infinity",
    "-Infinity"), so that the JSON report is strict JSON (no bare NaN tokens)."""
    if isinstance(obj, float):  # numpy float64 included
        if obj != obj:
            return "NaN"
        if obj in (float("inf"), float("-inf")):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.generic):
        return strict_json(obj.item())
    if isinstance(obj, np.ndarray):
        return strict_json(obj.tolist())
    return obj


def json_default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    return repr(obj)
