"""The pytest plugin on a sample project: records, xdist, reports, options, marker."""

from __future__ import annotations

import json
import os
from pathlib import Path
import xml.etree.ElementTree as ET

import pytest
import torch  # noqa: F401  (in-process pytester runs must not import torch a second time)
from sample_project import CONFTEST, TESTS, fresh_session

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user's project: a buggy RowSum rule in conftest.py, four tests using vjpcheck.
    Runs as a fresh session even when this suite runs under xdist (no inherited worker id)."""
    fresh_session(monkeypatch)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_rules=TESTS)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a fresh process (xdist, Hypothesis and the frameworks stay isolated)."""
    return pytester.runpytest_subprocess("-p", "vjpcheck", "-p", "no:cacheprovider", *args, timeout=600)


def _normalised(report: dict) -> list[dict]:
    """Records without what may differ between runs: the worker, times."""
    out = []
    for r in report["records"]:
        r = {k: v for k, v in r.items() if k not in ("worker", "explanation", "seconds")}
        if r.get("detail"):
            d = {k: v for k, v in r["detail"].items() if k not in ("seconds", "timings")}
            d["oracles"] = [{k: v for k, v in o.items() if k != "seconds"} for o in d.get("oracles", [])]
            r["detail"] = d
        out.append(r)
    return out


def test_sample_project_same_report_with_and_without_xdist(project):
    serial = run(project, "--vjpcheck-report", "serial/r.html", "--vjpcheck-seed", "0")
    parallel = run(project, "-n", "2", "--vjpcheck-report", "parallel/r.html", "--vjpcheck-seed", "0")
    for result in (serial, parallel):
        result.assert_outcomes(passed=3, failed=1)
        result.stdout.fnmatch_lines(["*FAILED test_rules.py::test_rowsum*"])
        result.stdout.fnmatch_lines(["*html report:*r.html"])
    ra = json.loads((project.path / "serial" / "r.json").read_text())
    rb = json.loads((project.path / "parallel" / "r.json").read_text())
    assert _normalised(ra) == _normalised(rb)
    # the minimal failing case is in the report, with its data
    failing = [r for r in rb["records"] if r["status"] == "mismatch"]
    assert len(failing) == 1 and failing[0]["test"] == "test_rules.py::test_rowsum"
    detail = failing[0]["detail"]
    assert detail["case"]["args"][0]["shape"] == [2, 2]
    assert "make_tensor" in detail["reproducer"]
    html = (project.path / "parallel" / "r.html").read_text()
    assert "conftest.RowSum.apply" in html and "Copy reproducer" in html and 'class="heatmap"' in html
    # every record reached the controller once: per-worker totals agree, none duplicated
    assert rb["problems"] == []
    assert set(rb["workers"]) == {"gw0", "gw1"} or len(rb["workers"]) >= 1
    assert sum(w["cases"] for w in rb["workers"].values()) == sum(r["count"] for r in rb["records"])
    assert all(w.get("reported") == w["cases"] for w in rb["workers"].values())
    # the report was written once, by the controller
    assert sorted(os.listdir(project.path / "parallel")) == ["r.html", "r.journal.jsonl", "r.json", "r.junit.xml"]
    junit = ET.parse(project.path / "parallel" / "r.junit.xml").getroot()  # a strict parser
    assert sum(int(suite.get("failures")) for suite in junit.iter("testsuite")) == 1
    assert "test_rowsum" in ET.tostring(junit, encoding="unicode")


def test_report_header_names_seed_devices_and_frameworks(project):
    result = project.runpytest("-p", "vjpcheck", "--vjpcheck-seed", "7", "--vjpcheck-frameworks", "jax", "--collect-only")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["vjpcheck: devices=cpu (+cuda when available), frameworks=jax, seed=7"])


def test_ini_keys_and_frameworks_filter(project):
    project.makeini("[pytest]\nvjpcheck_max_examples = 4\nvjpcheck_frameworks = jax\nvjpcheck_report = out/v.html\n")
    result = run(project, "-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["*torch is not among the frameworks to check*"])
    report = json.loads((project.path / "out" / "v.json").read_text())
    assert {r["status"] for r in report["records"]} == {"skipped"}
    assert all("frameworks to check" in r["reasons"][0] for r in report["records"])


def test_command_line_option_and_marker_precedence(project):
    project.makeini("[pytest]\nvjpcheck_max_examples = 50\n")
    result = run(project, "-k", "sin_is_right or check_one_input", "--vjpcheck-max-examples", "3", "--vjpcheck-report", "r.html")
    result.assert_outcomes(passed=2)
    report = json.loads((project.path / "r.json").read_text())
    sin = sum(r["count"] for r in report["records"] if r["test"].endswith("test_sin_is_right"))
    assert sin == 6  # the marker's max_examples=6 wins over the option's 3 and the ini's 50


@pytest.mark.parametrize(
    "args, message",
    [
        (["--vjpcheck-devices", "tpu"], "*--vjpcheck-devices: expected a comma-separated list of cpu, cuda*"),
        (["--vjpcheck-max-examples", "0"], "*argument --vjpcheck-max-examples: value must be a positive int, got 0*"),
        (["--vjpcheck-seed", "x"], "*argument --vjpcheck-seed: invalid literal for int()*"),
        (["--vjpcheck-frameworks", "mxnet"], "*--vjpcheck-frameworks: expected a comma-separated list of torch, jax*"),
    ],
)
def test_bad_options_are_usage_errors(project, args, message):
    result = project.runpytest("-p", "vjpcheck", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_value_is_a_usage_error(project):
    project.makeini("[pytest]\nvjpcheck_max_examples = many\n")
    result = project.runpytest("-p", "vjpcheck")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vjpcheck-max-examples (ini vjpcheck_max_examples): invalid literal for int()*"])


def test_without_the_report_option_nothing_is_written(project):
    result = run(project, "-k", "check_one_input")
    result.assert_outcomes(passed=1)
    assert not (project.path / "reports").exists()
    written = {p.suffix for p in project.path.rglob("*") if p.is_file()}
    assert not written & {".html", ".json", ".xml"}, written


def test_report_writer_is_registered_only_on_the_controller_with_a_report(project):
    project.makeconftest(CONFTEST + """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    pm = config.pluginmanager
    where = "worker" if hasattr(config, "workerinput") else "controller"
    print(f"\\n{where}: writer={pm.get_plugin('vjpcheck-report-writer') is not None}, records={pm.get_plugin('vjpcheck-records') is not None}")
""")
    with_report = run(project, "-n", "2", "-s", "-k", "not_using", "--vjpcheck-report", "r.html")
    with_report.stdout.fnmatch_lines(["*controller: writer=True, records=True*"])
    assert "worker: writer=True" not in with_report.stdout.str()
    without = run(project, "-s", "-k", "not_using")
    without.stdout.fnmatch_lines(["*controller: writer=False, records=True*"])


DIRECT_CALLS = """
import pytest
import torch

import vjpcheck
from conftest import RowSum
from vjpcheck.strategies import tensor


def test_plain_verify_of_a_buggy_rule():
    vjpcheck.verify(RowSum.apply, tensor("n,m", dtype="float64"), seed=0, max_examples=20)


def test_plain_check_vjp_passes():
    vjpcheck.assert_vjp(torch.tanh, torch.linspace(-1, 1, 5, dtype=torch.float64))


def test_fails_for_another_reason():
    raise ValueError("not vjpcheck's business")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_direct_calls_and_other_failures_are_recorded(project, xdist):
    """No entry point escapes the report, and the report is never clean while pytest is not."""
    project.makepyfile(test_direct=DIRECT_CALLS)
    result = run(project, "test_direct.py", *xdist, "--vjpcheck-report", "r.html")
    result.assert_outcomes(passed=1, failed=2)
    report = json.loads((project.path / "r.json").read_text())
    by_test = {}
    for r in report["records"]:
        by_test.setdefault(r["test"].split("::")[-1], []).append(r)
    verify = by_test["test_plain_verify_of_a_buggy_rule"]
    assert any(r["status"] == "mismatch" and r["detail"] for r in verify)  # the minimal case, with its data
    assert [r["status"] for r in by_test["test_plain_check_vjp_passes"]] == ["pass"]
    other = by_test["test_fails_for_another_reason"]
    assert [(r["status"], r["kind"]) for r in other] == [("error", "test-call")]
    assert "ValueError: not vjpcheck's business" in other[0]["reasons"][0]
    assert not report["clean"] and report["problems"] == []


def test_a_verify_that_checked_too_little_fails_the_test_and_keeps_its_records(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """log over all reals: most examples are not finite and compare nothing. The test fails
    with the reasons (a green test must rest on checked examples); the report keeps them."""
    fresh_session(monkeypatch)
    pytester.makepyfile(
        test_coverage="""
import torch
from vjpcheck.strategies import positive, tensor

def f(x):
    return torch.log(x).sum() * torch.ones(2, dtype=x.dtype)

def test_everywhere(vjp):
    vjp.verify(f, tensor("n", dtype="float64", min_side=1), max_examples=40, seed=0)

def test_in_the_domain(vjp):
    vjp.verify(f, tensor("n", dtype="float64", min_side=1, domain=positive()), max_examples=40, seed=0)

def test_accepted(vjp):
    vjp.verify(f, tensor("n", dtype="float64", min_side=1), max_examples=40, seed=0, min_checked=0)
"""
    )
    result = run(pytester, "--vjpcheck-report", "report.html")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*LowCoverage*only * of 40 examples were checked*", "*the function value is not finite*"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert not report["clean"] and report["outcome"] == "failed"
    assert any(r["test"].endswith("test_everywhere") and r["status"] == "skipped" for r in report["records"])
    junit = ET.parse(pytester.path / "report.junit.xml").getroot()
    assert int(junit.get("failures") or junit.find("testsuite").get("failures")) >= 1


def test_a_pytree_failure_names_its_leaves_in_every_report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Issue 14, item 8: a wrong rule behind dict parameters and a keyword, found through the
    fixture: the JSON record, the HTML page and the JUnit failure name the leaves."""
    fresh_session(monkeypatch)
    pytester.makepyfile(
        test_tree="""
import torch
from vjpcheck.strategies import tensor


class SinTwiceTooSteep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x.cos()


def model(params, x, *, bias):
    return {"y": SinTwiceTooSteep.apply(params["w"]) * x + bias}


def test_model(vjp):
    vjp.verify(model, {"w": tensor("n", dtype="float64")}, tensor("n", dtype="float64"), kwargs={"bias": tensor("n", dtype="float64")}, seed=0, max_examples=20)
"""
    )
    result = run(pytester, "--vjpcheck-report", "report.html")
    result.assert_outcomes(failed=1)
    assert "arg0['w'][0]: PyTorch's reverse mode of model" in result.stdout.str()
    report = json.loads((pytester.path / "report.json").read_text())
    failing = [r for r in report["records"] if r["status"] == "mismatch"]
    assert failing and [a["name"] for a in failing[-1]["detail"]["case"]["args"]] == ["arg0['w']", "arg1", "bias"]
    html = (pytester.path / "report.html").read_text()
    assert "arg0[&#39;w&#39;]" in html and "bias" in html
    junit = ET.parse(pytester.path / "report.junit.xml").getroot()
    assert "arg0['w']" in ET.tostring(junit, encoding="unicode")


def test_session_transforms_apply_to_plain_checks_and_reports_show_the_compiled_gradient(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Issue 16: ``--vjpcheck-transforms`` reaches a plain ``vjpcheck.verify`` inside a
    test; a planted compiler bug fails it, and the HTML report puts the compiled gradient
    beside the eager one and finite differences."""
    fresh_session(monkeypatch)
    pytester.makepyfile(
        test_compiled="""
import torch
import vjpcheck
import planted_compilers as pc
from vjpcheck.strategies import tensor


def scaled(x, y):
    return torch.sin(x * y)


def test_vmap_joins_a_plain_check():
    verdict = vjpcheck.check_vjp(scaled, torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    assert {o.name for o in verdict.oracles if o.ok} >= {"torch.vmap", "torch.compile[aot_eager]"}


def test_under_a_wrong_compiler():
    vjpcheck.verify(scaled, tensor("n, 1", dtype="float64"), tensor("n, m", dtype="float64"), compile_backend=pc.broadcast_mean, seed=0, max_examples=20)
"""
    )
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1] / "corpus"))
    result = run(pytester, "--vjpcheck-transforms", "compile,vmap", "--vjpcheck-report", "report.html")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*transforms=compile,vmap*", "*under torch.compile?broadcast_mean? disagrees*"])
    html = (pytester.path / "report.html").read_text()
    assert "torch.compile[broadcast_mean]" in html and "torch.compile[aot_eager]" in html


def test_a_bad_transforms_flag_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run(pytester, "--vjpcheck-transforms", "compiled")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--vjpcheck-transforms*unknown transform 'compiled'*"])
