"""Write a report three ways: self-contained HTML (Jinja2), JSON, JUnit XML."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Sequence

from .junit import junit_xml
from .model import ReportModel, build_model
from .record import STATUSES, Record, json_default, strict_json

TEMPLATE = "report.html.j2"


def render_html(model: ReportModel) -> str:
    """One HTML file: inline CSS and JavaScript, no network, filters and sorting offline."""
    try:
        import jinja2
    except ImportError as exc:  # a clear error, not a traceback deep in a hook
        raise RuntimeError("the HTML report needs Jinja2: pip install jinja2 (or vjpcheck[test])") from exc
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    facets = {key: sorted({r[key] for r in model.records}) for key in ("framework", "device", "dtype")}
    return env.get_template(TEMPLATE).render(model=model, statuses=STATUSES, facets=facets)


def sibling_paths(html_path: str) -> dict:
    """reports/x.html → {"html": …, "json": reports/x.json, "junit": reports/x.junit.xml,
    "journal": reports/x.journal.jsonl}."""
    stem = html_path[:-5] if html_path.endswith(".html") else html_path
    return {"html": html_path, "json": stem + ".json", "junit": stem + ".junit.xml", "journal": stem + ".journal.jsonl"}


def write_reports(
    records: Sequence[Record], html_path: str, title: str = "vjpcheck report", worker_totals: dict | None = None,
    meta: dict | None = None, incomplete: str | None = None, problems: Sequence[str] = (),
) -> tuple[ReportModel, dict]:
    """Build the model and write HTML, JSON and JUnit next to each other (each file
    atomically); returns the model and the paths written."""
    model = build_model(records, title=title, worker_totals=worker_totals, meta=meta, incomplete=incomplete, problems=problems)
    paths = {k: v for k, v in sibling_paths(html_path).items() if k != "journal"}
    folder = os.path.dirname(os.path.abspath(html_path))
    os.makedirs(folder, exist_ok=True)
    write_atomically(paths["html"], render_html(model))
    write_atomically(paths["json"], json.dumps(strict_json(model.to_dict()), default=json_default, indent=1, allow_nan=False))
    write_atomically(paths["junit"], junit_xml(model))
    return model, paths


def write_atomically(path: str, text: str | bytes) -> None:
    """Write ``text`` (UTF-8; or bytes as they are) to a temporary file beside ``path``,
    then rename it over ``path``: a reader (or a second writer) sees the old file or the
    new one, never half of one."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            if not isinstance(text, (str, bytes)):
                raise TypeError(f"write_atomically: text must be str or bytes, got {type(text).__name__}")
            fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
