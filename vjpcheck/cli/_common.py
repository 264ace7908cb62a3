"""What the commands share: argparse types, the framework/report preflight, versions."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile

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


def workers(text: str) -> str:
    """argparse type: ``auto`` or a positive number of pytest-xdist workers."""
    return text if text == "auto" else str(positive_int(text))


def prepare(command: str, report: str, needs: tuple[str, ...] = ("torch", "jax")) -> int:
    """0 when the frameworks in ``needs`` import and the report folder exists (created), else 2."""
    from ..frameworks import available_backends

    missing = set(needs) - set(available_backends())
    if missing:
        names = {"torch": "PyTorch", "jax": "JAX"}
        print(f"vjpcheck {command}: needs {' and '.join(names[n] for n in needs)}; not importable: {', '.join(sorted(missing))}", file=sys.stderr)
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


# ---- a pytest session over a plan (vjpcheck run, vjpcheck opinfo) ------------------------

BUDGET_EXHAUSTED = "time budget exhausted"  # in the reason of every chunk the budget cut
INCOMPLETE = 3  # exit code: nothing wrong in what ran, but planned work did not run


def pytest_session(command: str, tests: str, plan: dict, report: str, title: str, workers: str, timeout: float, quiet: bool) -> int:
    """Run one of the built-in test modules (``vjpcheck/cli/_builtin/<tests>``) over
    ``plan`` (written to a JSON file the tests read) with ``-n workers``, in an isolated
    root (the caller's pytest configuration does not apply); the plugin writes the HTML,
    JSON and JUnit reports. Returns the command's exit code: 0 clean, 1 discrepancies,
    2 usage or configuration error, 3 incomplete."""
    import pytest

    from . import _builtin
    from ..report.write import sibling_paths

    with tempfile.TemporaryDirectory(prefix=f"vjpcheck-{command}-") as tmp:
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w", encoding="utf-8") as fh:
            json.dump(plan, fh)
        ini = os.path.join(tmp, "pytest.ini")
        with open(ini, "w", encoding="utf-8") as fh:
            fh.write("[pytest]\n")
        path = os.path.join(os.path.dirname(_builtin.__file__), tests)
        report = os.path.abspath(report)
        args = [
            path, "-c", ini, "--rootdir", tmp, "-p", "vjpcheck", "-p", "no:cacheprovider",
            "-n", "0" if str(workers) == "1" else str(workers),
            "--vjpcheck-report", report, "--vjpcheck-title", title,
            "--vjpcheck-run-plan", plan_path, "--vjpcheck-timeout", str(timeout),
            "-W", "ignore", "-o", "console_output_style=progress", "-q" if not quiet else "-qq",
            "--tb=line",
        ]
        with _one_thread_per_worker(workers):
            code = int(pytest.main(args))
    paths = sibling_paths(report)
    exists = os.path.exists(paths["html"])
    if exists:
        print(f"vjpcheck {command}: report {paths['html']} (JSON {paths['json']}, JUnit {paths['junit']})")
    if code == 1:
        return 1
    if code == pytest.ExitCode.INTERRUPTED and exists:
        print(f"vjpcheck {command}: interrupted; the report holds what was checked before", file=sys.stderr)
        return INCOMPLETE
    if code != 0 or not exists:
        print(f"vjpcheck {command}: pytest ended with exit status {code}", file=sys.stderr)
        return 2
    return completeness(command, paths["json"])


#: thread-count variables of the math libraries under PyTorch and NumPy
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_per_worker(workers: str):
    """pytest-xdist workers start with one math-library thread each (unless the caller set
    a count): ``auto`` already starts a worker per core, and each worker's default thread
    pool on every core made ``vjpcheck opinfo --order 2`` on four conv/stft OpInfos 1.8×
    slower on 2 cores (75.9 s against 42.1 s)."""
    if str(workers) == "1":
        yield
        return
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def completeness(command: str, json_path: str) -> int:
    """0 when every planned chunk ran and something was checked; else INCOMPLETE, saying why."""
    with open(json_path, encoding="utf-8") as fh:
        records = json.load(fh)["records"]
    cut = sum(r["count"] for r in records if r["status"] == "skipped" and any(BUDGET_EXHAUSTED in reason for reason in r.get("reasons") or []))
    checked = sum(r["count"] for r in records if r["status"] != "skipped")
    if checked == 0:
        print(f"vjpcheck {command}: nothing was checked" + (f" (the time budget ran out before {cut} planned cases)" if cut else ""), file=sys.stderr)
        return INCOMPLETE
    if cut:
        print(f"vjpcheck {command}: the time budget ran out before {cut} planned cases; {checked} checked, no discrepancy among them", file=sys.stderr)
        return INCOMPLETE
    return 0


def transforms_list(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated transform names (``vjpcheck.oracles.transforms``)."""
    from ..oracles.transforms import normalize_transforms

    try:
        return normalize_transforms(comma_list(text))
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
