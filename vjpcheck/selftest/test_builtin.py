"""Built-in checks of the installed frameworks, one test per chunk of ``vjpcheck run``'s plan.

Each test explores one chunk of the op catalogue or of random programs
(``vjpcheck.programs.run``) and records its cases through the ``vjp`` fixture, grouped by
op × device × dtype × verdict; the minimal case of an unexplained discrepancy (and one
example of each known difference) carries the whole verdict. The plan (chunks and the
time budget's deadline) comes from the JSON file named by ``VJPCHECK_RUN_PLAN``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

PLAN_ENV = "VJPCHECK_RUN_PLAN"


def _plan() -> dict:
    path = os.environ.get(PLAN_ENV)
    if not path:
        raise pytest.UsageError(f"{PLAN_ENV} is not set: these tests are run by `vjpcheck run`")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chunk" in metafunc.fixturenames:
        chunks = _plan()["chunks"]
        metafunc.parametrize("chunk", chunks, ids=[c["id"] for c in chunks])


def test_builtin(chunk: dict, vjp) -> None:
    from vjpcheck.programs import run as program_run
    from vjpcheck.report.records import worker_id

    fields = {k: chunk[k] for k in ("mode", "examples", "seed", "op", "max_ops", "device")}
    name = chunk["op"] if chunk["mode"] == "catalogue" else "composed programs"
    base = {"test": chunk["test"], "kind": chunk["mode"], "framework": "torch+jax", "device": chunk["device"], "worker": worker_id()}
    if time.time() > _plan()["deadline"]:
        reason = "vjpcheck run: time budget exhausted before this chunk"
        vjp.record({**base, "function": name, "dtype": "-", "status": "skipped", "count": chunk["examples"], "reasons": [reason], "known": None, "explanation": None, "detail": None})
        pytest.skip(reason)
    result = program_run.run_chunk(program_run.Chunk(**fields))
    groups: Counter = Counter()
    reasons: dict = {}
    for r in result.records:
        status = "mismatch" if r["status"] == "unexplained" else r["status"]
        key = (name, ",".join(r["dtypes"]) or "-", status, r.get("known"))
        groups[key] += 1
        if r.get("reason"):
            reasons.setdefault(key, r["reason"])
    for (function, dtype, status, known), count in sorted(groups.items(), key=str):
        vjp.record({**base, "function": function, "dtype": dtype, "status": status, "count": count, "reasons": [reasons[(function, dtype, status, known)]] if (function, dtype, status, known) in reasons else [], "known": known, "explanation": None, "detail": None})
    for example in list(result.known_examples.values()) + result.failures:
        status = "known" if example["status"] == "known" else "mismatch"
        vjp.record(
            {**base, "function": example["program"], "dtype": ",".join(example["dtypes"]) or "-", "status": status, "count": 0,
             "reasons": [], "known": example.get("known"), "explanation": example["explanation"], "detail": example["verdict"]}
        )
    for error in result.generation_errors:
        vjp.record({**base, "function": name, "dtype": "-", "status": "error", "count": 1, "reasons": [error[:300]], "known": None, "explanation": error, "detail": None})
    if result.failures or result.generation_errors:
        first = result.failures[0]["explanation"] if result.failures else result.generation_errors[0]
        pytest.fail(f"{len(result.failures)} unexplained discrepanc(y/ies), {len(result.generation_errors)} generation error(s); first:\n{first}", pytrace=False)
