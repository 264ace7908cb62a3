"""PyTorch's OpInfo samples, one test per OpInfo of ``vjpcheck opinfo``'s plan.

Each test checks the OpInfo's samples (``vjpcheck.opinfo.sweep``) and records them through
the ``vjp`` fixture: one record per dtype × order × status (with its count and the
distinct reasons), and the whole verdict of every sample that is not a plain pass or skip
(discrepancies, known differences, inconclusive checks). Unexplained discrepancies and
exceptions that escaped vjpcheck fail the test.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from vjpcheck.cli._common import BUDGET_EXHAUSTED

#: distinct reasons kept per group record
REASONS_PER_GROUP = 5


def test_opinfo(chunk: dict, vjp, run_plan: dict) -> None:
    from vjpcheck.opinfo import database, sweep
    from vjpcheck.programs import known
    from vjpcheck.report.record import Record

    def record(function, status, order, **more):
        kind = "opinfo" if order == 1 else "opinfo order 2"
        vjp.record(Record(chunk["test"], function, "torch", status, kind=kind, device=chunk["device"], **more))

    if time.time() > run_plan["deadline"]:
        reason = f"vjpcheck opinfo: {BUDGET_EXHAUSTED} before this OpInfo"
        record(chunk["op"], "skipped", 1, count=sum(chunk["samples"].values()), reasons=[reason])
        pytest.skip(reason)
    op = database.find(chunk["op"])
    outcomes = sweep.check_op(op, chunk["device"], chunk["dtypes"], chunk["samples"], chunk["order"], chunk["timeout"], known.load())
    if not outcomes:
        record(chunk["op"], "skipped", 1, reasons=[f"no samples: the OpInfo supports none of {', '.join(chunk['dtypes'])} in backward on {chunk['device']}"], count=0)
        return
    groups: dict = defaultdict(list)
    for o in outcomes:
        groups[(o.dtype, o.order, o.status, o.known)].append(o)
    for (dtype, order, status, known_id), members in sorted(groups.items(), key=str):
        reasons = list(dict.fromkeys(o.reason for o in members if o.reason))[:REASONS_PER_GROUP]
        notes = list(dict.fromkeys(n for o in members for n in o.notes if not o.escaped))[:REASONS_PER_GROUP]
        record(chunk["op"], status, order, dtype=dtype, count=len(members), known=known_id, reasons=reasons + notes, seconds=sum(o.seconds for o in members))
    for o in outcomes:
        if o.status in ("pass", "skipped"):
            continue
        label = f"{o.op} [sample {o.index}]"
        if o.escaped:
            record(label, o.status, o.order, dtype=o.dtype, count=0, reasons=[o.reason], explanation=o.notes[-1])
        elif o.verdict is not None:
            record(label, o.status, o.order, dtype=o.dtype, count=0, known=o.known, reasons=[o.reason] if o.reason else [],
                   explanation=o.verdict.explain(brief=True), detail=o.verdict.to_dict())
    failing = [o for o in outcomes if o.status in ("mismatch", "error")]
    if failing:
        first = failing[0]
        text = first.reason if first.escaped else first.verdict.explain(brief=True)
        pytest.fail(f"{len(failing)} unexplained discrepanc(y/ies) in {chunk['op']}; first ({first.dtype}, order {first.order}, sample {first.index}):\n{text}", pytrace=False)
