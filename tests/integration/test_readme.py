"""Every Python example in the README runs, and says what the README claims."""

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[index], f"README-block-{index}", "exec"), {"__name__": "readme_example"})
    for expected in re.findall(r'# "(\w+)"', BLOCKS[index]):
        assert expected in out.getvalue()


def test_readme_plugin_example_runs_under_pytest(tmp_path):
    """The plugin example is a test file: run it with the plugin and a report."""
    import json
    import os
    import subprocess
    import sys

    text = README.read_text()
    section = text[text.index("## In your test suite") :]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    (tmp_path / "test_my_rules.py").write_text(block)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--vjpcheck-max-examples", "10", "--vjpcheck-report", "reports/vjp.html"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    data = json.loads((tmp_path / "reports" / "vjp.json").read_text())
    assert {r["test"] for r in data["records"]} == {
        "test_my_rules.py::test_rowsum",
        "test_my_rules.py::test_rowsum_float64_only",
        "test_my_rules.py::test_rowsum_one_input",
    }
