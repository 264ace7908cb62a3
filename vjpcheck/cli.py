"""Command line: ``vjpcheck selfcheck`` and ``vjpcheck programs`` (built-in checks of the
installed frameworks).

Exit codes: 0 clean, 1 discrepancies found, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vjpcheck", description="Verify reverse-mode autodiff (vᵀJ) of PyTorch and JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    sc = sub.add_parser(
        "selfcheck",
        help="check the installed PyTorch and JAX against each other and finite differences",
        description=(
            "Random concrete cases of a catalogue of correct functions (kinks, ties, reductions, "
            "broadcasting, linear algebra, complex), each checked PyTorch vs JAX vs finite differences."
        ),
    )
    sc.add_argument("--cases", type=_positive_int, default=200, help="number of random cases (default 200)")
    sc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sc.add_argument("--report", default=os.path.join("reports", "selfcheck.json"), help="JSON report path")
    sc.add_argument("--quiet", action="store_true", help="no progress display")
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
    pr.add_argument("--per-op", type=_positive_int, default=20, help="catalogue examples per op (default 20)")
    pr.add_argument("--programs", type=_positive_int, default=500, help="composed programs (default 500)")
    pr.add_argument("--max-ops", type=_positive_int, default=5, help="most ops per composed program (default 5)")
    pr.add_argument("--ops", default=None, help="comma-separated op names (catalogue mode; default all)")
    pr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    pr.add_argument("--workers", type=_positive_int, default=1, help="worker processes (default 1)")
    pr.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the PyTorch and JAX lowerings run (default cpu)")
    pr.add_argument("--report", default=os.path.join("reports", "programs.json"), help="JSON report path")
    pr.add_argument("--quiet", action="store_true", help="no progress display")
    rn = sub.add_parser(
        "run",
        help="the built-in checks (op catalogue + random programs) on the installed frameworks and devices",
        description=(
            "Runs the op catalogue and random programs, PyTorch vs JAX vs finite differences (and CPU vs "
            "CUDA on a GPU), as pytest tests spread over pytest-xdist workers, and writes an HTML report "
            "(JSON and JUnit XML beside it). Exit 0 clean, 1 discrepancies, 2 usage/configuration error."
        ),
    )
    rn.add_argument("--examples-per-op", type=int, default=3, help="catalogue examples per op and device (default 3; 0 skips the catalogue)")
    rn.add_argument("--programs", type=int, default=200, help="random composed programs per device (default 200; 0 skips them)")
    rn.add_argument("--devices", default=None, help="comma-separated: cpu,cuda (default: cpu, plus cuda when available)")
    rn.add_argument("--workers", default="auto", help="pytest-xdist workers: a number or auto (default auto)")
    rn.add_argument("--time-budget", type=float, default=600.0, help="seconds; chunks not started by then are skipped (default 600)")
    rn.add_argument("--ops", default=None, help="comma-separated op names for the catalogue (default all)")
    rn.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rn.add_argument("--report", default=os.path.join("reports", "vjpcheck.html"), help="HTML report path (default reports/vjpcheck.html)")
    rn.add_argument("--quiet", action="store_true", help="less progress output")
    be = sub.add_parser(
        "bench",
        help="time vjpcheck against gradcheck, check_grads and a bare forward+backward",
        description=(
            "In one process, on the same function and inputs: vjpcheck (full and probe mode) vs "
            "torch.autograd.gradcheck (slow and fast mode), jax.test_util.check_grads and a bare "
            "forward+backward, at each size; ratios printed, then random-program throughput."
        ),
    )
    be.add_argument("--sizes", default="4,64,1024,16384", help="comma-separated input sizes (default 4,64,1024,16384)")
    be.add_argument("--repeat", type=_positive_int, default=5, help="timed runs per method (median; default 5)")
    be.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    be.add_argument("--program-seconds", type=float, default=20.0, help="seconds of random programs per worker (0: skip; default 20)")
    be.add_argument("--workers", type=_positive_int, default=2, help="worker processes for the programs (default 2)")
    be.add_argument("--report", default=os.path.join("reports", "bench.json"), help="JSON report path")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already; keep its code
        return int(exc.code or 0)
    if args.command == "selfcheck":
        return _selfcheck(args)
    if args.command == "programs":
        return _programs(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "run":
        return _run(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _prepare(command: str, report: str) -> int:
    """0 when PyTorch and JAX import and the report folder exists (created), else 2."""
    from .frameworks import available_backends

    missing = {"torch", "jax"} - set(available_backends())
    if missing:
        print(f"vjpcheck {command}: needs PyTorch and JAX; not importable: {', '.join(sorted(missing))}", file=sys.stderr)
        return 2
    report_dir = os.path.dirname(os.path.abspath(report))
    try:
        os.makedirs(report_dir, exist_ok=True)
    except OSError as exc:
        print(f"vjpcheck {command}: cannot create report folder {report_dir}: {exc}", file=sys.stderr)
        return 2
    return 0


def _versions() -> dict:
    import jax
    import numpy
    import torch

    return {"torch": torch.__version__, "jax": jax.__version__, "numpy": numpy.__version__}


def _programs(args) -> int:
    from .programs import run as program_run

    ops = [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None
    try:
        chunks = []
        if args.mode in ("catalogue", "all"):
            chunks += program_run.plan("catalogue", args.per_op, args.seed, ops=ops, device=args.device)
        if args.mode in ("composed", "all"):
            chunks += program_run.plan("composed", args.programs, args.seed, max_ops=args.max_ops, device=args.device)
    except ValueError as exc:
        print(f"vjpcheck programs: {exc}", file=sys.stderr)
        return 2
    problem = _prepare("programs", args.report)
    if problem:
        return problem
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("vjpcheck programs: --device cuda, but PyTorch sees no CUDA device", file=sys.stderr)
            return 2
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
    report = {"command": "programs", "options": vars(args), "versions": _versions(), **summary.to_dict()}
    with open(args.report, "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    print(f"vjpcheck programs: {summary.total()} cases in {summary.seconds:.1f}s (torch {report['versions']['torch']}, jax {report['versions']['jax']})")
    for mode in ("catalogue", "composed"):
        n = summary.total(mode)
        if n:
            by = {s: summary.counts[(mode, s)] for s in ("pass", "skipped", "known", "unexplained")}
            print(f"  {mode}: {n} cases — " + ", ".join(f"{k} {v}" for k, v in by.items()))
    for (mode, reason), n in summary.skip_reasons.most_common(8):
        print(f"  skipped {n}× ({mode}) — {reason}")
    from collections import Counter

    for entry, n in sorted(Counter(i for r in summary.known for i in r["known"].split(",")).items()):
        print(f"  known difference: {entry} ({n}×)")
    for failure in summary.failures[:20]:
        print(f"  UNEXPLAINED {failure['program']} (suspects: {', '.join(failure.get('culprits', [])) or '?'})")
        print("    " + failure["verdict"]["case"].get("source", "").replace("\n", "\n    "))
    for error in summary.generation_errors[:5]:
        print(f"  GENERATOR ERROR {error[:300]}")
    print(f"report: {os.path.abspath(args.report)}")
    return 0 if summary.clean else 1


def _selfcheck(args) -> int:
    problem = _prepare("selfcheck", args.report)
    if problem:
        return problem
    from .selfcheck import run_selfcheck

    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if args.quiet:
            return
        if done == total or done % max(1, total // 20) == 0:
            elapsed = time.perf_counter() - started
            print(f"\r  {done}/{total} cases, {elapsed:.0f}s", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = run_selfcheck(args.cases, seed=args.seed, progress=progress)
    result["versions"] = _versions()
    with open(args.report, "w") as fh:
        json.dump(result, fh, indent=1, default=str)

    counts = result["counts"]
    print(f"vjpcheck selfcheck: {args.cases} cases in {result['seconds']:.1f}s (torch {result['versions']['torch']}, jax {result['versions']['jax']})")
    print("  " + ", ".join(f"{k}: {counts.get(k, 0)}" for k in ("pass", "skipped", "mismatch", "error")))
    for reason, n in result["skip_reasons"].items():
        print(f"  skipped {n}× — {reason}")
    for record in result["failures"][:20]:
        meta = record["selfcheck"]
        first = record["findings"][0]["message"] if record["findings"] else record["status"]
        print(f"  {record['overall_status'].upper()} {meta['entry']} [{meta['dtype']}, {meta['regime']}]: {first[:200]}")
    print(f"report: {os.path.abspath(args.report)}")
    return 1 if result["failures"] else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _bench(args) -> int:
    try:
        sizes = [int(t) for t in args.sizes.split(",") if t.strip()]
        if not sizes or min(sizes) <= 0:
            raise ValueError
    except ValueError:
        print(f"vjpcheck bench: --sizes must be positive integers separated by commas, got {args.sizes!r}", file=sys.stderr)
        return 2
    if args.program_seconds < 0:
        print(f"vjpcheck bench: --program-seconds must be >= 0, got {args.program_seconds}", file=sys.stderr)
        return 2
    code = _prepare("bench", args.report)
    if code:
        return code
    import torch

    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        print(f"vjpcheck bench: --device must be cpu or cuda, got {args.device!r}", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("vjpcheck bench: --device cuda, but PyTorch sees no CUDA device", file=sys.stderr)
        return 2
    from .bench import run_bench

    run_bench(sizes, args.repeat, args.device, args.program_seconds, args.workers, args.report)
    return 0


def _run(args) -> int:
    def fail(message: str) -> int:
        print(f"vjpcheck run: {message}", file=sys.stderr)
        return 2

    if args.examples_per_op < 0 or args.programs < 0:
        return fail("--examples-per-op and --programs must be >= 0")
    if args.time_budget <= 0:
        return fail(f"--time-budget must be positive, got {args.time_budget}")
    if args.workers != "auto" and not (args.workers.isdigit() and int(args.workers) >= 1):
        return fail(f"--workers must be a positive integer or auto, got {args.workers!r}")
    devices = None
    if args.devices:
        devices = [d.strip() for d in args.devices.split(",") if d.strip()]
        if not devices or any(d not in ("cpu", "cuda") for d in devices):
            return fail(f"--devices: expected a comma-separated list of cpu, cuda; got {args.devices!r}")
    ops = [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None
    code = _prepare("run", args.report)
    if code:
        return code
    if devices and "cuda" in devices:
        import torch

        if not torch.cuda.is_available():
            return fail("--devices cuda, but PyTorch sees no CUDA device")
    if ops:
        from .programs.registry import OPS

        unknown = [o for o in ops if o not in OPS]
        if unknown:
            return fail(f"--ops: unknown op(s) {unknown}")
    from .standalone import run

    return run(args.examples_per_op, args.programs, devices, args.workers, args.seed, args.time_budget, args.report, ops, args.quiet)
