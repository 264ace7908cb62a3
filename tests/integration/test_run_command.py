"""``vjpcheck run``: the built-in checks through pytest-xdist, exit codes, reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from planted_ops import planted
from vjpcheck.cli import main


def test_run_exits_0_and_prints_the_report(tmp_path):
    report = tmp_path / "reports" / "vjpcheck.html"
    cmd = [sys.executable, "-m", "vjpcheck", "run", "--examples-per-op", "1", "--programs", "10", "--ops", "sin,matmul,cumsum", "--devices", "cpu",
           "--workers", "2", "--report", str(report)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"report {report}" in result.stdout
    data = json.loads((tmp_path / "reports" / "vjpcheck.json").read_text())
    assert data["clean"] and data["totals"]["pass"] + data["totals"]["skipped"] + data["totals"]["known"] == 13
    assert {r["function"] for r in data["records"]} >= {"sin", "matmul", "cumsum", "composed programs"}
    assert os.path.exists(tmp_path / "reports" / "vjpcheck.junit.xml")


def test_run_finds_a_planted_framework_bug(tmp_path, capsys):
    report = str(tmp_path / "r.html")
    with planted("planted_torch_cumsum"):
        code = main(["run", "--examples-per-op", "5", "--programs", "0", "--ops", "planted_torch_cumsum", "--workers", "1", "--report", report])
    assert code == 1
    data = json.loads(open(report[:-5] + ".json").read())
    bad = [r for r in data["records"] if r["status"] == "mismatch" and r["detail"]]
    assert bad and "planted_torch_cumsum" in bad[0]["detail"]["case"]["source"]
    assert "report" in capsys.readouterr().out


def test_run_usage_errors_exit_2(capsys):
    assert main(["run", "--devices", "tpu"]) == 2
    assert main(["run", "--workers", "zero"]) == 2
    assert main(["run", "--ops", "no_such_op"]) == 2
    assert main(["run", "--time-budget", "0"]) == 2
    err = capsys.readouterr().err
    assert "--devices" in err and "--workers" in err and "no_such_op" in err


def test_run_never_exits_0_when_the_budget_cut_planned_work(tmp_path, capsys):
    """A budget too small for anything: nothing is checked, the exit code says so (3), the
    JUnit XML marks the cases skipped (not passed), and the JSON is strict."""
    import xml.etree.ElementTree as ET

    report = tmp_path / "r.html"
    code = main(["run", "--time-budget", "1e-9", "--examples-per-op", "1", "--programs", "0", "--ops", "sin,cos", "--workers", "1", "--report", str(report)])
    assert code == 3
    assert "nothing was checked (the time budget ran out before 2 planned cases)" in capsys.readouterr().err
    suite = ET.parse(tmp_path / "r.junit.xml").getroot().find("testsuite")
    # two skipped cases and the session's own: nothing was checked
    assert suite.get("tests") == "3" and suite.get("skipped") == "3" and suite.get("failures") == "0"
    assert all(case.find("skipped") is not None for case in suite.iter("testcase"))
    assert "vjpcheck session" in [case.get("name") for case in suite.iter("testcase")]
    data = json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda token: pytest.fail(f"bare {token} in the JSON report"))
    assert data["outcome"] == "nothing-checked"
