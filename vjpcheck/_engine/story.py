"""One discrepancy, one story: who disagrees with whom, in the user's terms.

Oracles that agree with each other form a *party* (``torch.backward``, ``torch.autograd.grad``,
``torch.func.vjp`` and ``torch.jacobian`` all run the same backward rule, so they are one
voice, not four). The story names the suspect party by what the user wrote ("RowSum.backward",
"the custom VJP rule of f") and the parties it disagrees with ("finite differences", "AD of
its forward"), and lists the worst entries once, with every party's value side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..oracles.transforms import is_transform
from .results import Comparison, EntryError, OracleResult

FINITE_DIFFERENCES = "finite_differences"


@dataclass
class Party:
    """Oracles that agree with each other, and what they stand for."""

    names: list[str]
    role: str

    @property
    def representative(self) -> str:
        return self.names[0]


@dataclass
class Story:
    headline: str  # "RowSum.backward disagrees with finite differences and with AD of its forward"
    parties: list[Party]
    suspects: list[Party]
    entries: list[tuple[EntryError, list[tuple[Party, object]]]]  # worst entries: each party's value


def short_name(function: str) -> str:
    """``pkg.mod.RowSum.apply`` → ``RowSum.apply``; ``pkg.mod.f`` → ``f``; the second
    order's ``pkg.vjp_map[torch.corrcoef]`` → ``vjp_map[corrcoef]``."""
    outer, bracket, inner = function.partition("[")
    if bracket and inner.endswith("]"):
        return f"{short_name(outer)}[{short_name(inner[:-1])}]"
    parts = function.split(".")
    if len(parts) >= 2 and parts[-1] in ("apply", "forward", "backward"):
        return ".".join(parts[-2:])
    return parts[-1]


def role_of(name: str, function: str, framework: str, custom: bool) -> str:
    """What an oracle stands for, in the user's terms."""
    short = short_name(function)
    if name == FINITE_DIFFERENCES:
        return "finite differences"
    if name.endswith(".primal"):
        return f"AD of {short.removesuffix('.apply')}'s forward"
    if name.endswith(".forward"):
        return f"forward-mode AD ({name})"
    if name == "torch.cpu":
        return "the same function on the CPU"
    if is_transform(name):
        return TRANSFORM_ROLES.get(name, "{f}'s backward under " + name).format(f=short)

    if not name.startswith(framework + "."):
        return f"the {name.split('.')[0]} twin ({name})"
    if short.endswith(".apply"):
        return short.removesuffix(".apply") + ".backward"
    if custom:
        return f"the custom VJP rule of {short}"
    return f"{'PyTorch' if framework == 'torch' else 'JAX'}'s reverse mode of {short}"


#: what each transform oracle stands for ({f}: the function's short name)
TRANSFORM_ROLES = {
    "torch.compile": "{f}'s backward under torch.compile (Inductor)",
    "torch.compile[aot_eager]": "{f}'s backward under torch.compile's AOTAutograd (aot_eager)",
    "torch.vmap": "{f}'s VJP under torch.func.vmap",
    "jax.eager": "JAX's reverse mode of {f}, op by op (jax.eager)",
    "jax.vmap": "{f}'s VJP under jax.vmap",
}


def parties(oracles: list[OracleResult], comparisons: list[Comparison], function: str, framework: str) -> list[Party]:
    """Oracles joined when they were compared and agreed (vector comparisons only: a
    forward-mode projection agreeing is weaker evidence), in the oracles' order."""
    names = [o.name for o in oracles if o.ok and (o.grads is not None or o.projections)]
    group = {n: n for n in names}

    def root(n: str) -> str:
        while group[n] != n:
            n = group[n]
        return n

    for c in comparisons:
        if c.passed and c.kind == "vector" and c.expected in group and c.got in group:
            group[root(c.got)] = root(c.expected)
    custom = any(n.endswith(".primal") for n in names)
    members: dict[str, list[str]] = {}
    for n in names:
        members.setdefault(root(n), []).append(n)
    out = []
    for ms in members.values():
        # a party is named after what it stands for: the rule under test first, finite
        # differences next, then the others (each role once)
        roles = [role_of(n, function, framework, custom) for n in ms]
        order = sorted(range(len(ms)), key=lambda i: (not _is_rule(ms[i], framework), ms[i] != FINITE_DIFFERENCES, i))
        out.append(Party(ms, _join(_unique([roles[i] for i in order]), " and ")))
    return out


def _is_rule(name: str, framework: str) -> bool:
    """Whether oracle ``name`` runs the function's own reverse-mode rule."""
    return (
        name.startswith(framework + ".") and not name.endswith((".primal", ".forward")) and name != "torch.cpu"
        and not is_transform(name)
    )


def tell(verdict) -> Story | None:
    """The story of a verdict with value mismatches (``None`` when there is none)."""
    failed = [c for c in verdict.comparisons if not c.passed]
    if not failed:
        return None
    ps = parties(verdict.oracles, verdict.comparisons, verdict.function, verdict.framework)
    by_name = {n: p for p in ps for n in p.names}
    suspect_names = verdict.suspects()
    suspects = _unique([by_name[n] for n in suspect_names if n in by_name])
    against = _unique(
        [by_name[other] for c in failed for s in suspect_names if s in (c.expected, c.got)
         for other in (c.expected, c.got) if other != s and other in by_name and by_name[other] not in suspects]
    )
    if suspects and against:
        verb = "disagrees" if len(suspects) == 1 else "disagree"
        headline = f"{_join([p.role for p in suspects], ' and ')} {verb} with {_join([p.role for p in against], ' and with ')}"
    else:
        headline = "the oracles disagree: " + _join([p.role for p in ps], " and ")
    agreeing = [p for p in ps if p not in suspects and p not in against and p.representative != FINITE_DIFFERENCES]
    if agreeing and suspects and against:
        headline += f"; {_join([p.role for p in agreeing], ' and ')} agree{'s' if len(agreeing) == 1 else ''} with " + ("them" if len(against) > 1 else against[0].role)
    ordered = suspects + [p for p in ps if p not in suspects]  # the suspect's value first
    return Story(headline, ps, suspects, _worst_entries(verdict, failed, ordered, suspect_names))


def _worst_entries(verdict, failed: list[Comparison], ps: list[Party], suspects: list[str], limit: int = 3):
    """The worst entries of the worst failing comparison that involves a suspect, each
    with every party's value (parties without a vector result are left out)."""
    relevant = [c for c in failed if c.kind == "vector" and (c.expected in suspects or c.got in suspects)] or [c for c in failed if c.kind == "vector"]
    if not relevant:
        return []
    worst = max(relevant, key=lambda c: c.worst_ratio)
    grads = {o.name: o.grads for o in verdict.oracles if o.ok and o.grads is not None}
    rows = []
    for e in worst.worst[:limit]:
        values = []
        for p in ps:
            g = grads.get(p.representative)
            if g is None or e.arg >= len(g):
                continue
            arr = np.asarray(g[e.arg])
            try:
                values.append((p, arr[tuple(e.index)].item()))
            except IndexError:
                continue
        rows.append((e, values))
    return rows


def distinct_digits(values: list) -> int:
    """Significant digits that tell ``values`` apart (6 at least, 17 at most), so that a
    real 3e-8 error is not printed as "got 0.173752, expected 0.173752"."""
    reals = [v for x in values for v in ((x.real, x.imag) if isinstance(x, complex) else (x,))]
    for digits in range(6, 18):
        texts = {f"{v:.{digits}g}" for v in reals}
        if len(texts) == len(set(reals)):
            return digits
    return 17


def number(x, digits: int) -> str:
    if isinstance(x, complex):
        return f"{x.real:.{digits}g}{x.imag:+.{digits}g}j"
    return f"{x:.{digits}g}"


def _unique(items: list) -> list:
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _join(words: list[str], last: str) -> str:
    """["a", "b", "c"] → "a, b<last>c"."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + last + words[-1]
