"""JUnit XML: one test case per (test, function), failed when it holds a mismatch/error."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from .._engine.results import is_failing
from .model import ReportModel


def junit_xml(model: ReportModel) -> str:
    groups: dict = defaultdict(list)
    for r in model.records:
        groups[(r["test"], r["function"])].append(r)
    failures = sum(1 for rs in groups.values() if any(is_failing(r["status"]) for r in rs))
    suite = ET.Element("testsuite", name="vjpcheck", tests=str(len(groups)), failures=str(failures), errors="0", skipped="0", timestamp=model.created)
    for (test, function), rs in sorted(groups.items()):
        classname, _, name = test.rpartition("::")
        case = ET.SubElement(suite, "testcase", classname=classname or "vjpcheck", name=f"{name or test} [{function}]")
        counts: dict = defaultdict(int)
        for r in rs:
            counts[r["status"]] += r["count"]
        bad = [r for r in rs if is_failing(r["status"])]
        if bad:
            first = bad[0]
            failure = ET.SubElement(case, "failure", message=f"{first['status']}: {first['function']} on {first['device']} {first['dtype']}", type=first["status"])
            failure.text = first.get("explanation") or ""
        props = ET.SubElement(case, "properties")
        for status, n in sorted(counts.items()):
            ET.SubElement(props, "property", name=f"vjpcheck.{status}", value=str(n))
    return ET.tostring(_wrap(suite), encoding="unicode", xml_declaration=True)


def _wrap(suite: ET.Element) -> ET.Element:
    root = ET.Element("testsuites")
    root.append(suite)
    return root
