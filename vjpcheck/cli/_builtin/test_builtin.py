"""Built-in checks of the installed frameworks, one test per chunk of ``vjpcheck run``'s plan.

Each test explores one chunk of the op catalogue or of random programs
(``vjpcheck.programs.runner``) and records its cases through the ``vjp`` fixture, grouped by
op × device × dtype × verdict; the minimal case of an unexplained discrepancy (and one
example of each known difference) carries the whole verdict. The plan (chunks and the
time budget's deadline) comes from the conftest's ``run_plan``.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from vjpcheck.cli._common import BUDGET_EXHAUSTED


def test_builtin(chunk: dict, vjp, run_plan: dict) -> None:
    from vjpcheck.programs import runner as program_run
    from vjpcheck.report.record import Record

    fields = {k: chunk[k] for k in ("mode", "examples", "seed", "op", "max_ops", "device")}
    fields["transforms"] = tuple(chunk.get("transforms", ()))
    name = chunk["op"] if chunk["mode"] == "catalogue" else "composed programs"

    def record(function, status, **more):
        vjp.record(Record(chunk["test"], function, "torch+jax", status, kind=chunk["mode"], device=chunk["device"], **more))

    if time.time() > run_plan["deadline"]:
        reason = f"vjpcheck run: {BUDGET_EXHAUSTED} before this chunk"
        record(name, "skipped", count=chunk["examples"], reasons=[reason])
        pytest.skip(reason)
    result = program_run.run_chunk(program_run.Chunk(**fields))
    groups: Counter = Counter()
    seconds: Counter = Counter()
    reasons: dict = {}
    for r in result.records:
        key = (",".join(r["dtypes"]) or "-", "mismatch" if r["status"] == "unexplained" else r["status"], r.get("known"))
        groups[key] += 1
        seconds[key] += r.get("seconds", 0.0)
        if r.get("reason"):
            reasons.setdefault(key, r["reason"])
    for (dtype, status, known), count in sorted(groups.items(), key=str):
        key = (dtype, status, known)
        record(name, status, dtype=dtype, count=count, known=known, reasons=[reasons[key]] if key in reasons else [], seconds=seconds[key])
    # one full verdict per known difference and per unexplained one (count 0: counted above)
    for example in list(result.known_examples.values()) + result.failures:
        status = "known" if example["status"] == "known" else "mismatch"
        record(example["program"], status, dtype=",".join(example["dtypes"]) or "-", count=0, known=example.get("known"),
               explanation=example["explanation"], detail=example["verdict"])
    for error in result.generation_errors:
        record(name, "error", reasons=[error[:300]], explanation=error)
    if result.failures or result.generation_errors:
        first = result.failures[0]["explanation"] if result.failures else result.generation_errors[0]
        pytest.fail(f"{len(result.failures)} unexplained discrepanc(y/ies), {len(result.generation_errors)} generation error(s); first:\n{first}", pytrace=False)
