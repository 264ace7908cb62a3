"""Every Python example in the README runs, and says what the README claims."""

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
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
