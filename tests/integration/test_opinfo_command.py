"""``vjpcheck opinfo``: PyTorch's OpInfo samples through pytest, exit codes and reports."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("expecttest", reason="vjpcheck opinfo needs expecttest (vjpcheck[opinfo])")

from planted_opinfo import installed  # noqa: E402

from vjpcheck.cli import main  # noqa: E402


def _report(path: str) -> dict:
    with open(path[:-5] + ".json", encoding="utf-8") as fh:
        return json.load(fh)


def test_real_ops_known_differences_and_refusals_exit_0(tmp_path, capsys):
    report = str(tmp_path / "reports" / "opinfo.html")
    code = main(["opinfo", "--ops", "nn.functional.hardsigmoid,sin,chalf", "--workers", "1", "--report", report])
    data = _report(report)
    assert code == 0, capsys.readouterr()
    assert data["outcome"] == "clean"
    known = [r for r in data["records"] if r["status"] == "known" and r["count"]]
    assert [(r["function"], r["known"]) for r in known] == [("nn.functional.hardsigmoid", "torch-hardsigmoid-float64-backward-float32-constant")]
    chalf = [r for r in data["records"] if r["function"] == "chalf"]
    assert {r["status"] for r in chalf} == {"skipped"} and "no floating-point or complex output" in chalf[0]["reasons"][0]
    assert "vjpcheck opinfo: report" in capsys.readouterr().out


def test_a_planted_backward_bug_fails_the_run_with_a_reproducer(tmp_path, monkeypatch):
    report = str(tmp_path / "opinfo.html")
    with installed(monkeypatch, "planted_sin_twice", "planted_sin_right"):
        code = main(["opinfo", "--ops", "planted_sin_twice,planted_sin_right", "--dtypes", "float64", "--workers", "1", "--report", report])
    assert code == 1
    data = _report(report)
    bad = [r for r in data["records"] if r["status"] == "mismatch" and r["detail"]]
    assert len(bad) == 3 and all(r["function"].startswith("planted_sin_twice [sample") for r in bad)
    assert "sample_function('planted_sin_twice', 'cpu', 'float64', index=0)" in bad[0]["detail"]["reproducer"]
    assert data["outcome"] == "failed"
    right = [r for r in data["records"] if r["function"] == "planted_sin_right" and r["kind"] == "opinfo"]
    assert [(r["status"], r["count"]) for r in right] == [("pass", 3)]


def test_budget_exhausted_is_incomplete_and_usage_errors_exit_2(tmp_path, capsys):
    report = str(tmp_path / "opinfo.html")
    assert main(["opinfo", "--ops", "sin", "--time-budget", "0.000001", "--workers", "1", "--report", report]) == 3
    assert "nothing was checked" in capsys.readouterr().err
    assert main(["opinfo", "--ops", "no_such_op", "--report", report]) == 2
    assert "no autograd OpInfo named ['no_such_op']" in capsys.readouterr().err
    assert main(["opinfo", "--samples", "int8:2", "--report", report]) == 2
    assert main(["opinfo", "--device", "tpu"]) == 2
