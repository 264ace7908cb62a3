"""What ``vjpcheck run`` and ``vjpcheck opinfo`` hand their tests (an initial conftest: the
tests' own folder is the path pytest is given): the JSON plan named by
``--vjpcheck-run-plan``, one test per chunk of it."""

from __future__ import annotations

import json

import pytest

_PLANS: dict = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--vjpcheck-run-plan", dest="vjpcheck_run_plan", metavar="PATH", default=None, help="the JSON plan written by `vjpcheck run` or `vjpcheck opinfo`")


def load_plan(config: pytest.Config) -> dict:
    path = config.getoption("vjpcheck_run_plan")
    if not path:
        raise pytest.UsageError("--vjpcheck-run-plan is not set: these tests are run by `vjpcheck run` and `vjpcheck opinfo`")
    if path not in _PLANS:
        with open(path, encoding="utf-8") as fh:
            _PLANS[path] = json.load(fh)
    return _PLANS[path]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chunk" in metafunc.fixturenames:
        chunks = load_plan(metafunc.config)["chunks"]
        metafunc.parametrize("chunk", chunks, ids=[c["id"] for c in chunks])


@pytest.fixture
def run_plan(pytestconfig: pytest.Config) -> dict:
    """The whole plan (its ``deadline`` is when chunks stop being started)."""
    return load_plan(pytestconfig)
