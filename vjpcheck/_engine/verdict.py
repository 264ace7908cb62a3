"""The verdict of one check: status, evidence, and an explanation a person can act on."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .results import ERROR_FINDINGS, VALUE_FINDINGS, Comparison, Finding, OracleResult, is_failing

_PRECEDENCE = {"error": 3, "mismatch": 2, "skipped": 1, "pass": 0}


def reason_key(reason: str) -> str:
    """A skip reason without its specifics, for counting: "N of N input entries at …"."""
    return re.sub(r"\d+", "N", reason.split(":")[0].split(",")[0])


def case_key(case: dict) -> tuple[str, str]:
    """(device, dtype) of a described case: those of its differentiated arguments."""
    args = [a for a in case.get("args", []) if a.get("differentiated") and "dtype" in a]
    devices = sorted({a.get("device", "cpu") for a in args}) or ["cpu"]
    dtypes = sorted({a["dtype"] for a in args}) or ["-"]
    return ",".join(devices), ",".join(dtypes)


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
    reproducer: str = ""
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
        no referee).
        """
        forward = sorted({f.oracle for f in self.findings if f.oracle in ("reference.forward", "twin.forward")})
        if forward:
            return forward
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
        if self.reasons and self.overall_status == "skipped":
            text += f" — {self.reasons[0]}"
        return text

    def explain(self) -> str:
        lines = [f"vjpcheck {self.label}: {self.status.upper()} for {self.function} ({self.framework})"]
        args = self.case.get("args", [])
        for a in args:
            mark = " (differentiated)" if a.get("differentiated") else ""
            lines.append(f"  arg{a['index']}: {a['description']}{mark}")
        for k, c in enumerate(self.case.get("cotangents", [])):
            if c:
                lines.append(f"  v[{k}]: {c['description']}")
        errors = [f for f in self.findings if f.kind in ERROR_FINDINGS]
        values = [f for f in self.findings if f.kind in VALUE_FINDINGS]
        if errors:
            lines.append("  findings:")
            lines += [f"    [{f.kind}] {f.message}" for f in errors]
        if values:
            suspects = self.suspects()
            if suspects:
                lines.append(f"  disagreeing: {', '.join(suspects)}")
            failed = [c for c in self.comparisons if not c.passed and c.message]
            lines.append("  mismatches:")
            lines += [f"    [{f.kind}] {f.message}" for f in values if f.kind != "mismatch"]
            lines += [f"    [mismatch] {f.message}" for f in values if f.kind == "mismatch" and f.oracle and f.oracle.startswith("twin")]
            for c in failed[:6]:
                lines.append(f"    [mismatch] {c.message}")
                for w in c.worst[1:4]:
                    lines.append(
                        f"      arg{w.arg}{list(w.index)}: got {w.got!r}, expected {w.expected!r} "
                        f"(abs {w.abs_error:.3g}, rel {w.rel_error:.3g}, tol {w.tolerance:.3g})"
                    )
            if len(failed) > 6:
                lines.append(f"    … and {len(failed) - 6} more failing comparisons")
        if self.reasons:
            lines.append("  skipped: " + "; ".join(self.reasons[:4]))
        unavailable = [o for o in self.oracles if o.status == "unavailable"]
        if unavailable:
            lines.append("  not run: " + "; ".join(f"{o.name} ({o.message[:120]})" for o in unavailable))
        lines += [f"  note: {n}" for n in self.notes]
        for child in self.children:
            lines.append("")
            lines.append(child.explain())
        if self.reproducer and is_failing(self.overall_status) and self.label == "first order":
            lines.append("  reproducer:")
            lines += ["    " + line for line in self.reproducer.splitlines()]
        return "\n".join(lines)

    __str__ = explain

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
            "reasons": self.reasons,
            "notes": self.notes,
            "reproducer": self.reproducer,
            "seconds": round(self.seconds, 6),
            "children": [c.to_dict() for c in self.children],
            "probe": self.probe,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }
