"""Command line: ``vjpcheck selfcheck`` (the built-in check of the installed frameworks).

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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already; keep its code
        return int(exc.code or 0)
    if args.command == "selfcheck":
        return _selfcheck(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _selfcheck(args) -> int:
    from .frameworks import available_backends

    missing = {"torch", "jax"} - set(available_backends())
    if missing:
        print(f"vjpcheck selfcheck: needs PyTorch and JAX; not importable: {', '.join(sorted(missing))}", file=sys.stderr)
        return 2
    report_dir = os.path.dirname(os.path.abspath(args.report))
    try:
        os.makedirs(report_dir, exist_ok=True)
    except OSError as exc:
        print(f"vjpcheck selfcheck: cannot create report folder {report_dir}: {exc}", file=sys.stderr)
        return 2
    from .selfcheck import run_selfcheck

    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if args.quiet:
            return
        if done == total or done % max(1, total // 20) == 0:
            elapsed = time.perf_counter() - started
            print(f"\r  {done}/{total} cases, {elapsed:.0f}s", end="" if done < total else "\n", file=sys.stderr, flush=True)

    result = run_selfcheck(args.cases, seed=args.seed, progress=progress)
    import jax
    import numpy
    import torch

    result["versions"] = {"torch": torch.__version__, "jax": jax.__version__, "numpy": numpy.__version__}
    with open(args.report, "w") as fh:
        json.dump(result, fh, indent=1, default=str)

    counts = result["counts"]
    print(f"vjpcheck selfcheck: {args.cases} cases in {result['seconds']:.1f}s (torch {torch.__version__}, jax {jax.__version__})")
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
