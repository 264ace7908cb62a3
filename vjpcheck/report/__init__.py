"""Discrepancy reports: records of verdicts (``records``), their aggregation
(``model``), and the writers: self-contained HTML (``html``), JSON and JUnit XML
(``junit``). :func:`write_reports` writes all three next to each other."""

from __future__ import annotations

from .model import ReportModel, build_model
from .record import record_from_summary, record_from_verdict
from .write import write_reports

__all__ = ["ReportModel", "build_model", "record_from_summary", "record_from_verdict", "write_reports"]
