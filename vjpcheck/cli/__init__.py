"""Command line: ``vjpcheck run`` (the standalone check), ``vjpcheck opinfo`` (PyTorch's
OpInfo samples), ``vjpcheck programs``,
``vjpcheck bench`` and ``vjpcheck report`` (rebuild a report from a journal); one module
per command, each with ``add_parser`` and ``main``.

Exit codes: 0 clean, 1 discrepancies found, 2 usage or configuration error, 3 incomplete
(interrupted, cut off by the time budget, or nothing checked).
"""

from __future__ import annotations

import argparse

from . import bench, opinfo, programs, report, run

COMMANDS = {"run": run, "opinfo": opinfo, "programs": programs, "bench": bench, "report": report}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vjpcheck", description="Verify reverse-mode autodiff (vᵀJ) of PyTorch and JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already; keep its code
        return int(exc.code or 0)
    return COMMANDS[args.command].main(args)
