"""Probe mode: ⟨v, J u⟩ along a few random directions u (Richardson along u), for inputs
too large for one column per coordinate."""

from __future__ import annotations

import numpy as np

from ..._engine.numeric import Directions
from ..._engine.results import OracleResult, Projection
from ..base import OracleContext, OracleUnavailable
from .evaluate import BATCH_ELEMENTS
from .smoothness import REASONS
from .stats import NO_CONVERGENCE, OK, PROBE_SALT, RETRIED, RETRIES, RETRY_FACTOR, SIGNS, STATUS_NAMES, Problem, chunk_stats

def probe_directions(problem: Problem, case, ctx: OracleContext, result: OracleResult, n_coords: int) -> None:
    """⟨v, J u⟩ for ``ctx.options.probes`` random directions u (Richardson along u)."""
    x0 = problem.x0
    # regenerated from their seeds where read: only the directions of one batch are held
    tangents = [
        Directions(entropy=ctx.entropy(PROBE_SALT, j), shapes=tuple(p.shape for p in x0), complex_=tuple(np.iscomplexobj(p) for p in x0))
        for j in range(ctx.options.probes)
    ]
    size = sum(p.size for p in x0)
    rms = float(np.sqrt(sum(float(np.sum(np.abs(p) ** 2)) for p in x0) / max(size, 1)))
    h0 = problem.base_step * max(rms, problem.min_scale)
    k = len(tangents)
    status = np.full(k, NO_CONVERGENCE)
    final_stats: list[dict | None] = [None] * k
    # directions per batch: their 4 points each, inputs and outputs, within the batch budget
    group = max(1, BATCH_ELEMENTS // (len(SIGNS) * (size + problem.f0.size)))
    pending = list(range(k))
    for attempt in range(RETRIES + 1):
        if not pending:
            break
        h = h0 / RETRY_FACTOR**attempt
        for lo in range(0, len(pending), group):  # a few directions at a time: bounded memory
            some = pending[lo : lo + group]
            arrays = [tangents[j].arrays() for j in some]
            F = _evaluate(problem, [[u[a] for u in arrays] for a in range(len(x0))], h)
            del arrays
            st = chunk_stats(problem, F, np.full(len(some), h), keep_columns=False)
            del F
            # the points are x0 ± t·h·u and chunk_stats divides by h: g is ⟨v, J u⟩ itself
            for i, j in enumerate(some):
                status[j] = st["status"][i]
                final_stats[j] = {f: float(st[f][i]) for f in ("g", "scale", "err")}
        pending = [j for j in pending if status[j] in RETRIED]  # a kink seen at a large step is retried
    reasons = []
    for j in range(k):
        stats = final_stats[j]
        if status[j] != OK or stats is None:
            reasons.append(f"probe {j}: {REASONS[STATUS_NAMES[status[j]]]}")
            continue
        result.projections.append(Projection(tangents=tangents[j], value=stats["g"], scale=stats["scale"], error=stats["err"]))
    if not result.projections:
        raise OracleUnavailable("probe mode: no random direction gave a smooth, converged estimate (" + "; ".join(reasons) + ")")
    result.nonsmooth_reasons = reasons
    result.probe = True
    result.message = (
        f"probe mode: {n_coords} input coordinates"
        + (f" > fd_max_coords={ctx.options.fd_max_coords}" if ctx.options.mode == "auto" else " (mode='probe')")
        + f"; {len(result.projections)} random directions, step {h0:.3g}"
    )


#: above this many entries per point (inputs + outputs) one call's fixed cost is lost in
#: its work: points go one by one through the plain call, which also spares the batched
#: path its validation (one more evaluation of f)
BATCH_PAYS = 1 << 16


def _evaluate(problem: Problem, directions: list[list[np.ndarray]], h: float):
    """f at x + t·h·u for t in SIGNS (outer) and the directions (inner; per argument):
    one batch when the evaluator takes them all at once and the points are small enough
    for batching to pay, else point by point into one array of values (a single point of
    a 1e7-entry input is 80 MB; four are 320)."""
    x0, count = problem.x0, len(SIGNS) * len(directions[0])
    size = sum(x.size for x in x0) + problem.f0.size
    if size <= BATCH_PAYS and problem.evaluator.chunk(problem.f0.size) >= count:
        return problem.evaluator.many([_points(x, u, h) for x, u in zip(x0, directions)], problem.f0)
    F = np.empty((count, problem.f0.size), dtype=problem.evaluator.out_dtype)
    r = 0
    for t in SIGNS:
        for j in range(len(directions[0])):
            # one point a call: the plain evaluation (a batch of one would add a vmap and
            # its validation, one more evaluation of f, to no gain)
            F[r] = problem.evaluator([_points(x, [u[j]], h, signs=(t,))[0] for x, u in zip(x0, directions)])
            r += 1
    return F


def _points(x: np.ndarray, directions: list[np.ndarray], h: float, signs=SIGNS) -> np.ndarray:
    """x + t·h·u for t in ``signs`` (outer) and u in ``directions`` (inner), written in
    place into one stacked array: no temporary per point."""
    dtype = np.result_type(x, *directions)
    out = np.empty((len(signs) * len(directions),) + x.shape, dtype=dtype)
    r = 0
    for t in signs:
        for u in directions:
            np.multiply(u, t * h, out=out[r])
            out[r] += x
            r += 1
    return out
