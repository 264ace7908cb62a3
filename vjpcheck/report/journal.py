"""The journal: records appended as tests finish (JSON lines), the report's source.

Line 1 is a header (title, environment), then one record per line, and a last line with
the session's end when it ended. A run killed by a CI timeout still leaves every record
that arrived before the kill; ``vjpcheck report JOURNAL`` rebuilds the report from it,
marked *interrupted* when the end line is missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import IO, Iterable

from .record import Record, json_default, strict_json

FORMAT = "vjpcheck-journal"
VERSION = 1


@dataclass
class JournalContents:
    title: str
    meta: dict
    records: list[Record]
    end: dict | None  # {"exitstatus": …, "interrupted": …} when the session ended
    problems: list[str] = field(default_factory=list)  # unreadable lines


class Journal:
    """Appends to ``path`` (truncated when opened); every write is flushed, so a killed
    process leaves whole lines behind (a torn last line is skipped when read)."""

    def __init__(self, path: str, title: str, meta: dict):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._file: IO[str] | None = open(path, "w", encoding="utf-8")
        self._write({"format": FORMAT, "version": VERSION, "title": title, "meta": meta})

    def append(self, records: Iterable[Record]) -> None:
        for r in records:
            self._write(r.to_json())

    def end(self, **info) -> None:
        self._write({"end": info})
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, obj: dict) -> None:
        if self._file is None:
            raise ValueError(f"the journal {self.path} is closed")
        self._file.write(json.dumps(strict_json(obj), default=json_default, allow_nan=False) + "\n")
        self._file.flush()


def read_journal(path: str) -> JournalContents:
    """The journal at ``path``; ``ValueError`` when it is not one."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    try:
        header = json.loads(lines[0])
    except (json.JSONDecodeError, IndexError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a vjpcheck journal (its first line is not a {FORMAT} header)")
    contents = JournalContents(title=str(header.get("title") or "vjpcheck report"), meta=dict(header.get("meta") or {}), records=[], end=None)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if "end" in obj and len(obj) == 1:
                contents.end = obj["end"]
            else:
                contents.records.append(Record.from_json(obj))
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            torn = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
            contents.problems.append(
                f"journal line {number} " + ("was cut off when the run was killed" if torn else f"is unreadable ({type(exc).__name__})")
            )
    return contents
