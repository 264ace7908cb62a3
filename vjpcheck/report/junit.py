"""JUnit XML: one test case per (test, function): failed when it holds a mismatch, an
error or a crash, skipped (``<skipped/>``) when nothing of it was checked, passed
otherwise; plus one ``vjpcheck session`` case that errs when the run was interrupted and
is skipped when nothing was checked, so CI shows those states too. Text is stripped of
terminal escapes and of characters XML 1.0 forbids, so any strict parser reads it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from .._engine.results import is_failing
from .model import ReportModel
from .record import plain_text


#: the control characters XML 1.0 does not allow
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without terminal colour codes and characters XML 1.0 cannot hold."""
    return _FORBIDDEN.sub("", plain_text(text))


def junit_xml(model: ReportModel) -> str:
    groups: dict = defaultdict(list)
    for r in model.records:
        groups[(r["test"], r["function"])].append(r)
    failures = sum(1 for rs in groups.values() if any(is_failing(r["status"]) for r in rs))
    skipped = sum(1 for rs in groups.values() if _all_skipped(rs))
    suite = ET.Element("testsuite", name="vjpcheck", tests=str(len(groups)), failures=str(failures), errors="0", skipped=str(skipped), timestamp=model.created, time=f"{model.seconds:.3f}")
    session = _session_case(model)
    if session is not None:
        suite.append(session)
        suite.set("tests", str(len(groups) + 1))
        kind = session[0].tag
        suite.set("errors" if kind == "error" else "skipped", str(int(suite.get("errors" if kind == "error" else "skipped")) + 1))
    for (test, function), rs in sorted(groups.items()):
        classname, _, name = test.rpartition("::")
        case = ET.SubElement(suite, "testcase", classname=xml_text(classname or "vjpcheck"), name=xml_text(f"{name or test} [{function}]"))
        counts: dict = defaultdict(int)
        for r in rs:
            counts[r["status"]] += r["count"]
        bad = [r for r in rs if is_failing(r["status"])]
        if bad:
            first = bad[0]
            failure = ET.SubElement(case, "failure", message=xml_text(f"{first['status']}: {first['function']} on {first['device']} {first['dtype']}"), type=str(first["status"]))
            failure.text = xml_text(first.get("explanation") or "")
        elif _all_skipped(rs):
            reasons = [reason for r in rs for reason in r.get("reasons") or []]
            ET.SubElement(case, "skipped", message=xml_text(reasons[0] if reasons else "skipped"))
        props = ET.SubElement(case, "properties")
        for status, n in sorted(counts.items()):
            ET.SubElement(props, "property", name=f"vjpcheck.{status}", value=str(n))
    return ET.tostring(_wrap(suite), encoding="unicode", xml_declaration=True)


def _session_case(model: ReportModel) -> ET.Element | None:
    """The run as a whole, when its outcome is one no single test shows."""
    from .model import INTERRUPTED, NOTHING_CHECKED

    if model.outcome not in (INTERRUPTED, NOTHING_CHECKED):
        return None
    case = ET.Element("testcase", classname="vjpcheck", name="vjpcheck session")
    if model.outcome == INTERRUPTED:
        ET.SubElement(case, "error", message=xml_text(f"interrupted: {model.incomplete}"), type="interrupted")
    else:
        ET.SubElement(case, "skipped", message="nothing was checked: every check was skipped, or none ran")
    return case


def _all_skipped(records: list[dict]) -> bool:
    return all(r["status"] in ("skipped", "inconclusive") for r in records)


def _wrap(suite: ET.Element) -> ET.Element:
    root = ET.Element("testsuites")
    root.append(suite)
    return root
