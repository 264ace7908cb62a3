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

from ..._engine.numeric import random_like
from ..._engine.results import OracleResult, Projection
from ..base import Oracle, OracleContext, OracleUnavailable
from .evaluate import Evaluator, build_evaluator

BASE_STEP = 2.0**-10
MIN_SCALE = 1e-3
RETRIES = 2
RETRY_FACTOR = 16.0
KINK_RATIO = 0.6  # gap(h/2) / gap(h) is 0.5 for smooth functions, 1 at a kink, 2 at a jump
NON_LIPSCHITZ_RATIO = 1.2  # above: the slope is unbounded (jump: 2, sqrt(|x|) at 0: √2)
CONVERGENCE = 1e-3  # |D(h/2) − D(h)| above this fraction of the scale: not converged
JACOBIAN_MAX_ENTRIES = 100_000  # the matricised Jacobian is kept for reports up to this size
PROBE_SALT = 2000  # probe directions are drawn independently of forward mode's tangents

OK, KINK, JUMP, NO_CONVERGENCE, OUT_OF_DOMAIN = range(5)
_FINAL = (OK, KINK, JUMP, OUT_OF_DOMAIN)  # statuses that a smaller step would not change
_NAMES = ("ok", "kink", "jump", "no-convergence", "out-of-domain")
_SIGNS = (1.0, -1.0, 0.5, -0.5)


class FiniteDifferences(Oracle):
    name = "finite_differences"
    rule = "numeric"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        n_coords = sum(int(np.prod(i.shape, dtype=np.int64)) * (2 if i.dtype.startswith("complex") else 1) for i in case.wrt_infos)
        probe = ctx.options.mode == "probe" or (ctx.options.mode == "auto" and n_coords > ctx.options.fd_max_coords)
        evaluator = build_evaluator(case, ctx.options.reference, batch=ctx.options.fd_batch)
        notes = [] if evaluator.mode == "reference" else [evaluator.mode]
        x0 = [np.array(p, copy=True) for p in case.primals]
        f0 = evaluator(x0)
        v_flat = np.concatenate([v.reshape(-1) for v in case.v if v is not None] or [np.zeros(0)])
        v_flat = v_flat.astype(np.complex128 if np.iscomplexobj(v_flat) or evaluator.out_dtype == np.complex128 else np.float64)
        weights = np.abs(v_flat)
        if not np.all(np.isfinite(f0[weights > 0])):
            raise OracleUnavailable("the function value is not finite where the cotangent is nonzero")
        problem = _Problem(evaluator, x0, f0, v_flat, weights)
        if probe:
            _probe(problem, case, ctx, result, n_coords)
        else:
            _full(problem, case, ctx, result)
        if evaluator.fallback and (evaluator.calls > 2 or not evaluator.batched):
            notes.append(evaluator.fallback)
        result.message = "; ".join(n for n in notes + ([result.message] if result.message else []) if n)
        result.evaluations = evaluator.calls


class _Problem:
    """The base point, its value and the cotangent: what every estimate is built on."""

    def __init__(self, evaluator: Evaluator, x0, f0, v_flat, weights):
        self.evaluator, self.x0, self.f0 = evaluator, x0, f0
        self.v_conj = np.conj(v_flat)
        self.weights = weights
        self.live = weights > 0
        self.all_live = bool(np.all(self.live))
        self.unit = evaluator.unit
        self.weight_sum = float(weights.sum())
        self.magnitude0_w = float(np.abs(f0) @ weights)
        self._constants: dict = {}

    def constants(self, like) -> dict:
        """f0, |v|, conj(v) and the live mask as arrays of ``like``'s kind and device."""
        key = "numpy" if isinstance(like, np.ndarray) else str(like.device)
        if key not in self._constants:
            values = {"w": self.weights, "v_conj": self.v_conj, "twice_f0": 2 * self.f0, "live": self.live}
            if key != "numpy":  # the same dtypes (float64/complex128, bool) as torch tensors
                import torch

                values = {name: torch.from_numpy(np.ascontiguousarray(a)).to(like.device) for name, a in values.items()}
            self._constants[key] = values
        return self._constants[key]


def _stats(problem: _Problem, F, h: np.ndarray) -> dict:
    """Richardson estimates, error bounds and smoothness tests for c directions at once.

    ``F`` holds the values at (+h, −h, +h/2, −h/2) along each direction: shape (4c, m),
    in four blocks of c rows; a NumPy array, or a torch tensor (CPU or GPU) from a
    batched PyTorch evaluation, which is then processed where it lies. Returns
    per-direction NumPy vectors, and ``T`` / ``absT`` (c × m, F's kind) with ``T / (6h)``
    the Richardson columns R = (4·D(h/2) − D(h)) / 3. Every contraction with |v| is a
    matrix-vector product; about 16 elementwise passes over (c × m).
    """
    c = h.size
    FP, FM, FP2, FM2 = F[:c], F[c : 2 * c], F[2 * c : 3 * c], F[3 * c :]
    k = problem.constants(F)
    w, eps, tiny = k["w"], problem.unit[0], problem.unit[1]
    with np.errstate(all="ignore"):
        dF1 = FP - FM  # 2h·D(h)
        dF2 = FP2 - FM2  # h·D(h/2)
        T = dF2 * 8
        T -= dF1  # 6h·R
        absT = _abs(T, scratch=False)
        change_vec = dF2 * 2
        change_vec -= dF1  # 2h·(D(h/2) − D(h))
        change = _vec(_abs(change_vec) @ w) / (2 * h)
        S1 = FP + FM
        S1 -= k["twice_f0"]  # second difference at h
        S2 = FP2 + FM2
        S2 -= k["twice_f0"]
        s1 = _vec(_abs(S1) @ w)
        s2 = _vec(_abs(S2) @ w)
        # Σ|v|·max over the 5 values of |f|, bounded without a pass per value:
        # |F± − f0| ≤ (|F+ − F−| + |F+ + F− − 2f0|) / 2
        spread = (_vec(_abs(dF1) @ w) + _vec(_abs(dF2) @ w) + s1 + s2) / 2
        magnitude = problem.magnitude0_w + spread
        g = np.real(_vec(T @ k["v_conj"])) / (6 * h)
        scale = _vec(absT @ w) / (6 * h)
        evaluation_error = eps * magnitude + tiny * problem.weight_sum  # Σ|v|·(ε·|f| + tiny)
        err = change + 16 * evaluation_error / h
        gap1 = s1 / h
        gap2 = s2 / (h / 2)
        noise2 = 8 * evaluation_error / (h / 2)
    if problem.all_live:  # a NaN/inf value anywhere makes the |v|-contraction non-finite
        finite = np.isfinite(magnitude)
    else:
        finite = np.ones(c, dtype=bool)
        for block in (FP, FM, FP2, FM2):
            finite &= _vec(_isfinite(block[:, k["live"]]).all(1)).astype(bool)
    resolved = np.isfinite(scale) & np.isfinite(g)  # overflow in the quotient
    status = np.full(c, OK)
    status[change > CONVERGENCE * scale + 4 * noise2] = NO_CONVERGENCE
    status[gap2 > KINK_RATIO * gap1 + 4 * noise2] = KINK
    status[gap2 > NON_LIPSCHITZ_RATIO * gap1 + 4 * noise2] = JUMP
    status[~resolved] = NO_CONVERGENCE  # FD cannot say anything here
    status[~finite] = OUT_OF_DOMAIN
    bad = ~finite | ~resolved
    if np.any(bad):
        for arr in (g, scale, err, gap1, gap2, noise2):
            arr[bad] = 0.0
        rows = _rows(T, bad)
        T[rows] = 0.0
        absT[rows] = 0.0
    return {"status": status, "g": g, "scale": scale, "err": err, "gap1": gap1, "gap2": gap2, "noise2": noise2, "T": T, "absT": absT}


def _abs(x, scratch: bool = True):
    """|x|: in place for real scratch arrays; NumPy or torch."""
    if isinstance(x, np.ndarray):
        return np.abs(x, out=x) if scratch and x.dtype.kind == "f" else np.abs(x)
    return x.abs_() if scratch and not x.is_complex() else x.abs()


def _like(x, values: np.ndarray):
    """``values`` as an array of ``x``'s kind and device."""
    if isinstance(x, np.ndarray):
        return values
    import torch

    return torch.from_numpy(np.ascontiguousarray(values)).to(x.device)


def _isfinite(x):
    return np.isfinite(x) if isinstance(x, np.ndarray) else x.isfinite()


def _vec(x) -> np.ndarray:
    """A per-direction vector as NumPy (from the CPU or the GPU)."""
    return x if isinstance(x, np.ndarray) else x.cpu().numpy()


def _rows(x, mask: np.ndarray):
    """A NumPy boolean row mask usable as an index of ``x``."""
    if isinstance(x, np.ndarray):
        return mask
    import torch

    return torch.from_numpy(mask).to(x.device)


# ---- full mode: one column per coordinate -------------------------------------------


def _full(problem: _Problem, case, ctx: OracleContext, result: OracleResult) -> None:
    x0 = problem.x0
    arg_of, index_of, comp_of, part = _directions(x0)
    D, m = arg_of.size, problem.f0.size
    if D == 0:  # empty inputs: vᵀJ is empty, nothing to perturb
        result.grads = [np.zeros(p.shape, dtype=p.dtype) for p in x0]
        result.error = [np.zeros(p.shape) for p in x0]
        result.scale = [np.zeros(p.shape) for p in x0]
        result.nonsmooth = [np.zeros(p.shape, dtype=bool) for p in x0]
        result.finite_required = [np.ones(p.shape, dtype=bool) for p in x0]
        ctx.nonsmooth = result.nonsmooth
        return
    base = np.abs(part)
    h0 = BASE_STEP * np.maximum(base, MIN_SCALE)
    keep_columns = D * m <= JACOBIAN_MAX_ENTRIES
    fields = ("g", "scale", "err", "gap1", "gap2", "noise2")
    out = {f: np.zeros(D) for f in fields}
    status = np.full(D, NO_CONVERGENCE)
    used = np.zeros(D)
    sensitivity = np.zeros(m)  # Σ_k |∂f/∂x_k|·|x_k| per output entry
    columns = np.zeros((D, m), dtype=problem.f0.dtype) if keep_columns else None

    pending = np.arange(D)
    tiny_x = (base > 0) & (base < MIN_SCALE)
    for attempt in range(RETRIES + 2):
        if attempt <= RETRIES:
            steps = h0[pending] / RETRY_FACTOR**attempt
        else:  # tiny |x|: a step that stays on its side of 0
            pending = pending[tiny_x[pending]]
            steps = BASE_STEP * base[pending]
        if pending.size == 0:
            break
        steps = (part[pending] + steps) - part[pending]  # exactly representable
        usable = steps >= problem.unit[1]  # a subnormal (or zero) step means nothing
        chunk = max(1, problem.evaluator.chunk(m) // 4)  # 4 points per coordinate
        for lo in range(0, pending.size, chunk):
            idx = pending[lo : lo + chunk]
            hs = steps[lo : lo + idx.size]
            ok_step = usable[lo : lo + idx.size]
            st = _coordinate_chunk(problem, arg_of[idx[ok_step]], index_of[idx[ok_step]], comp_of[idx[ok_step]], hs[ok_step])
            for f in fields:
                out[f][idx] = 0.0
                out[f][idx[ok_step]] = st[f]
            status[idx] = NO_CONVERGENCE
            status[idx[ok_step]] = st["status"]
            used[idx] = np.where(ok_step, hs, 0.0)
            # a coordinate's last attempt: h/256, or the tiny-|x| step where it gets one
            final = np.isin(status[idx], _FINAL) | (attempt == RETRIES + 1) | ((attempt == RETRIES) & ~tiny_x[idx])
            mine = final[ok_step]  # rows of st that are final
            steps_mine = hs[ok_step][mine]
            if np.any(mine):
                rows = _rows(st["absT"], mine)
                per_unit = base[idx[ok_step]][mine] / (6 * steps_mine)  # |R|·|x_k| = |T|·|x_k| / (6h)
                sensitivity += _vec(st["absT"][rows].T @ _like(st["absT"], per_unit))
                if keep_columns:
                    columns[idx[final]] = 0.0
                    columns[idx[ok_step][mine]] = _vec(st["T"][rows]) / (6 * steps_mine)[:, None]
        pending = pending[~np.isin(status[pending], _FINAL)]

    estimates, errors, scales = out["g"], out["err"], out["scale"]
    # rounding that ε·|f| misses: outputs that cancel are computed from intermediates
    # as large as their inputs (sum([-3, x, 3]) at x = 0); each column divides by its step
    noise = float(np.sum(problem.weights * 16 * problem.unit[0] * sensitivity))
    errors[used > 0] += noise / used[used > 0]

    # significance floor: tiny gaps far below every gradient entry are rounding, not kinks
    floor = 1e-12 * scales.max()
    status[np.isin(status, (KINK, JUMP)) & (out["gap2"] <= floor + out["noise2"])] = OK
    status[(status == NO_CONVERGENCE) & (errors <= CONVERGENCE * np.maximum(scales, floor * 1e6))] = OK

    joint = _joint_smoothness(problem, arg_of, index_of, comp_of, base, status, estimates, errors, scales, ctx)
    _assemble(result, case, problem, arg_of, index_of, comp_of, status, estimates, errors, scales, joint)
    real = all(not np.iscomplexobj(p) for p in x0) and problem.f0.dtype != np.complex128
    if keep_columns and real:
        result.jacobian = np.ascontiguousarray(columns.T)  # m × n, rows: outputs
    ctx.nonsmooth = result.nonsmooth


def _directions(x0):
    """(argument, flat index, component 0 real / 1 imaginary) of every real coordinate,
    and its value (the real or the imaginary part of the entry)."""
    arg_of, index_of, comp_of, part = [], [], [], []
    for a, p in enumerate(x0):
        n = p.size
        if np.iscomplexobj(p):
            arg_of.append(np.full(2 * n, a))
            index_of.append(np.repeat(np.arange(n), 2))
            comp_of.append(np.tile([0, 1], n))
            part.append(np.stack([p.real, p.imag], axis=-1).reshape(-1))
        else:
            arg_of.append(np.full(n, a))
            index_of.append(np.arange(n))
            comp_of.append(np.zeros(n, dtype=int))
            part.append(p.reshape(-1))
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return cat(arg_of, np.int64), cat(index_of, np.int64), cat(comp_of, np.int64), cat(part, np.float64)


def _coordinate_chunk(problem: _Problem, arg_of, index_of, comp_of, h) -> dict:
    """Evaluate the 4 perturbed points of each coordinate (one batch) and their stats."""
    c = h.size
    if c == 0:
        empty = np.zeros((0, problem.f0.size), dtype=problem.f0.dtype)
        return {k: np.zeros(0) for k in ("g", "scale", "err", "gap1", "gap2", "noise2")} | {
            "status": np.zeros(0, dtype=int),
            "T": empty,
            "absT": np.abs(empty),
        }
    stacked = []
    rows = np.arange(4 * c)
    deltas = np.concatenate([s * h for s in _SIGNS])
    for a, p in enumerate(problem.x0):
        block = np.repeat(p.reshape(1, -1), 4 * c, axis=0)
        mine = np.tile(arg_of == a, 4)
        if np.any(mine):
            k = np.tile(index_of, 4)[mine]
            step = deltas[mine] * np.where(np.tile(comp_of, 4)[mine] == 1, 1j, 1) if np.iscomplexobj(p) else deltas[mine]
            block[rows[mine], k] += step
        stacked.append(block.reshape((4 * c,) + p.shape))
    F = problem.evaluator.many(stacked, problem.f0)
    return _stats(problem, F, h)


def _assemble(result, case, problem, arg_of, index_of, comp_of, status, estimates, errors, scales, joint) -> None:
    """Per-direction numbers → per-argument arrays, masks and reasons."""
    grads, errs, scls, masks, required, reasons = [], [], [], [], [], []
    for a, p in enumerate(problem.x0):
        sel = arg_of == a
        parts = 2 if np.iscomplexobj(p) else 1
        st = status[sel].reshape(-1, parts)
        est = estimates[sel].reshape(-1, parts)
        g = est[:, 0] + 1j * est[:, 1] if parts == 2 else est[:, 0]
        grads.append(g.reshape(p.shape))
        errs.append(errors[sel].reshape(-1, parts).sum(axis=1).reshape(p.shape))
        scls.append(scales[sel].reshape(-1, parts).sum(axis=1).reshape(p.shape))
        masked = (st != OK).any(axis=1)
        masks.append(masked.reshape(p.shape))
        required.append(np.isin(st, (OK, KINK)).all(axis=1).reshape(p.shape))
        for k in np.flatnonzero(masked):
            if len(reasons) >= 8:
                break
            worst = next(s for s in st[k] if s != OK)
            idx = [int(i) for i in np.unravel_index(k, p.shape)] if p.shape else []
            reasons.append(f"arg{case.wrt[a]}{idx}: {_REASON[_NAMES[worst]]}")
    if joint:  # differentiable along every single axis, yet not jointly: mask everything
        masks = [np.ones(m.shape, dtype=bool) for m in masks]
        reasons.insert(0, f"every entry: {joint}")
    result.grads, result.error, result.scale, result.nonsmooth = grads, errs, scls, masks
    result.finite_required = required
    result.nonsmooth_reasons = reasons


_REASON = {
    "kink": "non-smooth (one-sided slopes differ: a kink, tie or clamp edge)",
    "jump": "not Lipschitz (a jump like floor/sign, or an infinite slope like sqrt(|x|) at 0)",
    "no-convergence": "finite differences do not converge (non-smooth, or a derivative too small for any step to resolve)",
    "out-of-domain": "out of domain (the function is not finite within the step)",
}


JOINT_DIRECTIONS = 2


def _joint_smoothness(problem, arg_of, index_of, comp_of, base, status, estimates, errors, scales, ctx) -> str:
    """Test differentiability along random joint directions d (smooth coordinates only).

    Partial derivatives can all exist where f is not differentiable: the median of equal
    entries has every partial 0 but slope 1 along (1, …, 1). A differentiable f has no kink
    along d and a directional derivative equal to Σ d_k ∂f/∂x_k. Returns a reason, or "".
    """
    rng = ctx.rng(77)
    x0 = problem.x0
    smooth = status == OK
    if not np.any(smooth):
        return ""
    directions = []
    for _ in range(JOINT_DIRECTIONS):
        coefficient = np.where(smooth, BASE_STEP * np.maximum(base, MIN_SCALE) * rng.standard_normal(status.size), 0.0)
        steps = [np.zeros(p.shape, dtype=p.dtype) for p in x0]
        for a, p in enumerate(x0):
            sel = arg_of == a
            flat = steps[a].reshape(-1)
            np.add.at(flat, index_of[sel], coefficient[sel] * np.where(comp_of[sel] == 1, 1j, 1) if np.iscomplexobj(p) else coefficient[sel])
        directions.append((coefficient, steps))
    # all 2 × 4 points in one batch, in _stats' layout: blocks of (+1, −1, +½, −½)·d
    stacked = [
        np.stack([x0[a] + t * steps[a] for t in _SIGNS for _, steps in directions]).reshape((4 * JOINT_DIRECTIONS,) + x0[a].shape)
        for a in range(len(x0))
    ]
    st = _stats(problem, problem.evaluator.many(stacked, problem.f0), np.ones(JOINT_DIRECTIONS))
    for j, (coefficient, _) in enumerate(directions):
        if st["status"][j] == OUT_OF_DOMAIN:
            continue  # left the domain: no verdict from this direction
        predicted = float(coefficient @ estimates)
        predicted_err = float(np.abs(coefficient) @ errors)
        predicted_scale = float(np.abs(coefficient) @ scales)
        significant = 1e-9 * (st["scale"][j] + predicted_scale) + 4 * st["noise2"][j]
        if st["gap2"][j] > KINK_RATIO * st["gap1"][j] + significant:
            return "not differentiable jointly (one-sided slopes differ along a random direction: ties across entries?)"
        if abs(st["g"][j] - predicted) > 2 * (st["err"][j] + predicted_err) + significant:
            return (
                "not differentiable jointly (the slope along a random direction is not the sum of the "
                "partial derivatives: ties across entries, e.g. a median or sort of equal values?)"
            )
    return ""


# ---- probe mode: random directions ----------------------------------------------------


def _probe(problem: _Problem, case, ctx: OracleContext, result: OracleResult, n_coords: int) -> None:
    """⟨v, J u⟩ for ``ctx.options.probes`` random directions u (Richardson along u)."""
    x0 = problem.x0
    rng = ctx.rng(PROBE_SALT)
    tangents = [[random_like(rng, p.shape, np.iscomplexobj(p)) for p in x0] for _ in range(ctx.options.probes)]
    size = sum(p.size for p in x0)
    rms = float(np.sqrt(sum(float(np.sum(np.abs(p) ** 2)) for p in x0) / max(size, 1)))
    h0 = BASE_STEP * max(rms, MIN_SCALE)
    k = len(tangents)
    status = np.full(k, NO_CONVERGENCE)
    final_stats: list[dict | None] = [None] * k
    pending = list(range(k))
    for attempt in range(RETRIES + 1):
        if not pending:
            break
        h = h0 / RETRY_FACTOR**attempt
        stacked = [np.stack([x0[a] + t * h * tangents[j][a] for t in _SIGNS for j in pending]) for a in range(len(x0))]
        st = _stats(problem, problem.evaluator.many(stacked, problem.f0), np.full(len(pending), h))
        # the points are x0 ± t·h·u and _stats divides by h: g is ⟨v, J u⟩ itself
        for i, j in enumerate(pending):
            status[j] = st["status"][i]
            final_stats[j] = {f: float(st[f][i]) for f in ("g", "scale", "err")}
        pending = [j for j in pending if status[j] not in _FINAL]
    reasons = []
    for j in range(k):
        stats = final_stats[j]
        if status[j] != OK or stats is None:
            reasons.append(f"probe {j}: {_REASON[_NAMES[status[j]]]}")
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
