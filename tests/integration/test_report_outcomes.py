"""Reports under every outcome: crashed workers, interruptions, kills, nothing checked, and a
failure a person reads in seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import torch  # noqa: F401  (in-process pytester runs must not import torch a second time)
from sample_project import CONFTEST, TESTS, fresh_session

pytest_plugins = ["pytester"]

QUICK_THEN_HANG = """
import pathlib, time
import torch
import vjpcheck


def test_a_quick_check():
    vjpcheck.assert_vjp(torch.sin, torch.linspace(-1, 1, 4, dtype=torch.float64))


def test_b_hangs():
    pathlib.Path("started-hanging").write_text("")
    time.sleep(300)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    fresh_session(monkeypatch)
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "vjpcheck", "-p", "no:cacheprovider", *args, timeout=600)


def report_json(path) -> dict:
    return json.loads(path.read_text(), parse_constant=lambda token: pytest.fail(f"bare {token} in the JSON report"))


def start(project: pytest.Pytester, *args: str) -> subprocess.Popen:
    """pytest in the background (SIGINT not ignored, unlike a shell's background job)."""
    command = [sys.executable, "-m", "pytest", "-p", "vjpcheck", "-p", "no:cacheprovider", *args]
    return subprocess.Popen(command, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_a_worker_that_dies_is_recorded_as_crashed(project):
    project.makepyfile(test_crash="""
import os
import torch
import vjpcheck


def test_checked():
    vjpcheck.assert_vjp(torch.tanh, torch.linspace(-1, 1, 4, dtype=torch.float64))


def test_kills_its_worker():
    os._exit(1)
""")
    result = run(project, "-n", "2", "--vjpcheck-report", "r.html")
    result.assert_outcomes(passed=1, failed=1)
    report = report_json(project.path / "r.json")
    by_test = {r["test"]: r for r in report["records"]}
    crashed = by_test["test_crash.py::test_kills_its_worker"]
    assert (crashed["status"], crashed["kind"]) == ("crashed", "crash")
    assert "crashed while running" in crashed["reasons"][0]
    assert by_test["test_crash.py::test_checked"]["status"] == "pass"
    assert report["outcome"] == "failed" and not report["clean"]
    assert [t["test"] for t in report["failed_tests"]] == ["test_crash.py::test_kills_its_worker"]
    suite = ET.parse(project.path / "r.junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "1"
    html = (project.path / "r.html").read_text()
    assert 'data-outcome="failed"' in html and "test_kills_its_worker" in html


def test_ctrl_c_mid_run_leaves_a_valid_interrupted_report(project):
    project.makepyfile(test_slow=QUICK_THEN_HANG)
    # a previous, complete and clean report at the same path
    run(project, "-k", "quick", "--vjpcheck-report", "r.html").assert_outcomes(passed=1)
    assert report_json(project.path / "r.json")["outcome"] == "clean"
    process = start(project, "--vjpcheck-report", "r.html")
    wait_for(project.path / "started-hanging")
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    report = report_json(project.path / "r.json")
    assert report["outcome"] == "interrupted" and not report["clean"], report["outcome"]
    assert "interrupted" in report["incomplete"]
    assert [(r["test"], r["status"]) for r in report["records"]] == [("test_slow.py::test_a_quick_check", "pass")]
    suite = ET.parse(project.path / "r.junit.xml").getroot().find("testsuite")
    session = [c for c in suite.iter("testcase") if c.get("name") == "vjpcheck session"]
    assert session and session[0].find("error").get("type") == "interrupted"
    assert 'data-outcome="interrupted"' in (project.path / "r.html").read_text()


def test_sigterm_is_an_interruption_too(project):
    project.makepyfile(test_slow=QUICK_THEN_HANG)
    process = start(project, "-n", "2", "--vjpcheck-report", "r.html")
    wait_for(project.path / "started-hanging")
    deadline = time.monotonic() + 60  # the quick test's record has reached the journal
    while "test_a_quick_check" not in (project.path / "r.journal.jsonl").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    report = report_json(project.path / "r.json")
    assert report["outcome"] == "interrupted", output
    assert [r["status"] for r in report["records"]] == ["pass"]


def test_a_killed_run_leaves_a_journal_the_report_is_rebuilt_from(project):
    project.makepyfile(test_slow=QUICK_THEN_HANG)
    process = start(project, "--vjpcheck-report", "r.html")
    wait_for(project.path / "started-hanging")
    os.killpg(process.pid, signal.SIGKILL)  # a CI timeout: no chance to write anything
    process.communicate(timeout=60)
    # the report on disk (written when the run started) is not green
    assert report_json(project.path / "r.json")["outcome"] == "interrupted"
    journal = project.path / "r.journal.jsonl"
    rebuilt = subprocess.run([sys.executable, "-m", "vjpcheck", "report", str(journal)], capture_output=True, text=True, cwd=project.path, timeout=300)
    assert rebuilt.returncode == 3, rebuilt.stdout + rebuilt.stderr  # incomplete
    report = report_json(project.path / "r.json")
    assert report["outcome"] == "interrupted" and "killed" in report["incomplete"]
    assert [(r["test"], r["status"]) for r in report["records"]] == [("test_slow.py::test_a_quick_check", "pass")]
    assert report["meta"]["rebuilt from"] == str(journal)


def test_nothing_checked_is_its_own_outcome(project):
    project.makepyfile(test_rules=TESTS)
    result = run(project, "--vjpcheck-frameworks", "jax", "--vjpcheck-report", "r.html")
    result.assert_outcomes(passed=1, skipped=3)
    report = report_json(project.path / "r.json")
    assert report["outcome"] == "nothing-checked" and not report["clean"]
    suite = ET.parse(project.path / "r.junit.xml").getroot().find("testsuite")
    session = [c for c in suite.iter("testcase") if c.get("name") == "vjpcheck session"]
    assert session and session[0].find("skipped") is not None


def test_a_failing_verify_reads_in_a_few_lines(project):
    project.makepyfile(test_rowsum="""
import vjpcheck
from conftest import RowSum
from vjpcheck.strategies import tensor


def test_rowsum():
    vjpcheck.verify(RowSum.apply, tensor("n,m", dtype="float64"), seed=0, max_examples=30)
""")
    result = run(project, "--vjpcheck-report", "r.html")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    failure = text[text.index("_ test_rowsum _"): text.index("short test summary")]
    lines = failure.splitlines()
    assert len(lines) <= 40, failure
    assert "RowSum.backward disagrees with finite differences" in failure
    assert "vjpcheck.VJPMismatch" in failure and "reproducer: python " in failure
    for noise in ("Falsifying example", "Explanation:", "_engine", "Draw 1", "DeprecationWarning"):
        assert noise not in text, noise
    # the reproducer file named in the message exists and reruns the case
    path = next(line.split("reproducer: python ", 1)[1].strip() for line in lines if "reproducer: python " in line)
    done = subprocess.run([sys.executable, path], capture_output=True, text=True, cwd=project.path, timeout=300)
    assert done.returncode == 0 and "MISMATCH" in done.stdout, done.stderr
    # and the report tells the same story, once
    html = (project.path / "r.html").read_text()
    assert html.count("<p class=\"headline\"><b>RowSum.backward disagrees with finite differences") == 1
    assert 'class="num wrong"' in html


def test_the_session_time_limit_applies_to_direct_calls(project):
    project.makepyfile(test_hang="""
import time
import torch
import vjpcheck


def hangs(x):
    time.sleep(600)
    return x


def test_hung_forward():
    vjpcheck.assert_vjp(hangs, torch.ones(2, dtype=torch.float64), framework="torch")
""")
    start = time.monotonic()
    result = run(project, "--vjpcheck-timeout", "1", "--vjpcheck-report", "r.html")
    assert time.monotonic() - start < 120
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]timeout[]] the check did not finish within 1 s (it was running the forward)*"])
    report = report_json(project.path / "r.json")
    (record,) = report["records"]
    assert record["status"] == "error" and record["detail"]["findings"][0]["kind"] == "timeout"
    assert report["meta"]["timeout"] == "1 s per check"
