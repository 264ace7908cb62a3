"""From records to what a report shows: counts, tables, and one view per discrepancy."""

from __future__ import annotations

import datetime
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .._engine.results import FAILING, Status
from .._engine.verdict import argument_label
from .record import DISCREPANCIES, STATUSES, Record

MAX_ENTRIES = 64  # oracle results: entries listed per argument
MAX_CELLS = 4096  # heat-map cells per argument
MAX_JACOBIAN = 48  # rows / columns of the Jacobian shown
CLEAN, FAILED, INTERRUPTED, NOTHING_CHECKED = "clean", "failed", "interrupted", "nothing-checked"
#: test kinds of records made for tests that failed or crashed outside vjpcheck's checks
OUTSIDE_KINDS = ("crash",)


@dataclass
class ReportModel:
    """Everything the HTML, JSON and JUnit writers need."""

    title: str
    created: str
    records: list[dict]
    totals: dict
    matrix: list[dict]  # framework × device × dtype → counts per status
    functions: list[dict]  # function → tests, counts per status
    discrepancies: list[dict]
    workers: dict = field(default_factory=dict)  # worker → {"records", "cases", "reported"}
    problems: list[str] = field(default_factory=list)  # lost / duplicated records
    meta: dict = field(default_factory=dict)  # environment: versions, platform, seed, command
    incomplete: str | None = None  # why the run did not finish (interrupted, killed, running)
    failed_tests: list[dict] = field(default_factory=list)  # tests that failed outside vjpcheck
    seconds: float = 0.0  # checking time over all records

    @property
    def outcome(self) -> str:
        """``interrupted`` (the run did not finish), ``failed`` (a discrepancy, a test that
        failed or crashed, lost records), ``nothing-checked`` (no case was compared), or
        ``clean``. Only ``clean`` is clean."""
        if self.incomplete:
            return INTERRUPTED
        if any(self.totals.get(s, 0) for s in FAILING) or self.problems:
            return FAILED
        if not sum(n for s, n in self.totals.items() if s not in (Status.SKIPPED, Status.INCONCLUSIVE)):
            return NOTHING_CHECKED
        return CLEAN

    @property
    def clean(self) -> bool:
        return self.outcome == CLEAN

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "created": self.created,
            "outcome": self.outcome,
            "clean": self.clean,
            "incomplete": self.incomplete,
            "failed_tests": self.failed_tests,
            "seconds": self.seconds,
            "totals": self.totals,
            "matrix": self.matrix,
            "functions": self.functions,
            "workers": self.workers,
            "problems": self.problems,
            "meta": self.meta,
            "records": self.records,
        }


def build_model(records: Sequence[Record], title: str = "vjpcheck report", worker_totals: dict | None = None, meta: dict | None = None, incomplete: str | None = None, problems: Sequence[str] = ()) -> ReportModel:
    """Aggregate ``records``; ``worker_totals`` (worker → cases it recorded, from
    pytest-xdist's workeroutput) are checked against what arrived; ``incomplete`` says why
    the run did not finish (the report is then *interrupted*, never clean)."""
    records = sorted((r.to_json() for r in records), key=lambda r: (r["test"], r["function"], r["device"], r["dtype"], r["status"]))
    totals = Counter()
    matrix = defaultdict(Counter)
    functions: dict = {}
    workers: dict = defaultdict(lambda: {"records": 0, "cases": 0})
    for r in records:
        totals[r["status"]] += r["count"]
        if r["count"]:  # a record of no case (an OpInfo without samples in the dtypes) is no matrix row
            matrix[(r["framework"], r["device"], r["dtype"])][r["status"]] += r["count"]
        f = functions.setdefault((r["function"], r["framework"]), {"function": r["function"], "framework": r["framework"], "tests": set(), "counts": Counter()})
        f["tests"].add(r["test"])
        f["counts"][r["status"]] += r["count"]
        w = workers[r.get("worker", "main")]
        w["records"] += 1
        w["cases"] += r["count"]
    problems = list(problems)
    for name, reported in (worker_totals or {}).items():
        got = workers[name]["cases"] if name in workers else 0
        workers[name]["reported"] = reported
        if reported != got:
            problems.append(f"worker {name} recorded {reported} cases but {got} reached the controller")
    matrix_rows = [
        {"framework": fw, "device": dev, "dtype": dt, "counts": {s: c.get(s, 0) for s in STATUSES}, "total": sum(c.values())}
        for (fw, dev, dt), c in sorted(matrix.items())
    ]
    function_rows = [
        {"function": f["function"], "framework": f["framework"], "tests": sorted(f["tests"]), "counts": {s: f["counts"].get(s, 0) for s in STATUSES}, "total": sum(f["counts"].values())}
        for f in sorted(functions.values(), key=lambda f: (-sum(f["counts"][s] for s in FAILING), f["function"]))
    ]
    discrepancies = [discrepancy_view(r, k) for k, r in enumerate(r for r in records if r["status"] in DISCREPANCIES and r.get("detail"))]
    for row in function_rows:
        row["discrepancies"] = [d["id"] for d in discrepancies if (d["record"]["function"], d["record"]["framework"]) == (row["function"], row["framework"])]
    return ReportModel(
        title=title,
        created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        records=records,
        totals={s: totals.get(s, 0) for s in STATUSES},
        matrix=matrix_rows,
        functions=function_rows,
        discrepancies=discrepancies,
        workers=dict(workers),
        problems=problems,
        meta=meta or {},
        incomplete=incomplete,
        failed_tests=[
            {"test": r["test"], "status": r["status"], "when": r["kind"], "message": (r.get("reasons") or [""])[0]}
            for r in records if r["kind"].startswith("test-") or r["kind"] in OUTSIDE_KINDS
        ],
        seconds=round(sum(r.get("seconds", 0.0) for r in records), 3),
    )


# ---- one discrepancy ---------------------------------------------------------------


def discrepancy_view(record: dict, index: int) -> dict:
    """What the report shows for one discrepancy: the minimal case, the cotangent, each
    oracle's result side by side, the per-entry error as a heat map, the matricised
    Jacobian with the reshape explained, and the reproducer."""
    detail = record["detail"]
    case = detail.get("case", {})
    failing = [c for c in detail.get("comparisons", []) if not c.get("passed")]
    # the heat map shows the failing comparison against finite differences when there is one
    # (a ratio read back from strict JSON may be "Infinity")
    worst = max(failing, key=lambda c: ("finite_differences" in (c["got"], c["expected"]), float(c.get("worst_ratio") or 0.0))) if failing else None
    diff_args = [a for a in case.get("args", []) if a.get("differentiated")]
    story = detail.get("story")
    headline = story["headline"] if story else ""
    findings = detail.get("findings", [])
    if story:  # the pairwise mismatch findings are the story and the table below, once
        findings = [f for f in findings if f.get("kind") != "mismatch" or (f.get("oracle") or "").startswith("twin")]
    return {
        "id": f"d{index}",
        "record": record,
        "status": record["status"],
        "known": record.get("known"),
        "title": f"{record['function']} — {record['status']}" + (f" (known: {record['known']})" if record.get("known") else ""),
        "headline": headline,
        "story": story,
        "findings": findings,
        "suspects": detail.get("suspects", []),
        "args": [_array_view(a) for a in case.get("args", [])],
        "cotangents": [_array_view(c) for c in case.get("cotangents", []) if c],
        "outputs": case.get("outputs", []),
        "source": case.get("source"),
        "oracles": _oracle_table(detail, diff_args, worst),
        "heatmaps": _heatmaps(worst, diff_args) if worst else [],
        "comparison": worst,
        "jacobian": _jacobian_view(detail, case),
        "explanation": record.get("explanation") or "",
        "reproducer": detail.get("reproducer", ""),
        "notes": detail.get("notes", []),
    }


def _array_view(a: dict) -> dict:
    values = a.get("values")
    text = None
    if values is not None:
        arr = _from_json(values, a.get("dtype", ""))
        text = np.array2string(arr, precision=6, threshold=256, max_line_width=100) if arr is not None else None
    return {
        "name": argument_label(a) if "index" in a else a.get("name"),
        "description": a.get("description") or a.get("value") or "",
        "shape": a.get("shape"),
        "dtype": a.get("dtype"),
        "device": a.get("device"),
        "layout": a.get("layout"),
        "strides": a.get("strides"),
        "offset": a.get("offset"),
        "differentiated": a.get("differentiated"),
        "text": text,
    }


def _from_json(values, dtype: str):
    if values is None:  # left out of the verdict: too many entries (REPORT_MAX_ENTRIES)
        return None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if dtype.startswith("complex") and arr.ndim and arr.shape[-1] == 2:
        arr = arr[..., 0] + 1j * arr[..., 1]
    return arr


def _fmt(x) -> str:
    if isinstance(x, (list, tuple)) and len(x) == 2:
        return f"{x[0]:.6g}{x[1]:+.6g}j"
    if isinstance(x, (int, float)):
        return f"{x:.10g}"
    return str(x)


def _oracle_table(detail: dict, diff_args: list[dict], worst: dict | None) -> list[dict]:
    """Per differentiated argument: rows = entries, columns = oracles (one column per group
    of oracles that agree, named by what they stand for), each entry once. Cells over the
    tolerance in the worst comparison are marked ``wrong``; entries finite differences left
    out at non-smooth points are marked ``excluded``."""
    results = {o["name"]: o for o in detail.get("oracles", []) if o.get("grads") is not None}
    story = detail.get("story")
    if story:
        columns = [(p["role"], p["names"], results.get(next((n for n in p["names"] if n in results), ""))) for p in story["parties"]]
        columns = [(role, names, o) for role, names, o in columns if o is not None]
    else:
        columns = [(name, [name], o) for name, o in results.items()]
    fd = results.get("finite_differences")
    maps = (worst or {}).get("error_maps") or []
    tables = []
    for k, arg in enumerate(diff_args):
        shape = tuple(arg.get("shape") or ())
        arrays = []
        for _, _, o in columns:
            arr = _from_json(o["grads"][k], arg.get("dtype", "")) if k < len(o["grads"]) else None
            arrays.append(None if arr is None else arr.reshape(-1))
        ratios = np.asarray(maps[k], dtype=np.float64).reshape(-1) if k < len(maps) and maps[k] is not None else None
        excluded = np.asarray(fd["nonsmooth"][k], dtype=bool).reshape(-1) if fd and fd.get("nonsmooth") and k < len(fd["nonsmooth"]) and fd["nonsmooth"][k] is not None else None
        n = int(np.prod(shape)) if shape else 1
        order = list(range(n if ratios is not None else min(n, MAX_ENTRIES)))
        if ratios is not None and n > MAX_ENTRIES:  # the wrong entries first when not all fit
            order.sort(key=lambda i: -(ratios[i] if i < ratios.size and np.isfinite(ratios[i]) else np.inf))
        rows = []
        for flat in order[:MAX_ENTRIES]:
            index = list(np.unravel_index(flat, shape)) if shape else []
            ratio = float(ratios[flat]) if ratios is not None and flat < ratios.size else None
            rows.append({
                "index": str([int(i) for i in index]),
                "values": [_fmt(c[flat].item()) if c is not None and flat < c.size else "–" for c in arrays],
                "wrong": ratio is not None and not ratio <= 1.0,
                "excluded": bool(excluded is not None and flat < excluded.size and excluded[flat]),
                "ratio": ratio,
            })
        tables.append({"arg": argument_label(arg), "oracles": [role for role, _, _ in columns], "members": [", ".join(names) for _, names, _ in columns], "rows": rows, "truncated": max(0, n - MAX_ENTRIES)})
    projections = [
        {"name": o["name"], "values": [p["value"] for p in o.get("projections", [])]} for o in detail.get("oracles", []) if o.get("projections")
    ]
    if projections:
        tables.append({"arg": None, "projections": projections})
    return tables


def _heatmaps(comparison: dict, diff_args: list[dict]) -> list[dict]:
    """|got − expected| / tolerance per entry, as 2-D grids of colour classes."""
    maps = comparison.get("error_maps") or []
    out = []
    for k, (m, arg) in enumerate(zip(maps, diff_args)):
        if m is None:  # too many entries to keep (REPORT_MAX_ENTRIES): the worst entries say it
            continue
        arr = np.asarray(m, dtype=np.float64)
        if arr.size == 0:  # an empty argument: no entry to draw (reshape(-1, 0) is ambiguous)
            continue
        shape = arr.shape
        grid = arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(1, -1) if arr.ndim == 1 else arr.reshape(-1, shape[-1])
        cells, row_labels = [], []
        for r, row in enumerate(grid[: max(1, MAX_CELLS // max(grid.shape[1], 1))]):
            cells.append([{"ratio": float(x), "level": _level(float(x)), "index": str([int(i) for i in np.unravel_index(r * grid.shape[1] + c, shape)]) if shape else "[]"} for c, x in enumerate(row)])
            lead = np.unravel_index(r * grid.shape[1], shape)[:-1] if len(shape) >= 2 else ()
            row_labels.append(",".join(str(int(i)) for i in lead) or "·")
        out.append(
            {
                "arg": argument_label(arg),
                "shape": list(shape),
                "grid": cells,
                "row_labels": row_labels,  # the leading indices of each row
                "column_labels": [str(c) for c in range(grid.shape[1])],  # the last index
                "note": "" if arr.ndim <= 2 else f"shape {tuple(shape)} shown as {grid.shape[0]} rows × {grid.shape[1]} (leading dims flattened)",
                "against": f"{comparison['got']} vs {comparison['expected']}",
            }
        )
    return out


def _level(ratio: float) -> int:
    """Colour class: 0 ≤ 0.1 of the tolerance … 4 ≤ 1 (passes); 5–9 over it (log10 steps)."""
    if not math.isfinite(ratio):
        return 9
    if ratio <= 1.0:
        return min(4, max(0, int(4 + math.log10(max(ratio, 1e-4)))))
    return min(9, 5 + int(math.log10(ratio)))


def _jacobian_view(detail: dict, case: dict) -> dict | None:
    fd = next((o for o in detail.get("oracles", []) if o.get("name") == "finite_differences" and o.get("jacobian") is not None), None)
    if fd is None:
        return None
    J = np.asarray(fd["jacobian"], dtype=np.float64)
    if J.ndim != 2:
        return None
    outputs = [o for o in case.get("outputs", []) if o.get("differentiable")]
    inputs = [a for a in case.get("args", []) if a.get("differentiated")]
    row_labels = _labels(outputs, "y")
    col_labels = _labels(inputs, "x")
    m, n = J.shape
    explain = []
    for o_i, o in enumerate(outputs):
        for a_i, a in enumerate(inputs):
            ys, xs = tuple(o.get("shape") or ()), tuple(a.get("shape") or ())
            explain.append(
                f"∂y{o_i}/∂x{a_i}: y{o_i} has shape {ys} ({int(np.prod(ys)) if ys else 1} entries), x{a_i} has shape {xs} "
                f"({int(np.prod(xs)) if xs else 1} entries); the block has shape {ys + xs} = y.shape + x.shape and is read as "
                f"the {int(np.prod(ys)) if ys else 1}×{int(np.prod(xs)) if xs else 1} matrix J[i, j] = ∂y_flat[i] / ∂x_flat[j] "
                "(row-major flattening)"
            )
    return {
        "m": m,
        "n": n,
        "rows": [{"label": row_labels[i] if i < len(row_labels) else str(i), "values": [f"{x:.6g}" for x in J[i, :MAX_JACOBIAN]]} for i in range(min(m, MAX_JACOBIAN))],
        "columns": col_labels[:MAX_JACOBIAN],
        "truncated": m > MAX_JACOBIAN or n > MAX_JACOBIAN,
        "explain": explain,
        "formula": "vᵀJ = (v.reshape(-1) @ J).reshape(x.shape)",
    }


def _labels(arrays: list[dict], name: str) -> list[str]:
    labels = []
    for k, a in enumerate(arrays):
        shape = tuple(a.get("shape") or ())
        n = int(np.prod(shape)) if shape else 1
        for flat in range(n):
            idx = [int(i) for i in np.unravel_index(flat, shape)] if shape else []
            labels.append(f"{name}{k}{idx}")
    return labels
