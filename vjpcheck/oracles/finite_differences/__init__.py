"""Finite differences in float64/complex128 on the CPU: the independent reference.

Method, per real coordinate (complex inputs: the real and the imaginary part separately):

* step ``h = 2⁻¹⁰ · max(|x_k|, 10⁻³)``, rounded so that ``x ± h`` is exact;
* central differences at ``h`` and ``h/2`` of every output *entry* (outputs are differenced
  elementwise and only then contracted with v, so small terms are not lost to cancellation
  against large ones), combined by Richardson extrapolation: ``R = (4·D(h/2) − D(h)) / 3``;
* error estimate per entry: ``|D(h/2) − D(h)|`` (a bound for the error of D(h/2), which R
  improves on) plus the rounding error ``16·(ε·(max|f| + Σⱼ|∂f/∂xⱼ|·|xⱼ|) + tiny) / h``
  (the sum covers outputs that cancel, tiny: the smallest normal number, so that values
  that underflow to zero are not taken as exact);
* smoothness: one-sided slopes (f(x+h)−f(x))/h and (f(x)−f(x−h))/h must differ by O(h), so
  their gap must halve when h halves. At a kink (relu/abs at 0, ties of max/sort, clamp
  edges) the gap stays, at a jump (floor) it doubles. Coordinates whose estimates do not
  converge are retried with h/16 twice before they are called non-smooth. Non-smooth and
  out-of-domain coordinates are *masked*: no oracle is compared with another there, except
  oracles that share one derivative rule (which must agree even at kinks).

All 4n perturbed points are evaluated as batches (``finite_differences.evaluate``): one vmapped call per
chunk instead of a Python loop per coordinate, and the statistics above are computed for
all coordinates of a chunk at once.

**Probe mode** (inputs above ``fd_max_coords`` real coordinates, or ``mode="probe"``):
instead of one column per coordinate, the same Richardson estimate along a few random
directions u gives ⟨v, J u⟩, compared with ⟨vᵀJ, u⟩ of every vector oracle. It cannot
say which entry is wrong, but an error Δ in vᵀJ escapes all k probes only with
probability Π erf(tolⱼ / (√2·σ·‖Δ‖)) (σ = 1 for real inputs, 1/√2 with complex ones),
which the verdict states.
"""

from __future__ import annotations

import numpy as np

from ..._engine.results import OracleResult
from ..base import Oracle, OracleContext, OracleUnavailable
from .columns import full_columns
from .evaluate import build_evaluator
from .noise import forward_noise_floor, solver_noise
from .probes import probe_directions
from .stats import Problem


#: full finite differences evaluate ~4 points per input coordinate, each computing every
#: output: above this many coordinate × output pairs, auto mode probes instead (outer(x, x)
#: with 1024 inputs: 1e9 pairs, 121 s in full mode)
FULL_MAX_WORK = 1 << 25


def output_entries(case) -> int:
    """Entries of the differentiated outputs (complex ones count once)."""
    return sum(int(np.prod(i.shape, dtype=np.int64)) for i, d in zip(case.output_infos, case.output_differentiable) if d)


def empty_jacobian(case, ctx: OracleContext, result: OracleResult) -> None:
    """No input coordinate or no output entry: the Jacobian is empty, and vᵀJ is exactly
    zero (of each input's shape) whatever f is, so nothing is evaluated."""
    shapes = [(tuple(i.shape), np.complex128 if i.dtype.startswith("complex") else np.float64) for i in case.wrt_infos]
    result.grads = [np.zeros(shape, dtype=dtype) for shape, dtype in shapes]
    result.error = [np.zeros(shape) for shape, _ in shapes]
    result.scale = [np.zeros(shape) for shape, _ in shapes]
    result.nonsmooth = [np.zeros(shape, dtype=bool) for shape, _ in shapes]
    result.finite_required = [np.ones(shape, dtype=bool) for shape, _ in shapes]
    result.jumps = [np.zeros(shape, dtype=bool) for shape, _ in shapes]
    result.wide = True  # exact: held to float64's bound
    result.evaluations = 0
    result.message = "the Jacobian is empty: vᵀJ is exactly zero, no evaluation needed"
    ctx.nonsmooth = result.nonsmooth


def uses_probes(case, options) -> bool:
    """Whether finite differences run in probe mode for ``case``: asked for, or (auto) more
    input coordinates than ``fd_max_coords``, or more coordinate × output pairs than
    :data:`FULL_MAX_WORK` (the cost of full mode grows with both)."""
    coords = sum(int(np.prod(i.shape, dtype=np.int64)) * (2 if i.dtype.startswith("complex") else 1) for i in case.wrt_infos)
    outputs = output_entries(case)
    if options.mode != "auto":
        return options.mode == "probe"
    return coords > options.fd_max_coords or coords * max(outputs, 1) > FULL_MAX_WORK


class FiniteDifferences(Oracle):
    name = "finite_differences"
    rule = "numeric"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        with np.errstate(all="ignore"):  # the statistics meet inf and NaN by design (jumps, overflow)
            self._compute(case, ctx, result)

    def _compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        n_coords = sum(int(np.prod(i.shape, dtype=np.int64)) * (2 if i.dtype.startswith("complex") else 1) for i in case.wrt_infos)
        if n_coords == 0 or output_entries(case) == 0:
            empty_jacobian(case, ctx, result)
            return
        probe = uses_probes(case, ctx.options)
        evaluator = build_evaluator(case, ctx.options.reference, batch=ctx.options.fd_batch)
        notes = [] if evaluator.mode == "reference" else [evaluator.mode]
        result.wide = evaluator.mode == "reference"
        declared = ctx.options.solver_tol
        problem = _problem(case, evaluator, declared or ctx.measured_noise, absolute=declared is not None)
        result.noise_level = problem.noise
        if probe:
            probe_directions(problem, case, ctx, result, n_coords)
        else:
            full_columns(problem, case, ctx, result)
            result.noise_floor = forward_noise_floor(problem, result.jacobian)
        if evaluator.fallback and (evaluator.calls > 2 or not evaluator.batched):
            notes.append(evaluator.fallback)
        result.message = "; ".join(n for n in notes + ([result.message] if result.message else []) if n)
        result.evaluations = evaluator.calls


def _problem(case, evaluator, noise: float | None, absolute: bool = False) -> Problem:
    x0 = [_read_only(p) for p in case.primals]  # the case's own snapshots: no copy (1e7 entries: 80 MB each)
    f0 = evaluator.base_value if evaluator.base_value is not None else evaluator(x0)
    parts = [v.reshape(-1) for v in case.v if v is not None] or [np.zeros(0)]
    v_flat = parts[0] if len(parts) == 1 else np.concatenate(parts)  # one output: no copy (1e7 entries: 80 MB)
    v_flat = v_flat.astype(np.complex128 if np.iscomplexobj(v_flat) or evaluator.out_dtype == np.complex128 else np.float64, copy=False)
    weights = np.abs(v_flat)
    if not np.all(np.isfinite(f0[weights > 0])):
        raise OracleUnavailable("the function value is not finite where the cotangent is nonzero")
    return Problem(evaluator, x0, f0, v_flat, weights, noise=noise, absolute_steps=absolute)


def _read_only(values: np.ndarray) -> np.ndarray:
    view = np.asarray(values).view()
    view.flags.writeable = False
    return view


def measured_noise(case, options) -> float:
    """The function's own noise at the case's point (``noise.solver_noise``; 0 when its
    values are as smooth as their rounding), in the precision finite differences use."""
    with np.errstate(all="ignore"):
        try:
            return solver_noise(_problem(case, build_evaluator(case, options.reference, batch=options.fd_batch), None))
        except OracleUnavailable:
            return 0.0
