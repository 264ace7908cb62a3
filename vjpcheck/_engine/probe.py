"""How likely random probes are to miss a wrong vᵀJ (probe mode's stated guarantee).

A probe compares ⟨vᵀJ, u⟩ with ⟨v, J u⟩ for a random direction u with independent
standard normal entries. If an oracle's vᵀJ is off by Δ, the probe sees ⟨Δ, u⟩, a normal
variable with standard deviation σ·‖Δ‖ (σ = 1 for real inputs; 1/√2 is the smallest value
when complex inputs are involved, whose entries split their unit variance between the real
and the imaginary part). It misses Δ only if |⟨Δ, u⟩| stays within its tolerance τ:
probability erf(τ / (√2·σ·‖Δ‖)). Independent probes multiply.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: the miss probability the verdict quotes an error size for
QUOTED_MISS = 1e-6


def miss_probability(probes: Sequence[tuple[float, float]], error_norm: float) -> float:
    """P(every probe misses an error of norm ``error_norm``); ``probes``: (τ, σ) pairs."""
    if error_norm <= 0:
        return 1.0
    p = 1.0
    for tol, sigma in probes:
        p *= math.erf(tol / (math.sqrt(2.0) * sigma * error_norm)) if sigma > 0 else 1.0
    return p


def detectable_error(probes: Sequence[tuple[float, float]], miss: float = QUOTED_MISS) -> float:
    """The smallest ‖Δ‖ that escapes every probe with probability at most ``miss``."""
    if not probes or all(s <= 0 for _, s in probes):
        return math.inf
    if any(t <= 0 for t, s in probes if s > 0):
        return 0.0
    lo = min(t for t, _ in probes) * 1e-3
    hi = max(t / s for t, s in probes if s > 0) * 1e9
    for _ in range(200):  # bisection on a log scale (the miss probability falls as ‖Δ‖ grows)
        mid = math.sqrt(lo * hi)
        if miss_probability(probes, mid) <= miss:
            hi = mid
        else:
            lo = mid
        if hi / lo < 1.0001:
            break
    return hi


def probe_statement(results, comparisons) -> dict:
    """Probe mode's guarantee: per vector oracle, the error size that escapes every random
    probe with probability at most :data:`QUOTED_MISS`; empty when finite differences did
    not run in probe mode."""
    fd = next((r for r in results if r.name == "finite_differences" and r.ok and r.probe), None)
    if fd is None:
        return {}
    per_oracle = {}
    for r in results:
        if not (r.ok and r.grads is not None):
            continue
        probes = [p for c in comparisons if c.kind == "projection" and c.expected == r.name for p in c.probes]
        norm = float(np.sqrt(sum(float(np.sum(np.abs(g) ** 2)) for g in r.grads)))
        size = detectable_error(probes)
        per_oracle[r.name] = {"probes": len(probes), "error_norm": size, "relative": size / norm if norm > 0 else None, "norm": norm}
    if not per_oracle:
        return {}
    # low-precision results compared entry by entry with the float64 stage are bounded by
    # that comparison, not by the (loose) probes: the statement is about the others
    wide = {r.name for r in results if r.wide}
    entrywise = {
        name for c in comparisons if c.kind == "vector" and c.passed and (c.expected in wide) != (c.got in wide)
        for name in (c.expected, c.got) if name not in wide
    }
    stated = {k: v for k, v in per_oracle.items() if k not in entrywise} or per_oracle
    name, worst = max(stated.items(), key=lambda kv: kv[1]["error_norm"])
    relative = f" ({worst['relative']:.2g} × ‖vᵀJ‖)" if worst["relative"] is not None else ""
    statement = (
        f"probe mode: an error Δ in {name}'s vᵀJ with ‖Δ‖ ≥ {worst['error_norm']:.3g}{relative} escapes all "
        f"{worst['probes']} random probes with probability ≤ {QUOTED_MISS:g} (others: at least as likely caught)"
    )
    if entrywise and stated is not per_oracle:
        statement += f"; {', '.join(sorted(entrywise))} compared entry by entry with the float64 stage"
    return {"miss_probability": QUOTED_MISS, "per_oracle": per_oracle, "statement": statement}
