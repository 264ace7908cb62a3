"""The report: model (heat map, matricised Jacobian), writers, and a real browser."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest
import torch

import vjpcheck
from vjpcheck.report import build_model, record_from_verdict, write_reports
from vjpcheck.report.record import Record, dumps, loads


class PairSwap(torch.autograd.Function):
    """y = x * [2, 3] on a 1×2 input; the backward scales with the wrong entries."""

    @staticmethod
    def forward(ctx, x):
        return x * torch.tensor([[2.0, 3.0]], dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * torch.tensor([[3.0, 2.0]], dtype=g.dtype)


def _failing_record():
    x = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(PairSwap.apply, x, oracles=["finite_differences", "torch.backward"])
    assert verdict.status == "mismatch"
    return record_from_verdict(verdict, "tests/x.py::test_pair")


def test_discrepancy_view_explains_the_jacobian_reshape():
    model = build_model([_failing_record()])
    (d,) = model.discrepancies
    jac = d["jacobian"]
    assert (jac["m"], jac["n"]) == (2, 2)
    assert "(1, 2, 1, 2)" in jac["explain"][0] and "2×2" in jac["explain"][0]
    assert [r["values"] for r in jac["rows"]] == [["2", "0"], ["0", "3"]]
    assert d["heatmaps"][0]["shape"] == [1, 2]
    assert all(c["level"] >= 5 for c in d["heatmaps"][0]["grid"][0])  # both entries over tolerance
    assert d["suspects"] == ["torch.backward"]
    assert d["args"][0]["text"] and "0.5" in d["args"][0]["text"]


def test_counts_by_framework_device_dtype_and_lost_records():
    ok = Record.from_json({"test": "t::a", "kind": "verify", "function": "f", "framework": "torch", "device": "cpu", "dtype": "float32", "status": "pass", "count": 5,
                           "reasons": [], "known": None, "explanation": None, "detail": None, "worker": "gw0"})
    records = [ok, dataclasses.replace(ok, dtype="float64", count=2, worker="gw1"), dataclasses.replace(_failing_record(), worker="main")]
    model = build_model(records, worker_totals={"gw0": 5, "gw1": 3})
    assert model.totals["pass"] == 7 and model.totals["mismatch"] == 1
    rows = {(r["framework"], r["device"], r["dtype"]): r["counts"]["pass"] for r in model.matrix}
    assert rows[("torch", "cpu", "float32")] == 5 and rows[("torch", "cpu", "float64")] == 2
    assert model.problems == ["worker gw1 recorded 3 cases but 2 reached the controller"]
    assert not model.clean


def test_records_round_trip_through_json_and_reject_strangers():
    record = _failing_record()
    again = loads(dumps([record]))[0]
    assert again.to_json() == json.loads(dumps([record]))[0] and again.status == "mismatch"
    with pytest.raises(ValueError, match="unknown field"):
        Record.from_json(dict(record.to_json(), colour="red"))
    with pytest.raises(ValueError, match="is not a valid"):
        Record.from_json(dict(record.to_json(), status="fine"))


def test_writers_make_self_contained_html_json_and_junit(tmp_path):
    model, paths = write_reports([_failing_record()], str(tmp_path / "r.html"))
    html = open(paths["html"]).read()
    assert "http://" not in html and "https://" not in html and "<link" not in html  # no network at all
    data = json.load(open(paths["json"]))
    assert data["totals"]["mismatch"] == 1 and data["records"][0]["detail"]["case"]["args"][0]["shape"] == [1, 2]
    junit = open(paths["junit"]).read()
    assert junit.startswith("<?xml") and 'failures="1"' in junit


def _browser():
    """A headless Chromium through Selenium, or a reason why there is none."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install selenium)"
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        return None, "no Chromium/ChromeDriver on this machine (Debian: apt-get install chromium chromium-driver)"
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,2400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options), ""


def _crash_record():
    return Record("tests/x.py::test_dies", "-", "-", "crashed", kind="crash", reasons=["worker 'gw1' crashed while running 'tests/x.py::test_dies'"], worker="main")


def test_report_in_a_real_browser(tmp_path):
    model, paths = write_reports([_failing_record(), _crash_record()], str(tmp_path / "r.html"), meta={"seed": 7, "torch": torch.__version__})
    interrupted_model, interrupted = write_reports([_failing_record()], str(tmp_path / "i.html"), incomplete="the run was interrupted (Ctrl-C or SIGTERM) before it finished")
    _, nothing = write_reports([], str(tmp_path / "n.html"))
    assert (model.outcome, interrupted_model.outcome) == ("failed", "interrupted")
    browser, why = _browser()
    if browser is None:
        pytest.skip(why)
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        browser.get("file://" + os.path.abspath(paths["html"]))
        shot = str(tmp_path / "report.png")
        assert browser.save_screenshot(shot) and os.path.getsize(shot) > 10_000
        # what a person sees first: a red banner naming the crashed test, and the environment
        banner = browser.find_element(By.ID, "banner")
        assert banner.get_attribute("data-outcome") == "failed" and banner.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
        assert "test_dies" in banner.find_element(By.ID, "failed-tests").text
        assert "seed" in browser.find_element(By.ID, "environment").text
        sections = browser.find_elements(By.CSS_SELECTOR, "section.discrepancy")
        assert len(sections) == 1 and sections[0].is_displayed()
        assert "PairSwap.backward disagrees with finite differences" in sections[0].find_element(By.CSS_SELECTOR, ".headline").text
        wrong = sections[0].find_elements(By.CSS_SELECTOR, "table.oracles td.wrong")
        assert len(wrong) == 4  # two entries, each wrong in both columns, highlighted
        assert wrong[0].value_of_css_property("background-color") == "rgba(255, 216, 211, 1)"
        cells = browser.find_elements(By.CSS_SELECTOR, "table.heatmap td")
        assert len(cells) == 2 and all("h" in c.get_attribute("class") for c in cells)
        assert [h.text for h in browser.find_elements(By.CSS_SELECTOR, "table.heatmap tr:first-child th")] == ["idx", "0", "1"]
        # the functions table links to the discrepancy, and the sticky filter bar does not cover it
        browser.find_element(By.CSS_SELECTOR, "#functions a[href='#d0']").click()
        top = browser.execute_script("return document.getElementById('d0').getBoundingClientRect().top")
        bar = browser.execute_script("return document.getElementById('filters').getBoundingClientRect().bottom")
        assert top >= bar - 1, (top, bar)
        button = browser.find_element(By.CSS_SELECTOR, "button.copy")
        assert button.is_displayed()
        button.click()
        assert browser.find_element(By.CSS_SELECTOR, ".copied").text in ("copied", "select the text and copy it")
        # filters work offline: hiding mismatches hides the section
        Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=status]")).select_by_visible_text("pass")
        assert not sections[0].is_displayed()
        # sorting by a column reorders without errors
        browser.find_element(By.CSS_SELECTOR, "#records th.sortable").click()
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        # the other outcomes have their own banners
        for path, outcome, words in ((interrupted["html"], "interrupted", "INTERRUPTED"), (nothing["html"], "nothing-checked", "Nothing was checked")):
            browser.get("file://" + os.path.abspath(path))
            banner = browser.find_element(By.ID, "banner")
            assert banner.get_attribute("data-outcome") == outcome and words in banner.text
    finally:
        browser.quit()


def test_outcomes_of_the_model():
    assert build_model([]).outcome == "nothing-checked"
    skipped = Record("t::a", "f", "torch", "skipped", kind="skip")
    assert build_model([skipped]).outcome == "nothing-checked"
    assert build_model([dataclasses.replace(skipped, status="pass")]).outcome == "clean"
    assert build_model([dataclasses.replace(skipped, status="pass"), _crash_record()]).outcome == "failed"
    interrupted = build_model([dataclasses.replace(skipped, status="pass")], incomplete="killed")
    assert interrupted.outcome == "interrupted" and not interrupted.clean
    assert interrupted.to_dict()["incomplete"] == "killed"


def test_junit_is_strict_xml_with_skips_and_without_control_characters(tmp_path):
    import xml.etree.ElementTree as ET

    failing = dataclasses.replace(_failing_record(), explanation="\x1b[31mMISMATCH\x1b[0m at \x00arg0\x07[1]")
    skipped = Record("t.py::test_skip", "f", "torch", "skipped", kind="skip", reasons=["vjpcheck: no CUDA device\x1b[0m"])
    passed = Record("t.py::test_mixed", "g", "torch", "pass", kind="verify", count=3)
    also_skipped = Record("t.py::test_mixed", "g", "torch", "skipped", kind="verify", reasons=["at a kink"])
    _, paths = write_reports([failing, skipped, passed, also_skipped], str(tmp_path / "r.html"))
    suite = ET.parse(paths["junit"]).getroot().find("testsuite")  # a strict parser
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["test_skip [f]"].find("skipped").get("message") == "vjpcheck: no CUDA device"
    assert cases["test_mixed [g]"].find("skipped") is None  # something of it was checked
    text = ET.tostring(suite, encoding="unicode")
    assert "\x1b" not in text and "MISMATCH at arg0[1]" in text


def test_json_report_is_strict_json_even_with_non_finite_values(tmp_path):
    record = _failing_record()
    record.detail["oracles"][0]["grads"] = [[float("nan"), float("inf"), -float("inf")]]
    _, paths = write_reports([record], str(tmp_path / "r.html"))
    text = open(paths["json"]).read()
    data = json.loads(text, parse_constant=lambda token: pytest.fail(f"bare {token} in the JSON report"))
    assert data["records"][0]["detail"]["oracles"][0]["grads"] == [["NaN", "Infinity", "-Infinity"]]


def test_report_files_are_replaced_atomically(tmp_path):
    from vjpcheck.report.write import write_atomically

    target = tmp_path / "r.json"
    write_atomically(str(target), "old")
    with pytest.raises(TypeError):
        write_atomically(str(target), None)  # fails half-way: the old file stays whole
    assert target.read_text() == "old"
    write_atomically(str(target), "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary left behind


def test_a_report_rebuilt_from_strict_json_reads_an_infinite_ratio():
    """A comparison whose worst ratio is inf is spelled "Infinity" in the journal; building
    the report from it (vjpcheck run, vjpcheck report) raised TypeError comparing it."""
    record = _failing_record()
    failing = next(c for c in record.detail["comparisons"] if not c["passed"])
    record.detail["comparisons"].append(dict(failing, worst_ratio=float("inf")))  # beside a finite one
    from vjpcheck.report.record import strict_json

    record.detail = strict_json(record.detail)  # as the journal and the JSON report hold it
    assert any(c["worst_ratio"] == "Infinity" for c in record.detail["comparisons"])
    (d,) = build_model([record]).discrepancies
    assert d["suspects"] == ["torch.backward"]


def test_a_record_of_no_case_is_listed_but_makes_no_matrix_row():
    """An OpInfo with no sample in the asked dtypes is a zero-count skip: it is named in the
    functions table, and the matrix had an empty "-" row for it."""
    empty = Record("t::none", "one_hot", "torch", "skipped", kind="opinfo", dtype="-", count=0)
    checked = Record("t::sin", "sin", "torch", "pass", kind="opinfo", dtype="float64", count=3)
    model = build_model([empty, checked])
    assert [row["dtype"] for row in model.matrix] == ["float64"]
    assert {f["function"] for f in model.functions} == {"one_hot", "sin"}


def test_a_failure_with_an_empty_argument_is_drawn_without_its_empty_map(tmp_path):
    """Found by issue 16's plugin test: a minimal case with an argument of shape [1, 0]
    made the heat map reshape(-1, 0) and lost the whole report."""

    class MeanForSum(torch.autograd.Function):
        """x · y broadcast along y's columns; x's gradient averaged, not summed (NaN for none)."""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return (g * y).mean(1, keepdim=True), g * x

    verdict = vjpcheck.check_vjp(MeanForSum.apply, torch.ones(1, 1, dtype=torch.float64), torch.ones(1, 0, dtype=torch.float64))
    assert verdict.status == "mismatch", verdict.explain()
    _, paths = write_reports([record_from_verdict(verdict, "t::empty")], str(tmp_path / "r.html"))
    assert "MeanForSum" in open(paths["html"]).read()
