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

from ..verdict import case_key

STATUSES = ("pass", "skipped", "known", "mismatch", "error")
DISCREPANCIES = ("mismatch", "error", "known")


def worker_id() -> str:
    """pytest-xdist's worker name (gw0, gw1, …) or "main" outside xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def record_from_verdict(verdict, test: str, kind: str = "check", status: str | None = None, known: str | None = None, with_detail: bool | None = None) -> dict:
    """One record for one verdict; ``detail`` (the full verdict) for discrepancies."""
    data = verdict.to_dict()
    status = status or verdict.overall_status
    device, dtype = case_key(data.get("case", {}))
    keep = status in DISCREPANCIES if with_detail is None else with_detail
    return {
        "test": test,
        "kind": kind,
        "function": verdict.function,
        "framework": verdict.framework,
        "device": device,
        "dtype": dtype,
        "status": status,
        "count": 1,
        "reasons": list(verdict.reasons)[:3],
        "known": known,
        "explanation": verdict.explain() if keep else None,
        "detail": data if keep else None,
        "worker": worker_id(),
    }


def record_from_summary(summary, test: str, kind: str = "verify") -> list[dict]:
    """Grouped records for the examples :func:`vjpcheck.verify` checked (one per
    device × dtype × verdict), with the skip reasons."""
    out = []
    for (device, dtype, status), count in sorted(summary.breakdown.items()):
        out.append(
            {
                "test": test,
                "kind": kind,
                "function": summary.function,
                "framework": summary.framework,
                "device": device,
                "dtype": dtype,
                "status": status,
                "count": int(count),
                "reasons": [r for r, _ in summary.skip_reasons.most_common(3)] if status == "skipped" else [],
                "known": None,
                "explanation": None,
                "detail": None,
                "worker": worker_id(),
            }
        )
    return out


def dumps(records: list[dict]) -> str:
    """JSON text of records (NumPy scalars and non-finite floats handled)."""
    return json.dumps(records, default=_default, allow_nan=True)


def _default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    return repr(obj)
