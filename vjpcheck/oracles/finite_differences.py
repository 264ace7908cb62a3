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
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..case import flatten_outputs
from ..numeric import rounding_unit
from ..records import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable

BASE_STEP = 2.0**-10
MIN_SCALE = 1e-3
RETRIES = 2
RETRY_FACTOR = 16.0
KINK_RATIO = 0.6  # gap(h/2) / gap(h) is 0.5 for smooth functions, 1 at a kink, 2 at a jump
NON_LIPSCHITZ_RATIO = 1.2  # above: the slope is unbounded (jump: 2, sqrt(|x|) at 0: √2)
CONVERGENCE = 1e-3  # |D(h/2) − D(h)| above this fraction of the scale: not converged


class FiniteDifferences(Oracle):
    name = "finite_differences"
    rule = "numeric"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        n_coords = sum(int(np.prod(i.shape, dtype=np.int64)) * (2 if i.dtype.startswith("complex") else 1) for i in case.wrt_infos)
        if n_coords > ctx.fd_max_coords:
            raise OracleUnavailable(f"{n_coords} input coordinates: above fd_max_coords={ctx.fd_max_coords}")
        evaluate, unit, mode = _evaluator(case) if ctx.reference is None else _numpy_evaluator(case, ctx.reference)
        if mode != "reference":
            result.message = mode
        v_flat = np.concatenate([v.reshape(-1) for v in case.v if v is not None]).astype(np.complex128)
        weights = np.abs(v_flat)

        x0 = [np.array(p, copy=True) for p in case.primals]
        f0 = evaluate(x0)
        if not np.all(np.isfinite(f0[weights > 0])):
            raise OracleUnavailable("the function value is not finite where the cotangent is nonzero")

        directions = []  # (arg, flat index, component: 0 real / 1 imaginary)
        for a, p in enumerate(x0):
            for k in range(p.size):
                directions.append((a, k, 0))
                if np.iscomplexobj(p):
                    directions.append((a, k, 1))

        if not directions:  # empty inputs: vᵀJ is empty, nothing to perturb
            result.grads = [np.zeros(p.shape, dtype=p.dtype) for p in x0]
            result.error = [np.zeros(p.shape) for p in x0]
            result.scale = [np.zeros(p.shape) for p in x0]
            result.nonsmooth = [np.zeros(p.shape, dtype=bool) for p in x0]
            result.finite_required = [np.ones(p.shape, dtype=bool) for p in x0]
            ctx.nonsmooth = result.nonsmooth
            return

        columns = [None] * len(directions)
        used_steps = np.zeros(len(directions))
        estimates = np.zeros(len(directions))
        errors = np.zeros(len(directions))
        scales = np.zeros(len(directions))
        status = [""] * len(directions)
        gaps = []
        for d, (a, k, comp) in enumerate(directions):
            base = abs(x0[a].reshape(-1)[k])
            h = BASE_STEP * max(base, MIN_SCALE)
            steps = [h / RETRY_FACTOR**r for r in range(RETRIES + 1)]
            if 0 < base < MIN_SCALE:
                steps.append(BASE_STEP * base)  # tiny |x|: a step that stays on its side of 0
            for h in steps:
                col = _column(evaluate, x0, a, k, comp, h, f0, weights, v_flat, unit)
                if col["status"] in ("ok", "kink", "jump", "out-of-domain"):
                    break
            columns[d] = col["R"]
            used_steps[d] = col.get("h", 0.0)
            estimates[d], errors[d], scales[d] = col["g"], col["err"], col["scale"]
            status[d] = col["status"]
            gaps.append(col["gaps"])

        errors += _cancellation_error(columns, used_steps, x0, directions, weights, unit)

        # significance floor: tiny gaps far below every gradient entry are rounding, not kinks
        floor = 1e-12 * (scales.max() if scales.size else 0.0)
        for d, (g1, g2, noise2) in enumerate(gaps):
            if status[d] in ("kink", "jump") and g2 <= floor + noise2:
                status[d] = "ok"
            if status[d] == "no-convergence" and errors[d] <= CONVERGENCE * max(scales[d], floor * 1e6):
                status[d] = "ok"

        joint = _joint_smoothness(evaluate, x0, directions, status, estimates, errors, scales, f0, weights, v_flat, unit, ctx)

        grads, errs, scls, masks, reasons, required = [], [], [], [], [], []
        d = 0
        for a, p in enumerate(x0):
            shape, n = p.shape, p.size
            is_c = np.iscomplexobj(p)
            g = np.zeros(n, dtype=np.complex128 if is_c else np.float64)
            e = np.zeros(n)
            s = np.zeros(n)
            m = np.zeros(n, dtype=bool)
            lipschitz = np.ones(n, dtype=bool)
            for k in range(n):
                parts = [d] if not is_c else [d, d + 1]
                for c, dd in enumerate(parts):
                    g[k] += estimates[dd] * (1j if c == 1 else 1)
                    e[k] += errors[dd]
                    s[k] += scales[dd]
                    if status[dd] not in ("ok", "kink"):
                        lipschitz[k] = False
                    if status[dd] != "ok":
                        m[k] = True
                        if len(reasons) < 8:
                            idx = tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()
                            reasons.append(f"arg{case.wrt[a]}{list(idx)}: {_REASON[status[dd]]}")
                d += len(parts)
            grads.append(g.reshape(shape))
            errs.append(e.reshape(shape))
            scls.append(s.reshape(shape))
            masks.append(m.reshape(shape))
            required.append(lipschitz.reshape(shape))
        if joint:  # differentiable along no single axis test, yet not jointly: mask everything
            masks = [np.ones(m.shape, dtype=bool) for m in masks]
            reasons.insert(0, f"every entry: {joint}")
        result.grads, result.error, result.scale, result.nonsmooth = grads, errs, scls, masks
        result.finite_required = required
        result.nonsmooth_reasons = reasons
        real_outputs = all(not i.dtype.startswith("complex") for i, d in zip(case.output_infos, case.output_differentiable) if d)
        if all(not np.iscomplexobj(p) for p in x0) and real_outputs and f0.size * len(directions) <= 100_000:
            result.jacobian = np.stack([np.real(c) for c in columns], axis=1)  # m × n, rows: outputs
        ctx.nonsmooth = masks


_REASON = {
    "kink": "non-smooth (one-sided slopes differ: a kink, tie or clamp edge)",
    "jump": "not Lipschitz (a jump like floor/sign, or an infinite slope like sqrt(|x|) at 0)",
    "no-convergence": "finite differences do not converge (non-smooth, or a derivative too small for any step to resolve)",
    "out-of-domain": "out of domain (the function is not finite within the step)",
}


JOINT_DIRECTIONS = 2


def _joint_smoothness(evaluate, x0, directions, status, estimates, errors, scales, f0, weights, v_flat, unit, ctx) -> str:
    """Test differentiability along random joint directions d (smooth coordinates only).

    Partial derivatives can all exist where f is not differentiable: the median of equal
    entries has every partial 0 but slope 1 along (1, …, 1). A differentiable f has no kink
    along d and a directional derivative equal to Σ d_k ∂f/∂x_k. Returns a reason, or "".
    """
    rng = ctx.rng(77)
    coefficient = np.zeros(len(directions))
    for _ in range(JOINT_DIRECTIONS):
        steps = [np.zeros(p.shape, dtype=p.dtype) for p in x0]
        for d, (a, k, comp) in enumerate(directions):
            if status[d] != "ok":
                coefficient[d] = 0.0
                continue
            base = abs(x0[a].reshape(-1)[k])
            c = BASE_STEP * max(base, MIN_SCALE) * rng.standard_normal()
            coefficient[d] = c
            flat = steps[a].reshape(-1)
            flat[k] = flat[k] + (1j * c if comp else c)
        if not np.any(coefficient):
            return ""
        values = {}
        for t in (1.0, -1.0, 0.5, -0.5):
            values[t] = evaluate([p + t * s for p, s in zip(x0, steps)])
        fp, fm, fp2, fm2 = values[1.0], values[-1.0], values[0.5], values[-0.5]
        stacked = np.stack([f0, fp, fm, fp2, fm2])
        live = weights > 0
        if not np.all(np.isfinite(stacked[:, live])):
            continue  # left the domain: no verdict from this direction
        magnitude = np.max(np.abs(stacked), axis=0)
        d1 = (fp - fm) / 2
        d2 = fp2 - fm2
        richardson = (4 * d2 - d1) / 3
        g = float(np.real(np.vdot(v_flat, richardson)))
        rounding = unit[0] * magnitude + unit[1]  # an evaluation's error: ε·|f| + tiny
        err = float(np.sum(weights * (np.abs(d2 - d1) + 16 * rounding)))
        scale = float(np.sum(weights * np.abs(richardson)))
        predicted = float(np.dot(coefficient, estimates))
        predicted_err = float(np.dot(np.abs(coefficient), errors))
        predicted_scale = float(np.dot(np.abs(coefficient), scales))
        gap1 = float(np.sum(weights * np.abs((fp - f0) - (f0 - fm))))
        gap2 = float(np.sum(weights * np.abs((fp2 - f0) - (f0 - fm2)))) / 0.5
        noise = float(np.sum(weights * 8 * rounding)) / 0.5
        significant = 1e-9 * (scale + predicted_scale) + 4 * noise
        if gap2 > KINK_RATIO * gap1 + significant:
            return "not differentiable jointly (one-sided slopes differ along a random direction: ties across entries?)"
        if abs(g - predicted) > 2 * (err + predicted_err) + significant:
            return (
                "not differentiable jointly (the slope along a random direction is not the sum of the "
                "partial derivatives: ties across entries, e.g. a median or sort of equal values?)"
            )
    return ""


def _cancellation_error(columns, steps, x0, directions, weights, unit) -> np.ndarray:
    """Rounding that ε·|f| misses: an output that cancels (sum([-3, x, 3]) at x = 0) is
    computed from intermediates as large as its inputs. The first-order bound for the
    evaluation error of entry i is ε·Σⱼ |∂fᵢ/∂xⱼ|·|xⱼ|, with ∂f/∂x read off the columns;
    each column's quotient divides it by its own step."""
    sensitivity = np.zeros(columns[0].shape if columns else 0)
    for column, (a, k, comp) in zip(columns, directions):
        xk = x0[a].reshape(-1)[k]
        sensitivity = sensitivity + np.abs(column) * abs(xk.imag if comp else xk.real)
    noise = float(np.sum(weights * 16 * unit[0] * sensitivity))
    out = np.zeros(len(columns))
    usable = steps > 0
    out[usable] = noise / steps[usable]
    return out


def _column(evaluate, x0, a, k, comp, h, f0, weights, v_flat, unit) -> dict:
    """Richardson estimate, error bound and smoothness test for one coordinate."""
    xk = x0[a].reshape(-1)[k]
    part = xk.imag if comp else xk.real
    h = (part + h) - part  # exactly representable step
    unresolved = {"status": "no-convergence", "R": np.zeros_like(f0), "g": 0.0, "err": 0.0, "scale": 0.0, "gaps": (0.0, 0.0, 0.0)}
    if not h >= unit[1]:  # a subnormal (or zero) step: no difference quotient means anything
        return unresolved
    values = {}
    for s in (1.0, -1.0, 0.5, -0.5):
        x = [np.array(p, copy=True) for p in x0]
        flat = x[a].reshape(-1)
        flat[k] = flat[k] + (1j * s * h if comp else s * h)
        values[s] = evaluate(x)
    fp, fm, fp2, fm2 = values[1.0], values[-1.0], values[0.5], values[-0.5]
    live = weights > 0
    stacked = np.stack([f0, fp, fm, fp2, fm2])
    if not np.all(np.isfinite(stacked[:, live])):
        return {"status": "out-of-domain", "R": np.zeros_like(f0), "g": 0.0, "err": 0.0, "scale": 0.0, "gaps": (0.0, 0.0, 0.0)}
    d1 = (fp - fm) / (2 * h)
    d2 = (fp2 - fm2) / h
    richardson = (4 * d2 - d1) / 3
    if not np.all(np.isfinite(richardson[live])):
        return unresolved  # overflow in the quotient: FD cannot say anything here
    magnitude = np.max(np.abs(stacked), axis=0)
    evaluation_error = unit[0] * magnitude + unit[1]  # ε·|f| + tiny: underflow included
    rounding = 16 * evaluation_error / h
    entry_err = np.abs(d2 - d1) + rounding
    g = float(np.real(np.vdot(v_flat, richardson)))
    err = float(np.sum(weights * entry_err))
    scale = float(np.sum(weights * np.abs(richardson)))
    gap1 = float(np.sum(weights * np.abs((fp - f0) - (f0 - fm)) / h))
    gap2 = float(np.sum(weights * np.abs((fp2 - f0) - (f0 - fm2)) / (h / 2)))
    noise2 = float(np.sum(weights * 8 * evaluation_error / (h / 2)))
    if gap2 > NON_LIPSCHITZ_RATIO * gap1 + 4 * noise2:
        status = "jump"
    elif gap2 > KINK_RATIO * gap1 + 4 * noise2:
        status = "kink"
    elif float(np.sum(weights * np.abs(d2 - d1))) > CONVERGENCE * scale + 4 * noise2:
        status = "no-convergence"
    else:
        status = "ok"
    return {"status": status, "R": richardson, "g": g, "err": err, "scale": scale, "gaps": (gap1, gap2, noise2), "h": h}


def _evaluator(case):
    """f(wrt values) → flat complex128 vector of the differentiable outputs.

    float64/complex128 on the CPU when the function accepts it; otherwise the case's own
    dtype and device (with that dtype's epsilon in the error estimate).
    """
    backend = case.backend
    diff = case.output_differentiable

    def flat(outputs):
        parts = [backend.to_numpy(o).reshape(-1) for o, d in zip(outputs, diff) if d]
        return np.concatenate(parts).astype(np.complex128)

    if case.framework == "torch":
        import torch

        ctx_factory = torch.no_grad
    else:
        from ..frameworks.jax_backend import x64

        ctx_factory = x64

    ref_args = [backend.to_reference(a) if info is not None else a for a, info in zip(case.args, case.arg_infos)]
    call = case.call
    if case.framework == "jax":  # one compilation for all 4n+1 evaluations, reused across cases
        from .jax_common import _trace_errors, other_arrays, stable_jit

        compiled = stable_jit(case, "evaluate", lambda call_with: call_with)

        def compiled_call(args):
            primals = [args[i] for i in case.wrt]
            jitted, eager = compiled
            if jitted is not None:
                try:
                    return jitted(primals, other_arrays(case, args))  # NumPy in: no conversions
                except _trace_errors():
                    pass
            return eager([_jax_array(p) for p in primals], other_arrays(case, args))

        call = compiled_call

    def reference(values):
        with ctx_factory():
            wrt = [_like_reference(backend, v) for v in values]
            return flat(call(case.substitute(ref_args, wrt)))

    try:
        out = reference(case.primals)
        if out.size != sum(int(np.prod(i.shape, dtype=np.int64)) for i, d in zip(case.output_infos, diff) if d):
            raise ValueError("output size changed in float64")
        return reference, rounding_unit("float64"), "reference"
    except Exception as exc:  # fall back to the case's own precision
        reason = f"finite differences ran in the case's dtype: float64 evaluation failed ({type(exc).__name__}: {exc})"[:300]

    native_args = case.fresh_args()
    dtypes = [case.arg_infos[i].dtype for i in case.wrt]
    devices = [case.arg_infos[i].device for i in case.wrt]
    unit = max((rounding_unit(d) for d in dtypes), key=lambda u: u[0])  # the least precise

    def native(values):
        with (ctx_factory() if case.framework == "torch" else contextlib.nullcontext()):
            wrt = [backend.from_numpy(v, dt, dev) for v, dt, dev in zip(values, dtypes, devices)]
            return flat(case.call(case.substitute(native_args, wrt)))

    return native, unit, reason


def _numpy_evaluator(case, reference):
    """Evaluate a NumPy implementation in float64/complex128 (the ``reference=`` option)."""
    diff = case.output_differentiable
    args = [None if info is None else np.asarray(values, dtype=np.complex128 if np.iscomplexobj(values) else np.float64) for values, info in zip(case.arg_values, case.arg_infos)]
    args = [a if arr is None else arr for a, arr in zip(case.args, args)]

    def evaluate(values):
        with np.errstate(all="ignore"):
            outputs = flatten_outputs(reference(*case.substitute(args, [np.array(v, copy=True) for v in values])))
        if len(outputs) != len(diff):
            raise ValueError(f"reference returned {len(outputs)} output(s), the function {len(diff)}")
        return np.concatenate([np.asarray(o).reshape(-1) for o, d in zip(outputs, diff) if d]).astype(np.complex128)

    return evaluate, rounding_unit("float64"), "reference"


def _like_reference(backend, values: np.ndarray):
    arr = np.asarray(values)
    if backend.name == "jax":
        return arr  # the compiled evaluator takes NumPy; the eager fallback converts
    return backend.to_reference(backend.from_numpy(arr, "complex128" if np.iscomplexobj(arr) else "float64", "cpu"))


def _jax_array(values):
    import jax.numpy as jnp

    return jnp.asarray(values)
