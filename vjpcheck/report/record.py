"""Records: one plain, JSON-ready dict per verdict (or per group of equal verdicts).

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
from typing import Any

import numpy as np

from .._engine.verdict import case_key

STATUSES = ("pass", "skipped", "known", "mismatch", "error")
DISCREPANCIES = ("mismatch", "error", "known")


def worker_id() -> str:
    """pytest-xdist's worker name (gw0, gw1, …) or "main" outside xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def make_record(test: str, function: str, framework: str, status: str, *, kind: str, device: str = "-", dtype: str = "-", count: int = 1,
                reasons=(), known: str | None = None, explanation: str | None = None, detail: dict | None = None) -> dict:
    """A record: who produced it, what was checked, the verdict, and for discrepancies
    the whole verdict as ``detail``."""
    return {
        "test": test,
        "kind": kind,
        "function": function,
        "framework": framework,
        "device": device,
        "dtype": dtype,
        "status": status,
        "count": int(count),
        "reasons": list(reasons),
        "known": known,
        "explanation": explanation,
        "detail": detail,
        "worker": worker_id(),
    }


def record_from_verdict(verdict, test: str, kind: str = "check") -> dict:
    """One record for one verdict; ``detail`` (the full verdict) for discrepancies only."""
    status = verdict.overall_status
    device, dtype = case_key(verdict.case)
    keep = status in DISCREPANCIES
    return make_record(
        test, verdict.function, verdict.framework, status, kind=kind, device=device, dtype=dtype,
        reasons=list(verdict.reasons)[:3],
        explanation=verdict.explain() if keep else None,
        detail=verdict.to_dict() if keep else None,
    )


def record_from_summary(summary, test: str, kind: str = "verify") -> list[dict]:
    """Grouped records for the examples :func:`vjpcheck.verify` checked (one per
    device × dtype × verdict), with the skip reasons."""
    return [
        make_record(
            test, summary.function, summary.framework, status, kind=kind, device=device, dtype=dtype, count=count,
            reasons=[r for r, _ in summary.skip_reasons.most_common(3)] if status == "skipped" else [],
        )
        for (device, dtype, status), count in sorted(summary.breakdown.items())
    ]


def dumps(records: list[dict]) -> str:
    """JSON text of records (NumPy scalars and non-finite floats handled)."""
    return json.dumps(records, default=json_default, allow_nan=True)


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
