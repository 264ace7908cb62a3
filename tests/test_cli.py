"""The command line: exit codes, report file, usage errors."""

import json
import subprocess
import sys

from vjpcheck.cli import main


def test_selfcheck_writes_report_and_exits_clean(tmp_path, capsys):
    report = tmp_path / "out" / "selfcheck.json"
    code = main(["selfcheck", "--cases", "12", "--seed", "3", "--report", str(report), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads(report.read_text())
    assert data["cases"] == 12 and sum(data["counts"].values()) == 12
    assert data["counts"].get("mismatch", 0) == 0 and data["counts"].get("error", 0) == 0
    assert f"report: {report}" in out


def test_usage_error_exit_code_2(capsys):
    assert main(["selfcheck", "--cases", "0"]) == 2
    assert "positive integer" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "vjpcheck", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "selfcheck" in done.stdout
