"""``vjpcheck bench``: vjpcheck against the gradient checkers people use today.

In one process, on the same function and inputs, at each size n: a bare forward+backward,
vjpcheck in full mode and in probe mode (finite differences + ``y.backward``),
``torch.autograd.gradcheck`` in slow (full Jacobian) and fast mode, and
``jax.test_util.check_grads`` (reverse mode, order 1). Times are medians of repeated
runs after a warm-up; the table reports ratios, which are what survives a noisy machine.
Accuracy: the error of each finite-difference estimate of vᵀJ against the exact value
(the function has a closed-form derivative). Then the throughput of random programs
(PyTorch + finite differences), with the time split into generation, case set-up,
finite differences, backward and comparison.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Callable

import numpy as np

from . import _common

SIZES = (4, 64, 1024, 16384)
WARM_UP = 5  # random programs checked before the clock starts
#: slower methods are not timed above these sizes (their cost grows as n², minutes at 16384)
FULL_LIMITS = {"gradcheck_full": 1024, "vjpcheck_full": 4096}


def bench_function(xp):
    """The benchmark function: an elementwise product and a cumulative sum, f(x) = cumsum(x·sin x)."""
    return lambda x: xp.cumsum(x * xp.sin(x), 0)


def exact_vjp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """vᵀJ of cumsum(x·sin x): the reverse cumulative sum of v times (sin x + x·cos x)."""
    return np.cumsum(v[::-1])[::-1] * (np.sin(x) + x * np.cos(x))


def _median_time(fn: Callable[[], object], repeat: int, budget: float) -> float:
    fn()  # warm-up: compilation, caches, allocator
    times = []
    start = time.perf_counter()
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget:
            break
    return statistics.median(times)


def _sync(device: str):
    import torch

    return (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None)


def bench_sizes(sizes=SIZES, repeat: int = 5, device: str = "cpu", budget: float = 20.0, progress=print) -> list[dict]:
    """Time every method at every size; returns one row per size."""
    import jax
    import jax.numpy as jnp
    import torch
    from jax.test_util import check_grads

    from .._engine.check import check_vjp
    from ..frameworks.jax_backend import x64

    f_torch, f_jax = bench_function(torch), bench_function(jnp)
    sync = _sync(device)
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        x_np, v_np = rng.uniform(-2, 2, n), rng.standard_normal(n)
        x = torch.tensor(x_np, dtype=torch.float64, device=device)
        v = torch.tensor(v_np, dtype=torch.float64, device=device)
        exact = exact_vjp(x_np, v_np)
        row: dict = {"n": n, "device": device, "seconds": {}, "error": {}, "verdicts": {}}

        def bare():
            xr = x.detach().requires_grad_(True)
            f_torch(xr).backward(v)
            sync()

        row["seconds"]["forward_backward"] = _median_time(bare, repeat * 20, budget)
        modes = [("vjpcheck_probe", "probe")] + ([("vjpcheck_full", "full")] if n <= FULL_LIMITS["vjpcheck_full"] else [])
        for key, mode in modes:
            verdicts = []

            def run(mode=mode, verdicts=verdicts):
                verdicts[:] = [check_vjp(f_torch, x, v=v, oracles=["finite_differences", "torch.backward"], mode=mode)]

            row["seconds"][key] = _median_time(run, repeat, budget)
            verdict = verdicts[-1]
            row["verdicts"][key] = verdict.status
            fd = verdict.oracles[0]
            if fd.grads is not None:
                row["error"][key] = float(np.max(np.abs(fd.grads[0] - exact)) / np.max(np.abs(exact)))
            row.setdefault("breakdown", {})[key] = verdict.timings
            if verdict.probe:
                row.setdefault("probe", verdict.probe["per_oracle"].get("torch.backward"))
        xg = x.detach().clone().requires_grad_(True)
        if n <= FULL_LIMITS["gradcheck_full"]:
            row["seconds"]["gradcheck_full"] = _median_time(lambda: torch.autograd.gradcheck(f_torch, (xg,)), repeat, budget)
            row["error"]["gradcheck_full"] = _gradcheck_fd_error(f_torch, x_np, v_np, exact)
        row["seconds"]["gradcheck_fast"] = _median_time(lambda: torch.autograd.gradcheck(f_torch, (xg,), fast_mode=True), repeat, budget)
        with x64():
            xj = jnp.asarray(x_np)
            jax_fn = jax.jit(f_jax)
            row["seconds"]["jax_check_grads"] = _median_time(
                lambda: check_grads(jax_fn, (xj,), order=1, modes=("rev",)), repeat, budget
            )
        bare_t = row["seconds"]["forward_backward"]
        row["ratio_to_forward_backward"] = {k: t / bare_t for k, t in row["seconds"].items()}
        if "gradcheck_full" in row["seconds"] and "vjpcheck_full" in row["seconds"]:
            row["speedup_full_vs_gradcheck_full"] = row["seconds"]["gradcheck_full"] / row["seconds"]["vjpcheck_full"]
        rows.append(row)
        progress(_format_row(row))
    return rows


def _gradcheck_fd_error(f, x_np, v_np, exact) -> float:
    """The error of vᵀJ from central differences with gradcheck's default step (eps=1e-6)."""
    import torch

    eps = 1e-6
    n = x_np.size
    with torch.no_grad():
        X = torch.tensor(np.repeat(x_np[None], n, 0))
        E = torch.eye(n, dtype=torch.float64) * eps
        plus = torch.func.vmap(f)(X + E).numpy()
        minus = torch.func.vmap(f)(X - E).numpy()
    est = (plus - minus) / (2 * eps) @ v_np
    return float(np.max(np.abs(est - exact)) / np.max(np.abs(exact)))


def bench_programs(seconds: float = 20.0, seed: int = 0, max_ops: int = 4, programs: int | None = None) -> dict:
    """Random programs checked by PyTorch's backward + finite differences (of the PyTorch
    lowering, batched): cases per second in this process, and where the time goes.

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
            oracles=["finite_differences", "torch.backward"],
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


def _format_row(row: dict) -> str:
    s = row["seconds"]
    bare = s["forward_backward"]
    parts = [f"n={row['n']:>6}  fwd+bwd {bare * 1e3:8.3f} ms"]
    for key in ("vjpcheck_full", "vjpcheck_probe", "gradcheck_full", "gradcheck_fast", "jax_check_grads"):
        if key in s:
            parts.append(f"{key} {s[key] / bare:9.1f}x")
    if "speedup_full_vs_gradcheck_full" in row:
        parts.append(f"full vs gradcheck-full: {row['speedup_full_vs_gradcheck_full']:.1f}x faster")
    return " | ".join(parts)


def run_bench(sizes=SIZES, repeat: int = 5, device: str = "cpu", program_seconds: float = 20.0, workers: int = 2, report: str | None = None, progress=print) -> dict:
    """The whole bench; writes ``report`` (JSON) when given."""
    import platform

    import torch

    progress(f"vjpcheck bench on {device} (times: medians; ratios to a bare forward+backward)")
    rows = bench_sizes(sizes, repeat, device, progress=progress)
    result: dict = {"device": device, "machine": platform.machine(), "cpu_count": os.cpu_count(), "torch": torch.__version__, "sizes": rows}
    if device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name(0)
    if program_seconds > 0:
        progress(f"random programs, PyTorch + finite differences, {workers} worker(s), {program_seconds:g} s ...")
        result["programs"] = _programs_parallel(program_seconds, workers)
        p = result["programs"]
        progress(
            f"  {p['cases_per_second']:.1f} cases/s on {workers} worker(s) ({p['cases']} cases; per case: "
            + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in p["seconds_per_case"].items())
            + f"; generation {p['generation_seconds_per_case'] * 1e3:.2f} ms)"
        )
    if report:
        os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
        with open(report, "w") as fh:
            json.dump(result, fh, indent=2)
        progress(f"report: {report}")
    return result


def _programs_parallel(seconds: float, workers: int) -> dict:
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


# ---- the command -----------------------------------------------------------------------


def add_parser(sub):
    be = sub.add_parser(
        "bench",
        help="time vjpcheck against gradcheck, check_grads and a bare forward+backward",
        description=(
            "In one process, on the same function and inputs: vjpcheck (full and probe mode) vs "
            "torch.autograd.gradcheck (slow and fast mode), jax.test_util.check_grads and a bare "
            "forward+backward, at each size; ratios printed, then random-program throughput."
        ),
    )
    be.add_argument("--sizes", type=_common.sizes, default="4,64,1024,16384", help="comma-separated input sizes (default 4,64,1024,16384)")
    be.add_argument("--repeat", type=_common.positive_int, default=5, help="timed runs per method (median; default 5)")
    be.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    be.add_argument("--program-seconds", type=_common.nonnegative_seconds, default=20.0, help="seconds of random programs per worker (0: skip; default 20)")
    be.add_argument("--workers", type=_common.positive_int, default=2, help="worker processes for the programs (default 2)")
    be.add_argument("--report", default=os.path.join("reports", "bench.json"), help="JSON report path")
    return be


def main(args) -> int:
    import sys

    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        print(f"vjpcheck bench: --device must be cpu or cuda, got {args.device!r}", file=sys.stderr)
        return 2
    code = _common.prepare("bench", args.report) or _common.cuda_missing("bench", [args.device])
    if code:
        return code
    run_bench(args.sizes, args.repeat, args.device, args.program_seconds, args.workers, args.report)
    return 0
