"""The pytest plugin on a sample project: records, xdist, reports, options, marker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

CONFTEST = '''
import torch


class RowSum(torch.autograd.Function):
    """Sums rows; the backward repeats g instead of broadcasting it along rows."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(1)

    @staticmethod
    def backward(ctx, g):
        n, m = ctx.shape
        return g.repeat(m).reshape(n, m)  # right only when a side is 1
'''

TESTS = '''
import pytest
import torch

from conftest import RowSum
from vjpcheck.strategies import tensor


def test_rowsum(vjp):
    vjp.verify(RowSum.apply, tensor("n,m", dtype="float64"))


@pytest.mark.vjpcheck(max_examples=6)
def test_sin_is_right(vjp):
    vjp.verify(torch.sin, tensor("n", dtype="real"), framework="torch")


def test_check_one_input(vjp):
    vjp.check(torch.tanh, torch.linspace(-1, 1, 5, dtype=torch.float64))


def test_not_using_vjpcheck():
    assert True
'''


def make_project(root, ini: str = "") -> str:
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "conftest.py"), "w") as fh:
        fh.write(CONFTEST)
    with open(os.path.join(root, "test_rules.py"), "w") as fh:
        fh.write(TESTS)
    with open(os.path.join(root, "pytest.ini"), "w") as fh:
        fh.write("[pytest]\n" + ini)
    return str(root)


def run_pytest(root: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    cmd = [sys.executable, "-m", "pytest", "-p", "vjpcheck", "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)


def _normalised(report: dict) -> list[dict]:
    """Records without what may differ between runs: the worker, times."""
    out = []
    for r in report["records"]:
        r = {k: v for k, v in r.items() if k not in ("worker", "explanation")}
        if r.get("detail"):
            d = {k: v for k, v in r["detail"].items() if k not in ("seconds", "timings")}
            d["oracles"] = [{k: v for k, v in o.items() if k != "seconds"} for o in d.get("oracles", [])]
            r["detail"] = d
        out.append(r)
    return out


def test_sample_project_same_report_with_and_without_xdist(tmp_path):
    serial = make_project(tmp_path / "serial")
    parallel = make_project(tmp_path / "parallel")
    a = run_pytest(serial, "--vjpcheck-report", "reports/r.html", "--vjpcheck-seed", "0")
    b = run_pytest(parallel, "-n", "2", "--vjpcheck-report", "reports/r.html", "--vjpcheck-seed", "0")
    assert a.returncode == 1 and b.returncode == 1, (a.stdout[-3000:], b.stdout[-3000:])
    for out in (a.stdout, b.stdout):
        assert "FAILED test_rules.py::test_rowsum" in out
        assert "html report:" in out and "r.html" in out
    ra = json.load(open(os.path.join(serial, "reports", "r.json")))
    rb = json.load(open(os.path.join(parallel, "reports", "r.json")))
    assert _normalised(ra) == _normalised(rb)
    # the minimal failing case is in the report, with its data
    failing = [r for r in rb["records"] if r["status"] == "mismatch"]
    assert len(failing) == 1 and failing[0]["test"] == "test_rules.py::test_rowsum"
    detail = failing[0]["detail"]
    assert detail["case"]["args"][0]["shape"] == [2, 2]
    assert "make_tensor" in detail["reproducer"]
    html = open(os.path.join(parallel, "reports", "r.html")).read()
    assert "conftest.RowSum.apply" in html and "Copy reproducer" in html and 'class="heatmap"' in html
    # every record reached the controller once: per-worker totals agree, none duplicated
    assert rb["problems"] == []
    assert set(rb["workers"]) == {"gw0", "gw1"} or len(rb["workers"]) >= 1
    assert sum(w["cases"] for w in rb["workers"].values()) == sum(r["count"] for r in rb["records"])
    assert all(w.get("reported") == w["cases"] for w in rb["workers"].values())
    # the report was written once, by the controller
    assert sorted(os.listdir(os.path.join(parallel, "reports"))) == ["r.html", "r.json", "r.junit.xml"]
    junit = open(os.path.join(parallel, "reports", "r.junit.xml")).read()
    assert 'failures="1"' in junit and "test_rowsum" in junit


def test_ini_keys_and_frameworks_filter(tmp_path):
    root = make_project(tmp_path / "p", ini="vjpcheck_max_examples = 4\nvjpcheck_frameworks = jax\nvjpcheck_report = out/v.html\n")
    result = run_pytest(root, "-rs")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "torch is not among the frameworks to check" in result.stdout
    report = json.load(open(os.path.join(root, "out", "v.json")))
    assert {r["status"] for r in report["records"]} == {"skipped"}
    assert all("frameworks to check" in r["reasons"][0] for r in report["records"])


def test_command_line_option_and_marker_precedence(tmp_path):
    root = make_project(tmp_path / "p", ini="vjpcheck_max_examples = 50\n")
    result = run_pytest(root, "-k", "sin or check", "--vjpcheck-max-examples", "3", "--vjpcheck-report", "r.html")
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.load(open(os.path.join(root, "r.json")))
    sin = sum(r["count"] for r in report["records"] if r["test"].endswith("test_sin_is_right"))
    assert sin == 6  # the marker's max_examples=6 wins over the option's 3 and the ini's 50


@pytest.mark.parametrize(
    "args,message",
    [
        (["--vjpcheck-devices", "tpu"], "--vjpcheck-devices"),
        (["--vjpcheck-max-examples", "0"], "--vjpcheck-max-examples"),
        (["--vjpcheck-frameworks", "mxnet"], "--vjpcheck-frameworks"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, args, message):
    root = make_project(tmp_path / "p")
    result = run_pytest(root, *args)
    assert result.returncode == 4
    assert message in result.stderr


def test_without_the_report_option_nothing_is_written(tmp_path):
    root = make_project(tmp_path / "p")
    result = run_pytest(root, "-k", "check")
    assert result.returncode == 0
    assert not os.path.exists(os.path.join(root, "reports"))
