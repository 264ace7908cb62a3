"""``vjpcheck programs``: the op catalogue and random composed programs in worker processes,
PyTorch vs JAX vs finite differences of the NumPy lowering, summarised in a JSON report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from ..frameworks import framework_versions
from ._common import cuda_missing, names, nonnegative_int, positive_int, prepare, transforms_list


def add_parser(sub) -> argparse.ArgumentParser:
    pr = sub.add_parser(
        "programs",
        help="random programs over the op registry: PyTorch vs JAX vs finite differences of NumPy",
        description=(
            "The op catalogue (each op alone over random shapes, values, layouts, dtypes) and/or "
            "random composed programs; every case compares PyTorch, JAX and finite differences "
            "of the NumPy float64 lowering. Known differences (known_differences.toml) are "
            "listed but do not fail the run."
        ),
    )
    pr.add_argument("--mode", choices=["catalogue", "composed", "all"], default="all", help="default: all")
    pr.add_argument("--per-op", type=positive_int, default=20, help="catalogue examples per op (default 20)")
    pr.add_argument("--programs", type=positive_int, default=500, help="composed programs (default 500)")
    pr.add_argument("--max-ops", type=positive_int, default=5, help="most ops per composed program (default 5)")
    pr.add_argument("--ops", type=names, default=None, help="comma-separated op names (catalogue mode; default all)")
    pr.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    pr.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    pr.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the PyTorch and JAX lowerings run (default cpu)")
    pr.add_argument("--transforms", type=transforms_list, default=(), help="also check the gradient under these transforms, comma-separated: compile,func-compile,vmap (jit) or all (default none)")
    pr.add_argument("--report", default=os.path.join("reports", "programs.json"), help="JSON report path")
    pr.add_argument("--quiet", action="store_true", help="no progress display")
    return pr


def main(args: argparse.Namespace) -> int:
    from ..programs import runner as program_run

    try:
        chunks = []
        if args.mode in ("catalogue", "all"):
            chunks += program_run.plan("catalogue", args.per_op, args.seed, ops=args.ops, device=args.device, transforms=args.transforms)
        if args.mode in ("composed", "all"):
            chunks += program_run.plan("composed", args.programs, args.seed, max_ops=args.max_ops, device=args.device, transforms=args.transforms)
    except ValueError as exc:
        print(f"vjpcheck programs: {exc}", file=sys.stderr)
        return 2
    code = prepare("programs", args.report) or cuda_missing("programs", [args.device])
    if code:
        return code
    summary = program_run.Summary()
    started = time.perf_counter()
    for k, result in enumerate(program_run.run(chunks, workers=args.workers), start=1):
        summary.add(result)
        if not args.quiet:
            bad = len(summary.failures) + len(summary.generation_errors)
            print(f"\r  {k}/{len(chunks)} chunks, {summary.total()} cases, {bad} unexplained, {time.perf_counter() - started:.0f}s", end="", file=sys.stderr, flush=True)
    if not args.quiet:
        print(file=sys.stderr)
    summary.seconds = time.perf_counter() - started
    report = {"command": "programs", "options": vars(args), "versions": framework_versions(), **summary.to_dict()}
    with open(args.report, "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    _print_summary(summary, report, args.report)
    return 0 if summary.clean else 1


def _print_summary(summary, report: dict, path: str) -> None:
    print(f"vjpcheck programs: {summary.total()} cases in {summary.seconds:.1f}s (torch {report['versions']['torch']}, jax {report['versions']['jax']})")
    for mode in ("catalogue", "composed"):
        n = summary.total(mode)
        if n:
            by = {s: summary.counts[(mode, s)] for s in ("pass", "skipped", "known", "unexplained")}
            print(f"  {mode}: {n} cases — " + ", ".join(f"{k} {v}" for k, v in by.items()))
    for (mode, reason), n in summary.skip_reasons.most_common(8):
        print(f"  skipped {n}× ({mode}) — {reason}")
    for line in transform_lines(summary.transforms, summary.compile_seconds):
        print(line)
    for entry, n in sorted(Counter(i for r in summary.known for i in r["known"].split(",")).items()):
        print(f"  known difference: {entry} ({n}×)")
    for failure in summary.failures[:20]:
        print(f"  UNEXPLAINED {failure['program']} (suspects: {', '.join(failure.get('culprits', [])) or '?'})")
        print("    " + failure["verdict"]["case"].get("source", "").replace("\n", "\n    "))
    for error in summary.generation_errors[:5]:
        print(f"  GENERATOR ERROR {error[:300]}")
    print(f"report: {os.path.abspath(path)}")


def transform_lines(counts: Counter, compile_seconds: dict[str, list[float]]) -> list[str]:
    """Per transform oracle, its cases by status and its compile time per case."""
    from ..oracles.transforms import compile_statistics

    lines = []
    for name in sorted({o for o, _ in counts}):
        by = ", ".join(f"{s} {n}" for (o, s), n in sorted(counts.items(), key=lambda kv: -kv[1]) if o == name)
        lines.append(f"  transform {name}: {by}")
        stats = compile_statistics(compile_seconds.get(name, []))
        if stats:
            lines.append(f"    compiling: median {stats['median']:.2f}s, max {stats['max']:.2f}s per case over {stats['cases']} cases ({stats['total']:.0f}s in all)")
    return lines
