"""Catch / false-alarm table of vjpcheck.verify on the planted-bug suite, with timings.

    python benchmarks/verify_planted.py

Default verify settings (100 examples; run without CI set), seed 0, no example database.
For each planted wrong rule: caught?, finding kinds, the minimal case, seconds; for its
correct twin: verdict counts and seconds.
"""

import os
import sys
import time

from hypothesis import settings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from test_verify import ALL, SPECS  # noqa: E402

import vjpcheck  # noqa: E402


def main():
    fresh = settings(database=None)
    rows = []
    print("| planted rule | caught | kinds | minimal case | s | correct twin | s |")
    print("|---|---|---|---|---|---|---|")
    for planted in ALL:
        specs, options = SPECS[planted.name]
        start = time.perf_counter()
        try:
            vjpcheck.verify(planted.buggy, *specs(), seed=0, hypothesis_settings=fresh, **options)
            caught, kinds, minimal = "NO", "", ""
        except vjpcheck.VJPMismatch as failure:
            verdict = failure.verdict
            caught = "yes"
            kinds = ",".join(sorted(verdict.finding_kinds()))
            minimal = "; ".join(a["description"] for a in verdict.case.get("args", []) if a.get("differentiated"))
        bug_s = time.perf_counter() - start
        start = time.perf_counter()
        try:
            summary = vjpcheck.verify(planted.correct, *specs(), seed=0, hypothesis_settings=fresh, **options)
            twin = f"{summary.counts['pass']} pass / {summary.counts['skipped']} skip / 0 false alarm"
        except vjpcheck.VJPMismatch as failure:
            twin = "FALSE ALARM: " + failure.verdict.summary()
        twin_s = time.perf_counter() - start
        rows.append((planted.name, caught, twin))
        print(f"| {planted.name} | {caught} | {kinds} | {minimal} | {bug_s:.1f} | {twin} | {twin_s:.1f} |", flush=True)
    caught = sum(r[1] == "yes" for r in rows)
    alarms = sum(r[2].startswith("FALSE") for r in rows)
    print(f"\ncaught {caught}/{len(rows)}; false alarms on correct twins: {alarms}/{len(rows)}")


if __name__ == "__main__":
    main()
