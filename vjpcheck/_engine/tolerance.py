"""Pairwise comparison of oracle results under a documented tolerance model.

Tolerance for entry k when oracle ``b`` is checked against oracle ``a``::

    tol_k = SAFETY · (err_a[k] + err_b[k])                 # estimated errors (finite differences)
          + rtol · (S[k] + FLOOR · max_j S[j])              # rounding in the case's dtype
          + atol + 16 · tiny(dtype) · max(1, ‖v‖∞)          # underflow (flush to zero)

* ``S[k] = max(Σ_j |v_j|·|J_jk|, |a_k|, |b_k|)``: the size of the terms summed into
  entry k, from finite differences when they ran (so an entry that is small by
  cancellation still gets a tolerance fitting the work that produced it), and never less
  than the compared values themselves.
* ``rtol`` is set by the least precise dtype among the differentiated inputs and outputs
  (:data:`RTOL`): two AD results in float64 must agree to 1e-10 of the scale; float32,
  float16 and bfloat16 results are held to bounds that fit their precision when compared
  with the float64 reference.
* ``FLOOR · max S`` keeps entries that are tiny next to the largest one from being judged
  at a precision their dtype cannot deliver. ``max S`` also includes ``‖v‖∞·‖y‖∞``: a
  backward manipulates quantities of that size even when every Jacobian entry is tiny
  (softmax near one-hot: ``y₀(v₀ − Σ yⱼvⱼ)`` cancels down from |v|·|y|), and its rounding
  error is proportional to them.
* Where finite differences computed the whole Jacobian, the floor is per entry: ``max S``
  and ``‖v‖∞·‖y‖∞`` are taken over the outputs entry k depends on (``J[j, k] ≠ 0``) and
  the entries that share one of them. Nothing another output could cancel reaches entry
  k, so an entry of 1e-17 next to an unrelated output of size 1 (``exp([-39, 0])``) is
  held to its own relative precision: a backward that flushes it to 0 is found.

Entries where finite differences found a kink, a tie, a jump or the edge of the domain are
left out, except between oracles that share one derivative rule (e.g. ``y.backward`` and
``torch.autograd.grad``), which must agree exactly wherever they are evaluated.
"""

from __future__ import annotations

import numpy as np

from .case import Case
from .numeric import LARGEST, TINY, abs_inner, format_index, real_inner, split_like
from .story import distinct_digits
from .results import REPORT_MAX_ENTRIES, Comparison, EntryError, Finding, OracleResult

RTOL = {
    "float64": 1e-10,
    "complex128": 1e-10,
    "float32": 3e-4,
    "complex64": 3e-4,
    "float16": 2e-2,
    "bfloat16": 8e-2,
}
#: float32 on a GPU whose matrix units may round operands to TF32 (10-bit mantissa)
RTOL_TF32 = 5e-3
SAFETY = 2.0
FLOOR = 0.1
WORST_ENTRIES = 5


def _involved_dtypes(case: Case) -> list[str]:
    """The differentiated inputs' and outputs' dtypes."""
    return list(case.dtypes) + [i.dtype for i, d in zip(case.output_infos, case.output_differentiable) if d]


def case_atol(case: Case) -> float:
    """Underflow floor: 16 · tiny(dtype) · max(1, ‖v‖∞) for the least precise dtype."""
    return 16 * max(TINY.get(d, TINY["float32"]) for d in _involved_dtypes(case)) * max(1.0, case.cotangent_scale)


def case_rtol(case: Case, per_dtype: dict[str, float] | None = None) -> float:
    """The least precise involved dtype's bound; float32 on CUDA gets TF32's when the
    framework may use TF32 there (PyTorch: cuDNN's or matmul's allow_tf32; JAX: a
    default matmul precision other than "highest"/"float32"). ``per_dtype`` (the user's
    ``rtol={"float32": …}``) replaces the bounds of the dtypes it names."""
    table = {**RTOL, **(per_dtype or {})}
    dtypes = _involved_dtypes(case)
    rtol = max(table.get(d, table["float32"]) for d in dtypes)
    chosen = set(per_dtype or ())
    if case.device.startswith("cuda") and any(d in ("float32", "complex64") and d not in chosen for d in dtypes) and case.backend.tf32_allowed():
        rtol = max(rtol, RTOL_TF32)
    return rtol


#: with ``solver_tol``, results may differ by this multiple of it (an implicit backward
#: solves its linear system to about the forward's tolerance, amplified by its conditioning)
SOLVER_RTOL = 10.0


def comparison_rtol(case: Case, opts) -> float:
    """The relative bound two results of ``case`` are held to under the options ``opts``
    (before per-pair changes): the user's ``rtol`` when one number, else the dtypes'
    (:func:`case_rtol`); with ``solver_tol``, at least :data:`SOLVER_RTOL` times it."""
    rtol = opts.rtol if isinstance(opts.rtol, float) else case_rtol(case, opts.rtol if isinstance(opts.rtol, dict) else None)
    if opts.solver_tol is not None:  # the backward solves to the same tolerance as the forward
        rtol = max(rtol, SOLVER_RTOL * opts.solver_tol)
    return rtol


def compare_vectors(
    expected: OracleResult,
    got: OracleResult,
    case: Case,
    rtol: float,
    atol: float,
    reference: OracleResult | None,
) -> tuple[Comparison, list[Finding]]:
    """Check ``got.grads`` against ``expected.grads`` entry by entry."""
    scales = reference if reference is not None and reference.ok and reference.scale is not None else None
    biggest = _largest_scale(expected, case, scales)
    # per-entry floors hold two different rules to each entry's own precision; methods of
    # one rule differ by their internal cancellation (1 − p at a saturated softmax), which
    # no Jacobian structure shows: the global floor between them
    floors = coupled_scales(case, reference) if scales is not None and formula(expected.rule) != formula(got.rule) else None
    findings: list[Finding] = []
    worst: list[EntryError] = []
    maps = []
    compared = excluded = 0
    worst_ratio = 0.0
    for a, (ea, ga) in enumerate(zip(expected.grads, got.grads)):
        ea, ga = np.asarray(ea), np.asarray(ga)
        tol = _entry_tolerance(a, ea, ga, expected, got, case, rtol, atol, scales, biggest if floors is None else floors[a])
        mask = _excluded(a, ea.shape, expected, got, reference)
        findings += _nonfinite(a, ea, ga, mask, expected, got, case, reference)
        mask = mask | ~np.isfinite(tol)  # an unbounded error estimate judges nothing
        mask = mask | _overflowed(a, ea, ga, case, reference)  # a true overflow is not a wrong value either
        ratio, diff = _error_ratio(ea, ga, tol, mask)
        worst_ratio = max(worst_ratio, float(np.max(ratio, initial=0.0)))
        # a report draws maps up to REPORT_MAX_ENTRIES: a larger one is not kept (a 1e7-entry
        # case kept one 80 MB map per comparison)
        maps.append(ratio if ratio.size <= REPORT_MAX_ENTRIES else None)
        compared += int(ea.size - mask.sum())
        excluded += int(mask.sum())
        worst += _worst_entries(case.wrt[a], ea, ga, diff, ratio, tol, already=len(worst))
    worst.sort(key=lambda w: -(w.abs_error / w.tolerance if w.tolerance > 0 else np.inf))
    passed = worst_ratio <= 1.0 and not findings
    comparison = Comparison(
        expected=expected.name,
        got=got.name,
        passed=passed,
        worst_ratio=worst_ratio,
        compared=compared,
        excluded=excluded,
        worst=worst[:WORST_ENTRIES],
        error_maps=maps,
    )
    if not passed and worst_ratio > 1.0:
        w = comparison.worst[0]
        digits = distinct_digits([w.got, w.expected])  # "got 0.173752, expected 0.173752" shows nothing
        comparison.message = (
            f"{got.name} vs {expected.name}: {case.arg_name(w.arg)}{list(w.index)} got {_fmt(w.got, digits)}, expected "
            f"{_fmt(w.expected, digits)} (abs err {w.abs_error:.3g} > tol {w.tolerance:.3g})"
        )
        findings.append(Finding(kind="mismatch", oracle=got.name, message=comparison.message))
    return comparison, findings


def formula(rule: str) -> str:
    """The derivative formula a rule computes: a transformed rule (``torch-reverse@compile``)
    computes its eager rule's, in another order of operations. Such pairs share the
    formula's cancellation (one floor between them), yet not its tie-breaking at kinks (a
    compiler's reordered sum may make a tie no tie: kinks stay excluded between them)."""
    return rule.split("@", 1)[0]


def _largest_scale(expected: OracleResult, case: Case, scales: OracleResult | None) -> float:
    """The biggest term any entry sums (finite differences' |v|·|J| contraction when it ran,
    else the expected values), at least |v|·|y|: the scale of cancellation inside a backward."""
    all_scales = np.concatenate([np.ravel(s) for s in scales.scale]) if scales is not None else np.abs(np.concatenate([np.ravel(g) for g in expected.grads]))
    return max(float(np.max(all_scales)) if all_scales.size else 0.0, case.cotangent_scale * case.output_scale)


def coupled_scales(case: Case, reference: OracleResult) -> list[np.ndarray] | None:
    """Per differentiated entry k, the largest term a backward may cancel down into it:
    ``max S`` over the entries that share an output with k, and ``max|v_j| · max|y_j|``
    over the outputs j that depend on k (the global floor where no output was seen to);
    ``None`` without finite differences' whole (real) Jacobian."""
    J = reference.jacobian
    if J is None or reference.scale is None:
        return None
    v = np.concatenate([np.abs(np.ravel(x)) for x in case.v if x is not None] or [np.zeros(0)])
    y = [np.ravel(y) for y, d in zip(case.output_values, case.output_differentiable) if d]
    y = np.abs(np.concatenate(y)) if y else np.zeros(0)
    S = np.concatenate([np.ravel(s) for s in reference.scale]) if reference.scale else np.zeros(0)
    if J.shape != (v.size, S.size) or y.size != v.size or case.output_scale > np.max(y, initial=0.0):
        return None  # (a second-order case is judged at its first order's declared scale)
    depends = (J != 0) & (v[:, None] > 0)  # output j feeds entry k of vᵀJ (NaN counts)
    with np.errstate(invalid="ignore", over="ignore"):
        v_k = np.max(np.where(depends, v[:, None], 0.0), axis=0, initial=0.0)
        y_k = np.max(np.where(depends, y[:, None], 0.0), axis=0, initial=0.0)
        s_out = np.max(np.where(depends, S[None, :], 0.0), axis=1, initial=0.0)  # per output
        s_k = np.max(np.where(depends, s_out[:, None], 0.0), axis=0, initial=0.0)
    floor = np.maximum(np.nan_to_num(v_k * y_k, nan=np.inf), np.maximum(s_k, S))
    # an entry no output was seen to depend on is ~0 in exact arithmetic, and whatever a
    # backward returns there is its own cancellation (normalize along a dimension of size
    # 1: 1/|x| − x²/|x|³): the global floor
    unseen = ~depends.any(axis=0)
    floor[unseen] = max(case.cotangent_scale * case.output_scale, float(np.max(S, initial=0.0)))
    return split_like(floor, [np.shape(s) for s in reference.scale])


def _entry_tolerance(a, ea, ga, expected, got, case, rtol, atol, scales, biggest) -> np.ndarray:
    """Per entry: both oracles' own error estimates + rtol·(scale + FLOOR·biggest) + atol +
    the dtype's underflow floor; ``biggest`` is one number or one per entry."""
    zero = np.zeros(ea.shape)
    err = SAFETY * ((expected.error[a] if expected.error is not None else zero) + (got.error[a] if got.error is not None else zero))
    with np.errstate(invalid="ignore"):
        own = np.nan_to_num(np.maximum(np.abs(ea), np.abs(ga)), nan=0.0, posinf=0.0)
    # FD's abs-contraction when it ran, never below the compared values themselves
    # (FD's estimate of S is noise where its step cannot resolve a tiny derivative)
    scale = np.maximum(scales.scale[a], own) if scales is not None else own
    noise = forward_noise(expected, got, scales)
    return err + rtol * (scale + FLOOR * biggest) + (noise[a] if noise is not None else 0.0) + atol + case_atol(case)


def forward_noise(expected: OracleResult, got: OracleResult, reference: OracleResult | None) -> list[np.ndarray] | None:
    """Two analytic oracles differ by their rounding, which is at least the forward's own
    noise (a forward that cancels hides it from every scale): finite differences measure
    it, per entry. Finite differences themselves stay held to their own error estimate:
    a jump at the point also moves the forward, and must not widen the independent
    reference. ``None`` where it does not apply."""
    if reference is None or "numeric" in (expected.rule, got.rule):
        return None
    return reference.noise_floor


def _excluded(a: int, shape, expected: OracleResult, got: OracleResult, reference: OracleResult | None) -> np.ndarray:
    """Non-smooth entries, left out unless both oracles share one derivative rule; jumps
    (no derivative, no subgradient: nothing for one rule's methods to agree on beyond
    their rounding, whose size finite differences cannot see there) always."""
    if reference is None or reference.nonsmooth is None:
        return np.zeros(shape, dtype=bool)
    if expected.rule != got.rule:
        return reference.nonsmooth[a]
    return reference.jumps[a] if reference.jumps is not None else np.zeros(shape, dtype=bool)


def _nonfinite(a, ea, ga, mask, expected, got, case, reference) -> list[Finding]:
    """A NaN/inf derivative is wrong wherever f is locally Lipschitz, kinks included (every
    subgradient is finite); only jumps and domain edges may excuse it."""
    required = ~mask
    if reference is not None and reference.finite_required is not None:
        required = required | reference.finite_required[a]
    bad = np.isfinite(ea) & ~np.isfinite(ga) & required & ~_overflowed(a, ea, ga, case, reference)
    if not np.any(bad):
        return []
    idx = format_index(ea.shape, int(np.flatnonzero(bad)[0]))
    message = (
        f"{got.name}: {int(bad.sum())} non-finite gradient entr(y/ies) for argument "
        f"{case.arg_name(case.wrt[a])} where {expected.name} is finite, first at {list(idx)} "
        f"(got {ga[idx]}, expected {ea[idx]})"
    )
    return [Finding(kind="non-finite", oracle=got.name, message=message, details={"arg": case.wrt[a], "index": list(idx)})]


def _overflowed(a, ea, ga, case: Case, reference) -> np.ndarray:
    """Entries that one result has finite and the other not, whose true size (or that of
    the terms summed into them) may pass the dtype's largest value: overflow, either way."""
    finite_e, finite_g = np.isfinite(ea), np.isfinite(ga)
    candidates = finite_e != finite_g
    if not np.any(candidates):
        return candidates
    with np.errstate(over="ignore", invalid="ignore"):
        size = np.abs(np.where(finite_e, ea, ga))
        if reference is not None and reference.scale is not None:
            size = np.maximum(size, reference.scale[a])
    return candidates & _may_overflow(case, size)


def _may_overflow(case: Case, size):
    """Whether a derivative of this size (or |v|·|y|) may pass the largest value of the
    case's least precise dtype (a quarter of it, for the rounding on the way)."""
    largest = min((LARGEST[d] for d in _involved_dtypes(case) if d in LARGEST), default=np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.asarray(size) >= largest / 4) | (case.cotangent_scale * case.output_scale >= largest / 4)


def _error_ratio(ea: np.ndarray, ga: np.ndarray, tol: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|got − expected| / tolerance per entry, 0 where excluded; the absolute differences)."""
    finite_e, finite_g = np.isfinite(ea), np.isfinite(ga)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(ga - ea)
        both_nonfinite_same = ~finite_e & ~finite_g & ((ea == ga) | (np.isnan(ea) & np.isnan(ga)))
        diff = np.where(both_nonfinite_same, 0.0, diff)
        diff = np.where(~finite_e & finite_g, np.inf, diff)
        ratio = np.where(tol > 0, diff / np.where(tol > 0, tol, 1), np.where(diff > 0, np.inf, 0.0))
    ratio = np.where(mask, 0.0, ratio)
    return np.where(np.isnan(ratio), np.inf, ratio), diff


def _worst_entries(arg: int, ea, ga, diff, ratio, tol, already: int) -> list[EntryError]:
    """The entries of one argument with the largest error/tolerance ratios (those over the
    tolerance, and at least one overall so that a report always shows the closest call)."""
    out: list[EntryError] = []
    if not ratio.size:
        return out
    for flat in np.argsort(-ratio.reshape(-1), kind="stable")[:WORST_ENTRIES]:
        if ratio.reshape(-1)[flat] <= 1.0 and already + len(out) >= 1:
            break
        idx = format_index(ea.shape, int(flat))
        e_val, g_val, d = ea[idx], ga[idx], float(diff[idx])
        rel = d / abs(e_val) if np.isfinite(e_val) and abs(e_val) > 0 else float("inf") if d else 0.0
        out.append(EntryError(arg=arg, index=idx, expected=_scalar(e_val), got=_scalar(g_val), abs_error=d, rel_error=rel, tolerance=float(tol[idx])))
    return out


def compare_projection(
    projection_oracle: OracleResult,
    vector: OracleResult,
    case: Case,
    rtol: float,
    atol: float,
    reference: OracleResult | None,
) -> tuple[Comparison, list[Finding]]:
    """The dot-product identity ⟨v, J u⟩ (forward mode) = ⟨vᵀJ, u⟩ (the vector oracle)."""
    use_ref = reference is not None and reference.ok and reference.scale is not None
    worst_ratio, messages = 0.0, []
    scales_all = reference.scale if use_ref else [np.abs(g) for g in vector.grads]
    biggest = max(
        max((float(np.max(s, initial=0.0)) for s in scales_all), default=0.0), case.cotangent_scale * case.output_scale
    )
    unbounded_slope = (
        reference is not None
        and reference.finite_required is not None
        and any(not np.all(m) for m in reference.finite_required)
    )
    underflow_per_unit = case_atol(case)
    noise_floor = forward_noise(projection_oracle, vector, reference)
    probes, unjudged = [], 0
    for p in projection_oracle.projections:
        tangents = p.tangent_arrays()
        lhs = sum(real_inner(g, u) for g, u in zip(vector.grads, tangents))
        err = sum(float(np.sum(e * np.abs(u))) for e, u in zip(vector.error, tangents)) if vector.error is not None else 0.0
        size = sum(abs_inner(s, u) for s, u in zip(scales_all, tangents))
        u_l1 = sum(float(np.sum(np.abs(u))) for u in tangents)
        floor = FLOOR * biggest * u_l1
        underflow = underflow_per_unit * (1 + u_l1)
        noise = sum(abs_inner(n, u) for n, u in zip(noise_floor, tangents)) if noise_floor is not None else 0.0
        tol = SAFETY * (err + p.error) + rtol * (size + p.scale + floor) + noise + atol + underflow
        complex_tangent = any(np.iscomplexobj(u) for u in tangents)
        probes.append((float(tol), float(np.sqrt(0.5)) if complex_tangent else 1.0))
        diff = abs(lhs - p.value)
        finite = np.isfinite(lhs) and np.isfinite(p.value)
        tangent_size = case.output_scale * sum(float(np.max(np.abs(u), initial=0.0)) for u in tangents)  # J u may overflow (×0 = NaN)
        if (finite and not np.isfinite(tol)) or (not finite and bool(_may_overflow(case, size + p.scale) | _may_overflow(case, tangent_size))):
            unjudged += 1  # values near the dtype's largest: an unbounded error, or overflow
            continue
        ratio = diff / tol if tol > 0 else (np.inf if diff > 0 else 0.0)
        if not np.isfinite(lhs) or not np.isfinite(p.value):
            # 0·∞ = NaN in forward mode where the slope is unbounded: excused only there
            ratio = 0.0 if (np.isnan(lhs) and np.isnan(p.value)) or unbounded_slope else np.inf
        if ratio > worst_ratio:
            worst_ratio = float(ratio)
            messages = [
                f"⟨v, J u⟩ from {projection_oracle.name} = {p.value:.12g} but ⟨vᵀJ, u⟩ from {vector.name} = "
                f"{lhs:.12g} (diff {diff:.3g} > tol {tol:.3g})"
            ]
    passed = worst_ratio <= 1.0
    comparison = Comparison(
        expected=vector.name,
        got=projection_oracle.name,
        passed=passed,
        kind="projection",
        worst_ratio=worst_ratio,
        compared=len(projection_oracle.projections) - unjudged,
        excluded=unjudged,
        message="" if passed else messages[0],
        probes=probes,
    )
    findings = [] if passed else [Finding(kind="mismatch", oracle=projection_oracle.name, message=comparison.message)]
    return comparison, findings


def _scalar(x) -> complex | float:
    x = complex(x)
    return x.real if x.imag == 0 else x


def _fmt(x, digits: int = 6) -> str:
    return f"{x:.{digits}g}" if isinstance(x, float) else f"({x.real:.{digits}g}{x.imag:+.{digits}g}j)"
