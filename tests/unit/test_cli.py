"""The command line: usage errors (exit 2, naming the flag) and the module entry points."""

import os
import subprocess
import sys

import pytest

from vjpcheck.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["programs", "--per-op", "0"], "--per-op: value must be a positive int, got 0"),
        (["programs", "--ops", ",,,"], "--ops: expected a comma-separated list of names"),
        (["programs", "--seed", "-1"], "--seed: value must be a non-negative int, got -1"),
        (["run", "--time-budget", "nan"], "--time-budget: value must be a finite number, got nan"),
        (["run", "--time-budget", "0"], "--time-budget: value must be > 0"),
        (["run", "--ops", ""], "--ops: expected a comma-separated list of names"),
        (["run", "--workers", "0"], "--workers: value must be a positive int, got 0"),
        (["run", "--devices", "tpu"], "--devices: expected a comma-separated list of cpu, cuda"),
        (["bench", "--sizes", "4,-1"], "--sizes: value must be a positive int, got -1"),
        (["bench", "--program-seconds", "-1"], "--program-seconds: value must be >= 0"),
        (["selfcheck"], "invalid choice: 'selfcheck'"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_and_name_the_flag(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_op_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--ops", "sin,nope", "--report", str(tmp_path / "r.html")]) == 2
    assert "unknown op(s) ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["vjpcheck", "vjpcheck.cli"])
def test_module_entry_points(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "{run,opinfo,programs,bench,report}" in done.stdout


def test_xdist_workers_get_one_math_thread_unless_the_caller_chose(monkeypatch):
    from vjpcheck.cli._common import THREAD_VARIABLES, _one_thread_per_worker

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "4")
    with _one_thread_per_worker("auto"):
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "4"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "4"
    with _one_thread_per_worker("1"):  # in-process: the caller's threads are left alone
        assert "OMP_NUM_THREADS" not in os.environ
