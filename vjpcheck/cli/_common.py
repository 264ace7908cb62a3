"""What the commands share: argparse types, the framework/report preflight, versions."""

from __future__ import annotations

import os
import sys

from .._engine.validate import (
    argparse_type,
    check_nonnegative_int,
    check_number,
    check_positive_int,
    check_positive_number,
    comma_list,
)

#: argparse ``type=`` converters (bad values: argparse's usage error, exit 2)
positive_int = argparse_type(check_positive_int, int)
nonnegative_int = argparse_type(check_nonnegative_int, int)
nonnegative_seconds = argparse_type(check_number, float)
positive_seconds = argparse_type(check_positive_number, float)
names = argparse_type(lambda _name, value: value, comma_list)


def _check_sizes(name: str, values: list[str]) -> list[int]:
    return [check_positive_int(name, int(v)) for v in values]


sizes = argparse_type(_check_sizes, comma_list)


def prepare(command: str, report: str) -> int:
    """0 when PyTorch and JAX import and the report folder exists (created), else 2."""
    from ..frameworks import available_backends

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


def cuda_missing(command: str, devices) -> int:
    """2 (with a message) when CUDA is asked for and PyTorch sees no CUDA device, else 0."""
    from ..frameworks import cuda_available

    if any(str(d).startswith("cuda") for d in devices) and not cuda_available():
        print(f"vjpcheck {command}: cuda asked for, but PyTorch sees no CUDA device", file=sys.stderr)
        return 2
    return 0


def unknown_ops(command: str, ops) -> int:
    """2 (with a message) when ``ops`` names an op the registry does not have, else 0."""
    if ops:
        from ..programs.registry import OPS

        unknown = [o for o in ops if o not in OPS]
        if unknown:
            print(f"vjpcheck {command}: --ops: unknown op(s) {unknown}", file=sys.stderr)
            return 2
    return 0
