"""The public façade: pinned names, lazy heavy imports, a true Python version claim."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys
import tomllib

import vjpcheck

ROOT = pathlib.Path(__file__).resolve().parents[2]
PUBLIC = {
    "check_vjp",
    "assert_vjp",
    "verify",
    "strategies",
    "maps",
    "VJPMismatch",
    "LowCoverage",
    "Verdict",
    "Summary",
    "ORACLE_NAMES",
    "make_tensor",
    "__version__",
}


def test_public_names_are_exactly_the_documented_ones():
    assert set(vjpcheck.__all__) == PUBLIC
    for name in vjpcheck.__all__:
        assert getattr(vjpcheck, name) is not None, name


def test_import_vjpcheck_loads_no_framework_no_pytest_no_jinja():
    """Importing vjpcheck costs what Hypothesis costs, nothing more: torch and JAX load
    only when a function of theirs is checked, pytest only as a plugin (Hypothesis itself
    may import pytest when it is installed, so that is subtracted)."""
    code = (
        "import sys, json, hypothesis, hypothesis.extra.numpy\n"
        "before = set(sys.modules)\n"
        "import vjpcheck, vjpcheck.strategies\n"
        "print(json.dumps({'new': sorted(set(sys.modules) - before), 'all': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    modules = json.loads(done.stdout)
    heavy = ("torch", "jax", "jaxlib", "pytest", "_pytest", "jinja2")
    assert not [m for m in modules["new"] if m.split(".")[0] in heavy]
    assert not [m for m in modules["all"] if m.split(".")[0] in ("torch", "jax", "jaxlib")]


#: standard-library features the package may use, and the Python version that added them
_ADDED = {"tomllib": (3, 11), "enum.StrEnum": (3, 11)}


def _floor() -> tuple[int, int]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert spec.startswith(">="), spec
    major, minor = spec[2:].split(".")[:2]
    return int(major), int(minor)


def test_requires_python_is_true_for_the_package_sources():
    """Every module parses at the claimed floor, and no stdlib feature newer than it is used."""
    floor = _floor()
    assert sys.version_info[:2] >= floor
    needed = (3, 0)
    for path in sorted((ROOT / "vjpcheck").rglob("*.py")):
        tree = ast.parse(path.read_text(), feature_version=floor)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                needed = max(needed, _ADDED.get(name, (3, 0)))
    assert floor >= needed, f"requires-python claims {floor}, the sources need {needed}"
