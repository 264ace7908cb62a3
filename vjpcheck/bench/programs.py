"""Random-program throughput: cases per second, and where the time of a case goes."""

from __future__ import annotations

import statistics
import time

WARM_UP = 5  # random programs checked before the clock starts


def bench_programs(seconds: float = 20.0, seed: int = 0, max_ops: int = 4, programs: int | None = None) -> dict:
    """Random programs (their PyTorch lowering) checked with the default oracles: cases
    per second in this process, and where the time goes.

    ``seconds`` bounds the run (a third drawing, the rest checking); ``programs`` instead
    checks exactly that many (after the warm-up), however long it takes."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    from .._engine.check import check_vjp
    from ..programs import programs as program_strategy

    cases, generation = [], []
    deadline = time.perf_counter() + seconds / 3  # a third of the time drawing programs

    def enough() -> bool:
        return len(cases) >= programs + WARM_UP if programs is not None else time.perf_counter() > deadline

    @hypothesis_seed(seed)
    @settings(max_examples=100_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data):
        if enough():
            return
        t = time.perf_counter()
        cases.append(data.draw(program_strategy(max_ops=max_ops)))
        generation.append(time.perf_counter() - t)

    try:
        draw()
    except Exception:  # noqa: BLE001 - a generation problem ends the drawing, not the bench
        pass
    totals = {"generation": sum(generation)}
    statuses: dict[str, int] = {}
    checked = 0

    def check(case):
        return check_vjp(
            case.program.lower("torch"),
            *[a.to("torch") for a in case.inputs],
            v=case.cotangent.to("torch"),
            seed=seed,
        )

    for case in cases[:WARM_UP]:  # first calls import and initialise lazily: not timed
        check(case)
    start = time.perf_counter()
    for case in cases[WARM_UP:]:
        if programs is None and time.perf_counter() - start > seconds:
            break
        verdict = check(case)
        checked += 1
        statuses[verdict.status] = statuses.get(verdict.status, 0) + 1
        for k, t in verdict.timings.items():
            totals[k] = totals.get(k, 0.0) + t
    check_time = time.perf_counter() - start
    mean_generation = totals["generation"] / max(len(generation), 1)
    return {
        "cases": checked,
        "statuses": statuses,
        "check_seconds": check_time,
        "checks_per_second": checked / check_time if check_time else 0.0,
        "generation_seconds_per_case": mean_generation,
        "cases_per_second_with_generation": checked / (check_time + mean_generation * checked) if checked else 0.0,
        "seconds_per_case": {k: v / max(checked, 1) for k, v in totals.items() if k != "generation"},
    }


def programs_parallel(seconds: float, workers: int) -> dict:
    """:func:`bench_programs` in ``workers`` processes at once; rates add up."""
    if workers <= 1:
        out = bench_programs(seconds)
        out["cases_per_second"] = out["cases_per_second_with_generation"]
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        parts = list(pool.map(bench_programs, [seconds] * workers, range(workers)))
    cases = sum(p["cases"] for p in parts)
    keys = {k for p in parts for k in p["seconds_per_case"]}
    merged = {k: sum(p["seconds_per_case"].get(k, 0) * p["cases"] for p in parts) / max(cases, 1) for k in keys}
    statuses: dict[str, int] = {}
    for p in parts:
        for k, c in p["statuses"].items():
            statuses[k] = statuses.get(k, 0) + c
    return {
        "workers": workers,
        "cases": cases,
        "statuses": statuses,
        "cases_per_second": sum(p["cases_per_second_with_generation"] for p in parts),
        "checks_per_second": sum(p["checks_per_second"] for p in parts),
        "generation_seconds_per_case": statistics.mean(p["generation_seconds_per_case"] for p in parts),
        "seconds_per_case": merged,
    }
