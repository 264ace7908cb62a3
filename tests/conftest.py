"""Test-suite layout as markers: ``integration/`` is ``slow`` (subprocesses, whole runs),
``gpu/`` is ``cuda`` (skipped cleanly without a CUDA device).

The development loop is ``pytest -m "not slow" -n 2``; CI runs everything. Helpers live
in ``corpus/`` (on ``pythonpath``), never in a conftest.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

import pytest

# reproducers of the failures this suite provokes go to a scratch folder, not reports/
os.environ.setdefault("VJPCHECK_REPRODUCER_DIR", tempfile.mkdtemp(prefix="vjpcheck-test-reproducers-"))

HERE = pathlib.Path(__file__).parent
FOLDER_MARKERS = {"integration": "slow", "gpu": "cuda"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = pathlib.Path(item.path).relative_to(HERE).parts[0]
        except ValueError:  # collected from outside tests/
            continue
        marker = FOLDER_MARKERS.get(folder)
        if marker:
            item.add_marker(marker)
