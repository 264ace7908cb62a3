"""Known differences: a data file of framework bugs and convention differences."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .._engine.results import ERROR_FINDINGS, is_failing
from .._engine.verdict import Verdict
from ..oracles.transforms import transformed_method

DEFAULT_FILE = Path(__file__).with_name("known_differences.toml")
_FIELDS = {"id", "ops", "oracles", "dtypes", "kind", "reason", "link", "scope", "orders", "reproducer", "message"}
SCOPES = ("programs", "opinfo")


@dataclass(frozen=True)
class KnownDifference:
    id: str
    ops: tuple[str, ...]
    oracles: tuple[str, ...]
    kind: str
    reason: str
    link: str = ""
    dtypes: tuple[str, ...] = ()
    scope: str = "programs"  # "programs": random programs' ops; "opinfo": OpInfo names
    orders: tuple[int, ...] = ()  # opinfo: the orders it applies to (all when empty)
    reproducer: str = ""
    message: str = ""  # when set: every finding against the suspect says this (an error's words)

    def describes(self, verdict: Verdict, suspect: str) -> bool:
        """Whether the suspect's findings are this difference's (always, without ``message``)."""
        if not self.message:
            return True
        own = [f for f in verdict.all_findings() if f.oracle == suspect]
        return bool(own) and all(self.message in f.message for f in own)

    def matches(self, ops: Sequence[str], dtypes: Sequence[str], suspects: Sequence[str]) -> bool:
        if not set(self.ops) <= set(ops) or not suspects:
            return False
        if self.dtypes and not set(dtypes) & set(self.dtypes):
            return False
        return all(any(s == o or (o.endswith(".") and s.startswith(o)) for o in self.oracles) for s in suspects)

    def matches_opinfo(self, op: str, dtype: str, order: int, suspects: Sequence[str]) -> bool:
        """An ``opinfo`` entry: the OpInfo's full name is listed, dtype and order fit, and
        every suspect oracle is one of the entry's."""
        if self.scope != "opinfo" or op not in self.ops or (self.orders and order not in self.orders):
            return False
        return self.matches([op], [dtype], suspects)


def load(path: str | Path | None = None) -> list[KnownDifference]:
    """Parse the known-differences file; bad entries raise ``ValueError`` naming the entry."""
    path = Path(path) if path is not None else DEFAULT_FILE
    with open(path, "rb") as f:
        data = tomllib.load(f)
    out = []
    for k, entry in enumerate(data.get("difference", [])):
        unknown = set(entry) - _FIELDS
        missing = {"id", "ops", "oracles", "kind", "reason"} - set(entry)
        if unknown or missing:
            raise ValueError(f"{path}: entry {k} ({entry.get('id', '?')}): unknown keys {sorted(unknown)}, missing {sorted(missing)}")
        if entry["kind"] not in ("bug", "convention"):
            raise ValueError(f"{path}: entry {entry['id']}: kind must be 'bug' or 'convention', got {entry['kind']!r}")
        if entry.get("scope", "programs") not in SCOPES:
            raise ValueError(f"{path}: entry {entry['id']}: scope must be one of {list(SCOPES)}, got {entry['scope']!r}")
        out.append(
            KnownDifference(
                entry["id"], tuple(entry["ops"]), tuple(entry["oracles"]), entry["kind"], entry["reason"], entry.get("link", ""),
                tuple(entry.get("dtypes", ())), entry.get("scope", "programs"), tuple(entry.get("orders", ())), entry.get("reproducer", ""),
                entry.get("message", ""),
            )
        )
    return out


def culprits(verdict: Verdict) -> set[str]:
    """The oracles a failing verdict blames: value suspects and oracles that raised."""
    out = set(verdict.suspects())
    if not out:  # finite differences could not referee: every oracle in a failed comparison
        out = {name for c in verdict.comparisons if not c.passed for name in (c.expected, c.got)}
    out |= {f.oracle for f in verdict.all_findings() if f.kind in ERROR_FINDINGS and f.oracle}
    for child in verdict.children:
        if is_failing(child.overall_status):
            out |= culprits(child)
    return out


def explain(verdict: Verdict, known: Sequence[KnownDifference]) -> list[KnownDifference]:
    """The known differences that together account for a failing program verdict: every
    culprit must be covered by an entry whose ops the program contains (a program can hit
    two known bugs at once). Empty when the discrepancy is unexplained."""
    program = verdict.case.get("program", {})
    ops = [n["op"] for n in program.get("nodes", [])]
    dtypes = [s["dtype"] for s in program.get("inputs", [])]
    suspects = sorted(culprits(verdict))
    # a transform that shares the wrong value of the eager method it transforms (a known
    # bug of an op's backward, compiled or batched) is explained with that method
    suspects = [s for s in suspects if transformed_method(s) not in suspects] or suspects
    if not suspects:
        return []
    used = []
    for suspect in suspects:
        entry = next((e for e in known if e.scope == "programs" and e.matches(ops, dtypes, [suspect]) and e.describes(verdict, suspect)), None)
        if entry is None:
            return []
        if entry not in used:
            used.append(entry)
    return used
