"""What the vmap oracles share: the batch they run, and each entry judged against its
own VJP computed alone.

The batch holds :data:`BATCH` entries at the case's point. Entry 0 has the case's
cotangent; its result is the oracle's vᵀJ, compared with every other oracle and with
finite differences. The others have the cotangent with random signs flipped (the same
magnitudes, so the same tolerance applies), and each must equal the VJP of that cotangent
computed without vmap: a batching rule that mixes entries, reduces over the batch
dimension or drops it disagrees there. The entries share their inputs, so a rule that mixes
the batched forward values of different entries is caught only through the values the
backward computes from the cotangents.
"""

from __future__ import annotations

import numpy as np

from ..._engine.case import Case
from ..._engine.options import CheckOptions
from ..._engine.results import Finding, OracleResult
from ..._engine.tolerance import compare_vectors, comparison_rtol

BATCH = 3


def sign_flips(case: Case, keep: list[int], rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Per batch entry after the first, one ±1 array per kept output (its cotangent's shape)."""
    return [[rng.choice(np.array([-1.0, 1.0]), size=case.output_infos[k].shape) for k in keep] for _ in range(BATCH - 1)]


def batch_findings(name: str, rule: str, case: Case, opts: CheckOptions, batched: list[list[np.ndarray]], alone: list[list[np.ndarray]]) -> list[Finding]:
    """Mismatch findings for the batch entries (after the first) whose vmapped VJP
    differs from the same VJP computed alone, under the tolerance model."""
    findings = []
    for b, (got, want) in enumerate(zip(batched, alone), start=1):
        expected = OracleResult(name=f"{name} entry {b} alone", rule=rule, grads=want)
        result = OracleResult(name=f"{name} entry {b} of {BATCH}", rule=rule, grads=got)
        comparison, found = compare_vectors(expected, result, case, comparison_rtol(case, opts), opts.atol, None)
        for f in found:
            findings.append(
                Finding(
                    kind=f.kind,
                    oracle=name,
                    message=f"{name}: batch entry {b} differs from its VJP computed alone: {f.message}",
                    details={"batch_entry": b, "worst_ratio": comparison.worst_ratio},
                )
            )
    return findings

