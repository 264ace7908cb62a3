"""``vjpcheck run``: the built-in checks (op catalogue + random programs) on the installed
frameworks and devices, through pytest and pytest-xdist, with an HTML/JSON/JUnit report.

The plan (chunks of the catalogue and of random programs per device, and a deadline) is
written to a JSON file; pytest runs ``vjpcheck/cli/_builtin/test_builtin.py`` over it with
``-n WORKERS`` in an isolated root (the caller's pytest configuration does not apply), the
plugin collects every record on the controller and writes the reports once.
Exit codes: 0 clean, 1 discrepancies, 2 usage or configuration error, 3 incomplete
(interrupted, the time budget cut off planned work, or nothing was checked; no
discrepancy in what ran).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

from . import _common

COMPOSED_CHUNK = 25  # random programs per test: small enough to spread over workers


def default_devices() -> list[str]:
    """cpu, plus cuda when PyTorch sees a GPU."""
    from ..frameworks import cuda_available

    return ["cpu", "cuda"] if cuda_available() else ["cpu"]


def build_plan(examples_per_op: int, programs: int, devices: list[str], seed: int, time_budget: float, ops: list[str] | None = None, transforms: tuple[str, ...] = ()) -> dict:
    from ..programs import runner as program_run

    chunks = []
    for device in devices:
        if examples_per_op:
            chunks += program_run.plan("catalogue", examples_per_op, seed, ops=ops, device=device, transforms=transforms)
        if programs:
            chunks += program_run.plan("composed", programs, seed, device=device, chunk_size=COMPOSED_CHUNK, transforms=transforms)
    entries = []
    for k, c in enumerate(chunks):
        ident = f"{c.mode}-{c.device}-{c.op}" if c.mode == "catalogue" else f"{c.mode}-{c.device}-{k:04d}"
        entries.append({**dataclasses.asdict(c), "id": ident, "test": f"vjpcheck run::{ident}"})
    return {"chunks": entries, "deadline": time.time() + time_budget, "created": time.time()}


def run(examples_per_op: int = 3, programs: int = 200, devices: list[str] | None = None, workers: str = "auto", seed: int = 0, time_budget: float = 600.0, report: str = os.path.join("reports", "vjpcheck.html"), ops: list[str] | None = None, quiet: bool = False, timeout: float = 120.0, transforms: tuple[str, ...] = ()) -> int:
    """Run the built-in checks; returns the exit code (0 clean, 1 discrepancies, 2 usage)."""
    devices = devices or default_devices()
    plan = build_plan(examples_per_op, programs, devices, seed, time_budget, ops, transforms)
    if not plan["chunks"]:
        print("vjpcheck run: nothing to run (no examples and no programs)", file=sys.stderr)
        return 2
    under = f", transforms {','.join(transforms)}" if transforms else ""
    print(f"vjpcheck run: {len(plan['chunks'])} chunks ({examples_per_op} examples per op, {programs} programs, devices {', '.join(devices)}{under}), "
          f"workers {workers}, time budget {time_budget:g}s", flush=True)
    return _common.pytest_session("run", "test_builtin.py", plan, report, "vjpcheck run: built-in checks", workers, timeout, quiet)


# ---- the command -----------------------------------------------------------------------


def _devices(text: str) -> list[str]:
    devices = _common.names(text)
    bad = [d for d in devices if d not in ("cpu", "cuda")]
    if bad:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of cpu, cuda; got {text!r}")
    return devices


def add_parser(sub) -> argparse.ArgumentParser:
    rn = sub.add_parser(
        "run",
        help="the built-in checks (op catalogue + random programs) on the installed frameworks and devices",
        description=(
            "Runs the op catalogue and random programs, PyTorch vs JAX vs finite differences (and CPU vs "
            "CUDA on a GPU), as pytest tests spread over pytest-xdist workers, and writes an HTML report "
            "(JSON and JUnit XML beside it). Exit 0 clean, 1 discrepancies, 2 usage/configuration error, "
            "3 incomplete (interrupted, the time budget cut off planned work, or nothing was checked)."
        ),
    )
    rn.add_argument("--examples-per-op", type=_common.nonnegative_int, default=3, help="catalogue examples per op and device (default 3; 0 skips the catalogue)")
    rn.add_argument("--programs", type=_common.nonnegative_int, default=200, help="random composed programs per device (default 200; 0 skips them)")
    rn.add_argument("--devices", type=_devices, default=None, help="comma-separated: cpu,cuda (default: cpu, plus cuda when available)")
    rn.add_argument("--workers", type=_common.workers, default="auto", help="pytest-xdist workers: a number or auto (default auto)")
    rn.add_argument("--time-budget", type=_common.positive_seconds, default=600.0, help="seconds; chunks not started by then are skipped (default 600)")
    rn.add_argument("--timeout", type=_common.positive_seconds, default=120.0, help="seconds one check may take before it is a timeout finding (default 120)")
    rn.add_argument("--transforms", type=_common.transforms_list, default=(), help="also check gradients under these transforms, comma-separated: compile,func-compile,vmap (jit) or all (default none)")
    rn.add_argument("--ops", type=_common.names, default=None, help="comma-separated op names for the catalogue (default all)")
    rn.add_argument("--seed", type=_common.nonnegative_int, default=0, help="random seed (default 0)")
    rn.add_argument("--report", default=os.path.join("reports", "vjpcheck.html"), help="HTML report path (default reports/vjpcheck.html)")
    rn.add_argument("--quiet", action="store_true", help="less progress output")
    return rn


def main(args: argparse.Namespace) -> int:
    code = (
        _common.prepare("run", args.report)
        or _common.cuda_missing("run", args.devices or [])
        or _common.unknown_ops("run", args.ops)
    )
    if code:
        return code
    return run(args.examples_per_op, args.programs, args.devices, args.workers, args.seed, args.time_budget, args.report, args.ops, args.quiet, args.timeout, args.transforms)
