"""The verdict of one check: status, evidence, and an explanation a person can act on."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .results import ERROR_FINDINGS, VALUE_FINDINGS, Comparison, Finding, OracleResult, is_failing
from .story import distinct_digits, number, tell

#: reproducers longer than this (characters) are written to a file and shown by path
INLINE_REPRODUCER_MAX = 20_000
_PRECEDENCE = {"crashed": 5, "error": 4, "mismatch": 3, "inconclusive": 2, "skipped": 1, "pass": 0}


def reason_key(reason: str) -> str:
    """A skip reason without its specifics, for counting: "N of N input entries at …"."""
    return re.sub(r"\d+", "N", reason.split(":")[0].split(",")[0])


def argument_label(described: dict) -> str:
    """A described argument's name as the call reads (``arg0``, ``arg1['w']``, ``args[0]``)."""
    return described.get("name") or f"arg{described.get('index')}"


def _short(text: str, width: int) -> str:
    """``text`` on one line, cut at a word boundary with " …" when longer than ``width``."""
    return textwrap.shorten(" ".join(str(text).split()), width=width, placeholder=" …") or str(text)[:width]


def case_key(case: dict) -> tuple[str, str]:
    """(device, dtype) of a described case: those of its differentiated arguments."""
    args = [a for a in case.get("args", []) if a.get("differentiated") and "dtype" in a]
    devices = sorted({a.get("device", "cpu") for a in args}) or ["cpu"]
    dtypes = sorted({a["dtype"] for a in args}) or ["-"]
    return ",".join(devices), ",".join(dtypes)


class _BuiltOnRead:
    """A text field that may be set to a zero-argument function: it is called, once, when
    the field is first read (a reproducer of 1e7 entries is 200 MB of text and a second of
    encoding that most passing checks never need). Reads as ``""`` when never set."""

    def __set_name__(self, owner, name: str) -> None:
        self._slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return ""  # the dataclass default
        value = obj.__dict__.get(self._slot, "")
        if callable(value):
            value = obj.__dict__[self._slot] = value()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self._slot] = value


@dataclass
class Verdict:
    """Outcome of :func:`vjpcheck.check_vjp`.

    ``status`` is one of ``"pass"``, ``"mismatch"`` (wrong values), ``"error"`` (an oracle
    raised, or a contract was broken: wrong shape/dtype/device, mutated input or
    cotangent, a forward that raised) or ``"skipped"`` (see ``reasons``).
    """

    status: str
    function: str
    framework: str
    label: str = "first order"
    case: dict = field(default_factory=dict)
    oracles: list[OracleResult] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the script that reruns the case; built when first read (from the case's snapshots)
    reproducer: str = _BuiltOnRead()  # type: ignore[assignment]
    seconds: float = 0.0
    children: list["Verdict"] = field(default_factory=list)
    # probe mode: per vector oracle, the error size missed with probability ≤ 1e-6
    probe: dict = field(default_factory=dict)
    # seconds per phase: "case" (set-up), each oracle by name, "compare", "reproducer"
    timings: dict = field(default_factory=dict)

    # ---- status --------------------------------------------------------------------
    @property
    def passed(self) -> bool:
        return self.overall_status == "pass"

    @property
    def overall_status(self) -> str:
        statuses = [self.status] + [c.overall_status for c in self.children]
        return max(statuses, key=_PRECEDENCE.__getitem__)

    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for c in self.children:
            out.extend(c.all_findings())
        return out

    def finding_kinds(self) -> set[str]:
        return {f.kind for f in self.all_findings()}

    def suspects(self) -> list[str]:
        """Oracles most likely wrong.

        Finite differences are the independent referee when they ran: the suspects are the
        oracles that disagree with them (several AD oracles sharing one backward rule are
        not independent votes), unless PyTorch and JAX oracles all agree with each other
        and only with finite differences not: two independent frameworks outvote them. Without them: the oracles that disagree with every oracle
        they were compared with. A twin or NumPy reference whose forward values differ from
        the function's is the suspect itself (finite differences of a reference are then
        no referee). An oracle whose own check failed (a vmap batch entry against its VJP
        computed alone) is a suspect too.
        """
        forward = sorted({f.oracle for f in self.findings if f.oracle in ("reference.forward", "twin.forward")})
        if forward:
            return forward
        self_checked = {f.oracle for f in self.findings if f.kind in VALUE_FINDINGS and "batch_entry" in f.details}
        compared = self._compared_suspects()
        return sorted(set(compared) | self_checked) if self_checked else compared

    def _compared_suspects(self) -> list[str]:
        referee = "finite_differences"
        against_fd = [c for c in self.comparisons if referee in (c.expected, c.got)]
        if against_fd:
            blamed = {c.got if c.expected == referee else c.expected for c in against_fd if not c.passed}
            others = [c for c in self.comparisons if referee not in (c.expected, c.got)]
            frameworks = {name.split(".")[0] for name in blamed}
            compared = {n for c in against_fd for n in (c.expected, c.got)} - {referee}
            if blamed and blamed == compared and len(frameworks) > 1 and all(c.passed for c in others):
                return [referee]  # PyTorch and JAX agree with each other: outvoted
            return sorted(blamed)
        failed, total = Counter(), Counter()
        for c in self.comparisons:
            for name in (c.expected, c.got):
                total[name] += 1
                if not c.passed:
                    failed[name] += 1
        if not failed:
            return []
        most = max(failed.values())
        clean = [n for n in total if failed[n] == 0]
        if not clean:
            return sorted(n for n in failed if failed[n] == most)
        return sorted(n for n in failed if failed[n] == total[n])

    # ---- presentation --------------------------------------------------------------
    def summary(self) -> str:
        text = f"{self.overall_status.upper()}: {self.function} ({self.framework})"
        if self.reasons and self.overall_status in ("skipped", "inconclusive"):
            text += f" — {self.reasons[0]}"
        return text

    def explain(self, brief: bool = False, reproducer_path: str | None = None) -> str:
        """The verdict for a person: the story of the discrepancy (who disagrees with whom,
        in the user's terms), the case, the worst entries once with every oracle group's
        value, what did not run, notes and the reproducer. ``brief`` keeps it to a few
        dozen lines (a test failure); ``reproducer_path`` replaces the inline script."""
        lines = [f"vjpcheck {self.label}: {self.status.upper()} for {self.function} ({self.framework})"]
        values = [f for f in self.findings if f.kind in VALUE_FINDINGS]
        story = tell(self) if values else None
        if story is not None:
            lines.append(f"  [mismatch] {story.headline}")
        args = self.case.get("args", [])
        for a in args[:6] if brief else args:
            mark = " (differentiated)" if a.get("differentiated") else ""
            lines.append(f"  {argument_label(a)}: {_short(a['description'], 160)}{mark}")
        if brief and len(args) > 6:
            lines.append(f"  … and {len(args) - 6} more arguments")
        outputs = self.case.get("outputs", [])
        for k, c in enumerate(self.case.get("cotangents", [])):
            if c:
                name = outputs[k].get("name") if k < len(outputs) else None
                of = f" (for {name})" if name and name != "out" and not name.startswith("out[") else ""
                lines.append(f"  v[{k}]{of}: {_short(c['description'], 160)}")
        errors = [f for f in self.findings if f.kind in ERROR_FINDINGS]
        if errors:
            lines.append("  findings:")
            shown = errors[:5] if brief else errors
            lines += [f"    [{f.kind}] {_short(f.message, 300) if brief else f.message}" for f in shown]
            if len(errors) > len(shown):
                lines.append(f"    … and {len(errors) - len(shown)} more findings")
        if values:
            lines += self._value_lines(story, values, brief)
        if self.reasons:
            lines.append(f"  {'inconclusive' if self.status == 'inconclusive' else 'skipped'}: " + "; ".join(_short(r, 200) for r in self.reasons[:4]))
        unavailable = [o for o in self.oracles if o.status == "unavailable"]
        if unavailable:
            lines.append("  not run: " + "; ".join(f"{o.name} ({_short(o.message, 120)})" for o in unavailable))
        notes = self.notes[:4] if brief else self.notes
        lines += [f"  note: {_short(n, 240) if brief else n}" for n in notes]
        for child in self.children:
            if brief and not is_failing(child.status):
                continue
            lines.append("")
            lines.append(child.explain(brief=brief))
        if self.reproducer and is_failing(self.overall_status) and self.label == "first order":
            path = reproducer_path or self.reproducer_file()
            if path:
                lines.append(f"  reproducer: python {path}")
            else:
                lines.append("  reproducer:")
                lines += ["    " + line for line in self.reproducer.splitlines()]
        return "\n".join(lines)

    def reproducer_file(self) -> str | None:
        """Where the reproducer was written when it is too big to show (exact values of
        large arguments: a 1e6-entry case once made a 21 MB message); ``None`` when it is
        shown inline (or cannot be written)."""
        if len(self.reproducer) <= INLINE_REPRODUCER_MAX:
            return None
        from .reproducer import write_reproducer

        return write_reproducer(self.function, self.reproducer)

    def argument_name(self, index: int) -> str:
        """The name of argument ``index`` as the call reads (``arg0``, ``arg1['w']``)."""
        for a in self.case.get("args", []):
            if a.get("index") == index:
                return argument_label(a)
        return f"arg{index}"

    def _value_lines(self, story, values: list[Finding], brief: bool) -> list[str]:
        lines = []
        if story is not None and story.entries:
            lines.append("  worst entries of vᵀJ:")
            for e, party_values in story.entries:
                digits = distinct_digits([v for _, v in party_values])
                said = "; ".join(f"{p.role} {number(v, digits)}" for p, v in party_values)
                lines.append(f"    {self.argument_name(e.arg)}{list(e.index)}: {said} (|error| {e.abs_error:.3g} > tolerance {e.tolerance:.3g})")
        lines += [f"  [{f.kind}] {_short(f.message, 300)}" for f in values if f.kind != "mismatch"]
        lines += [f"  [mismatch] {_short(f.message, 300)}" for f in values if f.kind == "mismatch" and f.oracle and f.oracle.startswith("twin")]
        if story is not None:
            groups = [f"{p.role} = {', '.join(p.names)}" for p in story.parties if p.names != [p.role]]
            if groups:
                lines.append("  oracles (each group agrees within itself): " + "; ".join(groups))
        failed = [c for c in self.comparisons if not c.passed and c.message]
        if not brief and failed:
            lines.append("  failing comparisons:")
            lines += [f"    {c.message}" for c in failed[:6]]
            if len(failed) > 6:
                lines.append(f"    … and {len(failed) - 6} more")
        elif not story or not story.entries:  # projections only (probe mode): their messages are the evidence
            lines += [f"  [mismatch] {_short(c.message, 300)}" for c in failed[:3]]
        return lines

    __str__ = explain

    def __getstate__(self) -> dict:
        """Pickled (worker processes) with the reproducer built: a closure does not pickle."""
        state = dict(self.__dict__)
        state["_reproducer"] = self.reproducer
        return state

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "overall_status": self.overall_status,
            "function": self.function,
            "framework": self.framework,
            "label": self.label,
            "case": self.case,
            "oracles": [o.to_dict() for o in self.oracles],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "findings": [f.to_dict() for f in self.findings],
            "suspects": self.suspects() if is_failing(self.status) else [],
            "story": _story_dict(tell(self)) if any(f.kind in VALUE_FINDINGS for f in self.findings) else None,
            "reasons": self.reasons,
            "notes": self.notes,
            "reproducer": (f"# written to a file (too big to show): python {path}" if (path := self.reproducer_file()) else self.reproducer),
            "seconds": round(self.seconds, 6),
            "children": [c.to_dict() for c in self.children],
            "probe": self.probe,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }


def _story_dict(story) -> dict | None:
    if story is None:
        return None
    return {
        "headline": story.headline,
        "parties": [{"role": p.role, "names": p.names, "suspect": p in story.suspects} for p in story.parties],
    }
