"""The option through which ``vjpcheck run`` hands its plan to the built-in tests (an
initial conftest: the tests' own folder is the path pytest is given)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--vjpcheck-run-plan", dest="vjpcheck_run_plan", metavar="PATH", default=None, help="the JSON plan written by `vjpcheck run`")
