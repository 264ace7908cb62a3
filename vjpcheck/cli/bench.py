"""``vjpcheck bench``: vjpcheck's defaults against their floors and the checkers people use.

The measurements live in :mod:`vjpcheck.bench`; this module runs them, prints the ratios
and writes ``reports/bench.json`` and ``reports/bench.html`` (an inline SVG chart).
"""

from __future__ import annotations

import json
import os
import platform

from . import _common
from ..bench.sizes import SIZES, bench_size, format_row


def run_bench(
    sizes=SIZES, repeat: int = 5, device: str = "cpu", verify: bool = True, program_seconds: float = 0.0,
    workers: int = 2, report: str | None = None, progress=print, threads: int = 1,
) -> dict:
    """The whole bench; writes ``report`` (JSON) and the HTML page beside it when given."""
    import torch

    progress(f"vjpcheck bench on {device}, {threads} torch thread(s) (medians of interleaved rounds; each time also as a multiple of its mode's floor)")
    result: dict = {"device": device, "machine": platform.machine(), "cpu_count": os.cpu_count(), "torch": torch.__version__, "sizes": []}
    if device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name(0)
    result["torch_threads"] = threads
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # OpenMP's spin-waits against NumPy's work swing 2-thread times on 2 cores
    try:
        for n in sizes:
            row = bench_size(n, repeat, device)
            result["sizes"].append(row)
            progress(format_row(row))
    finally:
        torch.set_num_threads(previous)
    if verify:
        from ..bench.verify_times import bench_verify

        progress("verify with defaults (100 examples), each in a fresh process:")
        result["verify"] = bench_verify(progress=progress)
    if program_seconds > 0:
        from ..bench.programs import programs_parallel

        progress(f"random programs, default oracles, {workers} worker(s), {program_seconds:g} s ...")
        result["programs"] = p = programs_parallel(program_seconds, workers)
        progress(
            f"  {p['cases_per_second']:.1f} cases/s on {workers} worker(s) ({p['cases']} cases; per case: "
            + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in p["seconds_per_case"].items())
            + f"; generation {p['generation_seconds_per_case'] * 1e3:.2f} ms)"
        )
    if report:
        from ..bench.plot import bench_page
        from ..report.write import write_atomically

        os.makedirs(os.path.dirname(os.path.abspath(report)), exist_ok=True)
        write_atomically(report, json.dumps(result, indent=2, default=str))
        page = os.path.splitext(report)[0] + ".html"
        write_atomically(page, bench_page(result))
        progress(f"report: {report} and {page}")
    return result


# ---- the command -----------------------------------------------------------------------


def add_parser(sub):
    be = sub.add_parser(
        "bench",
        help="time vjpcheck's defaults against their floors, gradcheck and check_grads",
        description=(
            "In one process, on the same function and inputs, at each size: vjpcheck with defaults "
            "and a stripped configuration (finite differences + backward) in full and probe mode, "
            "torch.autograd.gradcheck (slow and fast mode) and jax.test_util.check_grads, each as a "
            "multiple of its mode's floor; then verify with defaults per function in fresh processes, "
            "and the time to shrink a planted bug. Writes JSON and an HTML page with a chart."
        ),
    )
    be.add_argument("--sizes", type=_common.sizes, default=",".join(map(str, SIZES)), help=f"comma-separated input sizes (default {','.join(map(str, SIZES))})")
    be.add_argument("--repeat", type=_common.positive_int, default=5, help="timed runs per method (median; default 5)")
    be.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    be.add_argument("--no-verify", dest="verify", action="store_false", help="skip the verify and shrinking timings (fresh processes, about a minute)")
    be.add_argument("--program-seconds", type=_common.nonnegative_seconds, default=0.0, help="seconds of random programs per worker (default 0: skipped)")
    be.add_argument("--threads", type=_common.positive_int, default=1, help="torch intra-op threads while the sizes are timed (default 1: on a 2-core machine OpenMP's spin-waits swing 2-thread times several-fold)")
    be.add_argument("--workers", type=_common.positive_int, default=2, help="worker processes for the programs (default 2)")
    be.add_argument("--report", default=os.path.join("reports", "bench.json"), help="JSON report path; the HTML page is written beside it")
    return be


def main(args) -> int:
    import sys

    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        print(f"vjpcheck bench: --device must be cpu or cuda, got {args.device!r}", file=sys.stderr)
        return 2
    code = _common.prepare("bench", args.report) or _common.cuda_missing("bench", [args.device])
    if code:
        return code
    run_bench(args.sizes, args.repeat, args.device, args.verify, args.program_seconds, args.workers, args.report, threads=args.threads)
    return 0
