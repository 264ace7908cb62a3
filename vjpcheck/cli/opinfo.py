"""``vjpcheck opinfo``: PyTorch's OpInfo samples checked with vjpcheck's oracles.

How a framework or device-backend team validates its autograd: every autograd OpInfo of
``torch.testing._internal`` (or those named by ``--ops``), its first samples per dtype on
one device, first order and optionally second, through pytest and pytest-xdist with the
same HTML/JSON/JUnit report and exit codes as ``vjpcheck run`` (0 clean, 1 discrepancies,
2 usage or configuration error, 3 incomplete). What PyTorch's OpInfo declares is honoured
and said: forward-mode AD is left out where it is declared unsupported, and discrepancies
on gradient tests the OpInfo marks as expected failures or skips are ``known``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import _common

#: samples per dtype unless --samples says otherwise: 3 real, 2 complex
DEFAULT_SAMPLES = {"real": 3, "complex": 2}
DTYPES = ("float64", "complex128", "float32", "complex64", "float16", "bfloat16")


def sample_counts(text: str, dtypes: list[str]) -> dict[str, int]:
    """``N`` (every dtype) or ``dtype:N,…`` (others take the default: 3 real, 2 complex)."""
    counts = {d: DEFAULT_SAMPLES["complex" if d.startswith("complex") else "real"] for d in dtypes}
    if text is None:
        return counts
    if ":" not in text:
        return {d: _common.positive_int(text) for d in dtypes}
    for item in _common.names(text):
        dtype, _, n = item.partition(":")
        if dtype not in DTYPES:
            raise argparse.ArgumentTypeError(f"--samples: unknown dtype {dtype!r} in {text!r}")
        counts[dtype] = _common.positive_int(n)
    return counts


def build_plan(ops: list, device: str, dtypes: list[str], counts: dict[str, int], order: int, time_budget: float, timeout: float) -> dict:
    from ..opinfo.database import full_name

    chunks = []
    for op in ops:
        name = full_name(op)
        ident = f"opinfo-{device}-{name}"
        chunks.append({"id": ident, "test": f"vjpcheck opinfo::{ident}", "op": name, "device": device, "dtypes": dtypes,
                       "samples": {d: counts[d] for d in dtypes}, "order": order, "timeout": timeout})
    return {"chunks": chunks, "deadline": time.time() + time_budget, "created": time.time()}


def run(ops: list[str] | None = None, device: str = "cpu", dtypes: list[str] | None = None, samples: dict[str, int] | None = None, order: int = 1,
        workers: str = "auto", time_budget: float = 3600.0, timeout: float = 120.0,
        report: str = os.path.join("reports", "opinfo.html"), quiet: bool = False) -> int:
    """Check the OpInfo samples; returns the exit code (0 clean, 1 discrepancies, 2 usage, 3 incomplete)."""
    from ..opinfo import database

    dtypes = dtypes or ["float64", "complex128"]
    counts = samples or sample_counts(None, dtypes)
    try:
        chosen = database.autograd_ops(ops)
    except (ImportError, ValueError) as exc:
        print(f"vjpcheck opinfo: {exc}", file=sys.stderr)
        return 2
    plan = build_plan(chosen, device, dtypes, counts, order, time_budget, timeout)
    print(f"vjpcheck opinfo: {len(chosen)} OpInfos on {device}, dtypes {', '.join(dtypes)}, samples "
          f"{', '.join(f'{d}:{counts[d]}' for d in dtypes)}, order {'1 and 2' if order == 2 else 1}, workers {workers}, "
          f"time budget {time_budget:g}s", flush=True)
    return _common.pytest_session("opinfo", "test_opinfo.py", plan, report, f"vjpcheck opinfo: PyTorch OpInfo samples on {device}", workers, timeout, quiet)


# ---- the command -----------------------------------------------------------------------


def _dtypes(text: str) -> list[str]:
    dtypes = _common.names(text)
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(DTYPES)}; got {text!r}")
    return dtypes


def _device(text: str) -> str:
    if text != "cpu" and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N; got {text!r}")
    return text


def add_parser(sub) -> argparse.ArgumentParser:
    op = sub.add_parser(
        "opinfo",
        help="PyTorch's OpInfo samples checked with vjpcheck's oracles (how a device backend validates its autograd)",
        description=(
            "Checks the samples of every autograd OpInfo of torch.testing._internal (needs expecttest: "
            "pip install 'vjpcheck[opinfo]') against finite differences and PyTorch's other AD methods, as "
            "pytest tests over pytest-xdist workers, and writes an HTML report (JSON and JUnit XML beside it). "
            "Exit 0 clean, 1 discrepancies, 2 usage/configuration error, 3 incomplete."
        ),
    )
    op.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    op.add_argument("--dtypes", type=_dtypes, default=None, help="comma-separated (default float64,complex128)")
    op.add_argument("--ops", type=_common.names, default=None, help="comma-separated OpInfo names, base (every variant) or name.variant (default: all autograd OpInfos)")
    op.add_argument("--samples", default=None, help="samples per dtype: N, or dtype:N,... (default 3 per real dtype, 2 per complex)")
    op.add_argument("--order", type=int, choices=(1, 2), default=1, help="2 also checks second order where the OpInfo supports it (default 1)")
    op.add_argument("--workers", type=_common.workers, default="auto", help="pytest-xdist workers: a number or auto (default auto)")
    op.add_argument("--time-budget", type=_common.positive_seconds, default=3600.0, help="seconds; OpInfos not started by then are skipped (default 3600)")
    op.add_argument("--timeout", type=_common.positive_seconds, default=120.0, help="seconds one check may take before it is a timeout finding (default 120)")
    op.add_argument("--report", default=os.path.join("reports", "opinfo.html"), help="HTML report path (default reports/opinfo.html)")
    op.add_argument("--quiet", action="store_true", help="less progress output")
    return op


def main(args: argparse.Namespace) -> int:
    dtypes = args.dtypes or ["float64", "complex128"]
    try:
        counts = sample_counts(args.samples, dtypes)
    except argparse.ArgumentTypeError as exc:
        print(f"vjpcheck opinfo: {exc}", file=sys.stderr)
        return 2
    code = _common.prepare("opinfo", args.report, needs=("torch",)) or _common.cuda_missing("opinfo", [args.device])
    if code:
        return code
    return run(args.ops, args.device, dtypes, counts, args.order, args.workers, args.time_budget, args.timeout, args.report, args.quiet)
