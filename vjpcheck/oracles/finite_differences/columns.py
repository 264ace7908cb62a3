"""Full mode: one finite-difference column per real input coordinate (complex: real and
imaginary parts), retried at smaller steps where the estimates do not converge, then
contracted with v."""

from __future__ import annotations

import numpy as np

from ..._engine.results import OracleResult
from ..base import OracleContext
from .smoothness import REASONS, joint_smoothness
from .stats import (
    CONVERGENCE,
    JACOBIAN_MAX_ENTRIES,
    JUMP,
    KINK,
    MIN_SCALE,
    NO_CONVERGENCE,
    NOISY,
    UNRESOLVED,
    OK,
    RETRIES,
    RETRIED,
    RETRY_FACTOR,
    SIGNS,
    STATUS_NAMES,
    Problem,
    as_numpy,
    chunk_stats,
    like,
    select_rows,
)

def full_columns(problem: Problem, case, ctx: OracleContext, result: OracleResult) -> None:
    x0 = problem.x0
    arg_of, index_of, comp_of, part = random_directions(x0)
    D, m = arg_of.size, problem.f0.size
    base = np.abs(part)
    h0 = problem.base_step * np.maximum(base, problem.min_scale)
    keep_columns = D * m <= JACOBIAN_MAX_ENTRIES
    fields = ("g", "scale", "err", "gap1", "gap2", "noise2")
    out = {f: np.zeros(D) for f in fields}
    status = np.full(D, NO_CONVERGENCE)
    used = np.zeros(D)
    sensitivity = np.zeros(m)  # 16ε·Σ_k |∂f/∂x_k|·|x_k| per output entry
    columns = np.zeros((D, m), dtype=problem.f0.dtype) if keep_columns else None

    pending = np.arange(D)
    tiny_x = (base > 0) & (base < MIN_SCALE)
    for attempt in range(RETRIES + 2):
        if attempt <= RETRIES:
            steps = h0[pending] / RETRY_FACTOR**attempt
        else:  # tiny |x|: a step that stays on its side of 0
            pending = pending[tiny_x[pending]]
            steps = problem.base_step * base[pending]
        if pending.size == 0:
            break
        steps = (part[pending] + steps) - part[pending]  # exactly representable
        usable = steps >= problem.unit[1]  # a subnormal (or zero) step means nothing
        chunk = max(1, problem.evaluator.chunk(m) // 4)  # 4 points per coordinate
        for lo in range(0, pending.size, chunk):
            idx = pending[lo : lo + chunk]
            hs = steps[lo : lo + idx.size]
            ok_step = usable[lo : lo + idx.size]
            st = coordinate_chunk(problem, arg_of[idx[ok_step]], index_of[idx[ok_step]], comp_of[idx[ok_step]], hs[ok_step])
            for f in fields:
                out[f][idx] = 0.0
                out[f][idx[ok_step]] = st[f]
            status[idx] = NO_CONVERGENCE
            status[idx[ok_step]] = st["status"]
            used[idx] = np.where(ok_step, hs, 0.0)
            # a coordinate's last attempt: h/256, or the tiny-|x| step where it gets one;
            # a kink, jump or domain edge seen at a large step is retried at smaller ones
            final = (status[idx] == OK) | (attempt == RETRIES + 1) | ((attempt == RETRIES) & ~tiny_x[idx])
            mine = final[ok_step]  # rows of st that are final
            steps_mine = hs[ok_step][mine]
            if np.any(mine):
                rows = select_rows(st["absT"], mine)
                # |R|·|x_k| = |T|·|x_k| / (6h), times the rounding unit first: near the
                # dtype's largest values the plain sensitivity overflows
                per_unit = 16 * problem.unit[0] * base[idx[ok_step]][mine] / (6 * steps_mine)
                sensitivity += as_numpy(st["absT"][rows].T @ like(st["absT"], per_unit))
                if keep_columns:
                    columns[idx[final]] = 0.0
                    columns[idx[ok_step][mine]] = as_numpy(st["T"][rows]) / (6 * steps_mine)[:, None]
        pending = pending[np.isin(status[pending], RETRIED) & (attempt < RETRIES + (tiny_x[pending] if attempt == RETRIES else 0))]

    estimates, errors, scales = out["g"], out["err"], out["scale"]
    # rounding that ε·|f| misses: outputs that cancel are computed from intermediates
    # as large as their inputs (sum([-3, x, 3]) at x = 0); each column divides by its step
    with np.errstate(over="ignore", invalid="ignore"):
        noise = float(np.sum(np.where(problem.live, problem.weights * sensitivity, 0.0)))
    errors[used > 0] += noise / used[used > 0]

    # significance floor: tiny gaps far below every gradient entry are rounding, not kinks
    floor = 1e-12 * scales.max()
    status[np.isin(status, (KINK, JUMP)) & (out["gap2"] <= floor + out["noise2"])] = OK
    # (a coordinate whose last step was unusable, subnormal beside a tiny |x|, was never
    # evaluated: its zero error is no estimate)
    status[(status == NO_CONVERGENCE) & (used > 0) & (errors <= CONVERGENCE * np.maximum(scales, floor * 1e6))] = OK

    if problem.noise:  # errors of the noise's size compared with the whole gradient: no judgement
        status[(status == OK) & (errors > UNRESOLVED * max(float(scales.max(initial=0.0)), problem.unit[1]))] = NOISY
    joint = joint_smoothness(problem, arg_of, index_of, comp_of, used, status, estimates, errors, scales, ctx)
    assemble(result, case, problem, arg_of, index_of, comp_of, status, estimates, errors, scales, joint)
    real = all(not np.iscomplexobj(p) for p in x0) and problem.f0.dtype != np.complex128
    if keep_columns and real:
        result.jacobian = np.ascontiguousarray(columns.T)  # m × n, rows: outputs
    ctx.nonsmooth = result.nonsmooth


def random_directions(x0):
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


def coordinate_chunk(problem: Problem, arg_of, index_of, comp_of, h) -> dict:
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
    deltas = np.concatenate([s * h for s in SIGNS])
    for a, p in enumerate(problem.x0):
        block = np.repeat(p.reshape(1, -1), 4 * c, axis=0)
        mine = np.tile(arg_of == a, 4)
        if np.any(mine):
            k = np.tile(index_of, 4)[mine]
            step = deltas[mine] * np.where(np.tile(comp_of, 4)[mine] == 1, 1j, 1) if np.iscomplexobj(p) else deltas[mine]
            block[rows[mine], k] += step
        stacked.append(block.reshape((4 * c,) + p.shape))
    F = problem.evaluator.many(stacked, problem.f0)
    return chunk_stats(problem, F, h)


def assemble(result, case, problem, arg_of, index_of, comp_of, status, estimates, errors, scales, joint) -> None:
    """Per-direction numbers → per-argument arrays, masks and reasons."""
    grads, errs, scls, masks, required, jumps, reasons = [], [], [], [], [], [], []
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
        required.append(np.isin(st, (OK, KINK, NOISY)).all(axis=1).reshape(p.shape))  # noise: a derivative all the same
        jumps.append((st == JUMP).any(axis=1).reshape(p.shape))
        for k in np.flatnonzero(masked):
            if len(reasons) >= 8:
                break
            worst = next(s for s in st[k] if s != OK)
            idx = [int(i) for i in np.unravel_index(k, p.shape)] if p.shape else []
            reasons.append(f"{case.arg_name(case.wrt[a])}{idx}: {REASONS[STATUS_NAMES[worst]]}")
    jumped = [(a, int(np.flatnonzero(j)[0])) for a, j in enumerate(jumps) if np.any(j)]
    if jumped:  # not continuous at this point, so not differentiable: no entry is owed a value
        a, k = jumped[0]
        idx = [int(i) for i in np.unravel_index(k, problem.x0[a].shape)] if problem.x0[a].shape else []
        joint = f"the function jumps at this point (along {case.arg_name(case.wrt[a])}{idx}): it is not continuous here, so no entry of vᵀJ is defined"
        jumps = [np.ones(j.shape, dtype=bool) for j in jumps]
        required = [np.zeros(r.shape, dtype=bool) for r in required]
    if joint:  # differentiable along every single axis, yet not jointly, or not continuous: mask everything
        masks = [np.ones(m.shape, dtype=bool) for m in masks]
        reasons.insert(0, f"every entry: {joint}")
    result.grads, result.error, result.scale, result.nonsmooth = grads, errs, scls, masks
    result.finite_required = required
    result.jumps = jumps
    result.unresolved = int(np.sum(status == NOISY))
    result.nonsmooth_reasons = reasons
