"""Public entry points: :func:`check_vjp` and :func:`assert_vjp`."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from .case import Case, ForwardError, build_case, flatten_outputs, function_name
from .compare import case_rtol, compare_projection, compare_vectors
from .numeric import rounding_unit
from .oracles import OracleContext, default_oracles, make_oracles
from .oracles.base import same_values
from .records import ERROR_FINDINGS, VALUE_FINDINGS, Finding, OracleResult
from .reproducer import build_reproducer
from .verdict import Verdict


FD_MAX_COORDS = 4096  # default size limits of check_vjp
JACOBIAN_MAX_ROWS = 1024


class VJPMismatch(AssertionError):
    """Raised by :func:`assert_vjp`; ``.verdict`` holds the evidence."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict
        super().__init__(verdict.explain())


def check_vjp(
    fn: Callable,
    *args: Any,
    v: Any = None,
    wrt: Sequence[int] | int | None = None,
    oracles: Sequence[str] | None = None,
    order: int = 1,
    twin: Callable | None = None,
    primal: Callable | str | None = None,
    reference: Callable | None = None,
    framework: str | None = None,
    seed: int = 0,
    rtol: float | None = None,
    atol: float = 0.0,
    fd_max_coords: int = FD_MAX_COORDS,
    jacobian_max_rows: int = JACOBIAN_MAX_ROWS,
    mode: str = "auto",
    probes: int = 3,
) -> Verdict:
    """Check that every available way of computing vᵀJ for ``fn(*args)`` agrees.

    Args:
        fn: a PyTorch or JAX callable returning an array or a tuple of arrays.
        *args: its arguments. Floating-point/complex arrays are differentiated (or those
            named by ``wrt``); integer/bool arrays and Python values pass through untouched.
        v: the cotangent, shaped like the output (a tuple for tuple outputs). Its memory
            layout is kept. Default: standard normal values drawn with ``seed``.
        wrt: indices of the arguments to differentiate.
        oracles: names from :data:`vjpcheck.ORACLE_NAMES`; default: finite differences
            and every AD method of the function's framework. With ``twin``, names of the
            twin's framework choose its oracles (default: all of its AD methods).
        order: 2 also checks the VJP of the map ``(x, v) ↦ vᵀJ(x)`` (double backward).
        twin: the same function written in the other framework; its oracles join the
            comparison (inputs and cotangent converted, conventions reconciled).
        primal: for a custom rule, its forward differentiated by the framework's built-in
            AD joins as the oracle ``<framework>.primal``. ``"auto"`` finds it for
            ``autograd.Function.apply`` and ``jax.custom_vjp``/``custom_jvp``; a callable
            gives the plain implementation to differentiate.
        reference: a NumPy implementation of the same function (NumPy arrays in, arrays
            out). Finite differences evaluate it in float64/complex128 instead of ``fn``,
            and its forward values must match ``fn``'s.
        framework: ``"torch"`` or ``"jax"`` when it cannot be told from ``args``.
        seed: seeds the default cotangent and the forward-mode tangents.
        rtol, atol: override the dtype-derived relative tolerance / add an absolute one
            (see ``vjpcheck.compare``).
        fd_max_coords: largest input size (real coordinates) for full finite differences;
            above it ``mode="auto"`` switches them to probe mode.
        jacobian_max_rows: largest output size for the explicit-Jacobian oracles.
        mode: ``"full"`` (one finite-difference column per input coordinate: localises
            wrong entries), ``"probe"`` (``probes`` random directions u: ⟨v, J u⟩ against
            ⟨vᵀJ, u⟩, cost independent of the input size; the verdict states the miss
            probability), or ``"auto"`` (full up to ``fd_max_coords``, probe above).
        probes: random directions of probe mode.

    Returns:
        a :class:`Verdict`. Bad arguments raise ``TypeError``/``ValueError``; problems of
        ``fn`` itself (a forward that raises, a backward that crashes) become findings.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if rtol is not None and not (isinstance(rtol, (int, float)) and rtol >= 0):
        raise ValueError(f"rtol must be a non-negative number, got {rtol!r}")
    if not (isinstance(atol, (int, float)) and atol >= 0):
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    for name, value in (("fd_max_coords", fd_max_coords), ("jacobian_max_rows", jacobian_max_rows)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if mode not in ("auto", "full", "probe"):
        raise ValueError(f"mode must be 'auto', 'full' or 'probe', got {mode!r}")
    if not isinstance(probes, int) or isinstance(probes, bool) or probes < 1:
        raise ValueError(f"probes must be a positive int, got {probes!r}")
    start = time.perf_counter()
    try:
        case = build_case(fn, args, v=v, wrt=wrt, framework=framework, seed=seed)
        case_seconds = time.perf_counter() - start
    except ForwardError as exc:
        message = str(exc)
        return Verdict(
            status="error",
            function=function_name(fn),
            framework=framework or _framework_of(args),
            findings=[Finding(kind="forward-error", message=message.splitlines()[0], details={"traceback": message})],
            seconds=time.perf_counter() - start,
        )
    if reference is not None and not callable(reference):
        raise TypeError(f"reference must be a callable, got {type(reference).__name__}")
    twin_framework = "jax" if case.framework == "torch" else "torch"
    names = list(oracles) if oracles is not None else default_oracles(case.framework, case.device)
    twin_names = [n for n in names if twin is not None and n.startswith(twin_framework + ".")]
    names = [n for n in names if n not in twin_names]
    oracle_objs = make_oracles(names, case.framework)  # validates names up front
    if twin_names:
        make_oracles(twin_names, twin_framework)
    primal_fn = _resolve_primal(fn, primal)
    if primal_fn is not None:
        from .oracles.primal import PrimalAD

        oracle_objs.append(PrimalAD(case.framework, primal_fn))
    twin_case = None
    if twin is not None:
        twin_case = _twin_case(case, twin)
    # every non-default option that shaped the verdict, so the reproducer shows it again
    options: dict[str, Any] = {"order": order} if order != 1 else {}
    if oracles is not None:
        options["oracles"] = list(oracles)
    if rtol is not None:
        options["rtol"] = rtol
    if atol:
        options["atol"] = atol
    if fd_max_coords != FD_MAX_COORDS:
        options["fd_max_coords"] = fd_max_coords
    if jacobian_max_rows != JACOBIAN_MAX_ROWS:
        options["jacobian_max_rows"] = jacobian_max_rows
    if mode != "auto":
        options["mode"] = mode
    if probes != 3:
        options["probes"] = probes
    callables = {"twin": twin} if twin is not None else {}
    if reference is not None:
        callables["reference"] = reference
    if isinstance(primal, str):
        options["primal"] = primal
    elif primal is not None:
        callables["primal"] = primal
    sizes = {"fd_max_coords": fd_max_coords, "jacobian_max_rows": jacobian_max_rows, "mode": mode, "probes": probes}
    ctx = OracleContext(seed=seed, reference=reference, **sizes)
    verdict = _check_case(case, oracle_objs, ctx, rtol, atol, twin_case=twin_case, twin_oracles=twin_names or None)
    t = time.perf_counter()
    verdict.reproducer = build_reproducer(case, options, callables)
    verdict.timings = {"case": case_seconds, **verdict.timings, "reproducer": time.perf_counter() - t}
    if order == 2:
        verdict.children.append(_second_order(case, names, seed, rtol, atol, sizes))
    verdict.seconds = time.perf_counter() - start
    return verdict


def assert_vjp(fn: Callable, *args: Any, **options: Any) -> Verdict:
    """:func:`check_vjp`, raising :class:`VJPMismatch` unless the verdict passes or is skipped."""
    verdict = check_vjp(fn, *args, **options)
    if verdict.overall_status in ("mismatch", "error"):
        raise VJPMismatch(verdict)
    return verdict


# ---------------------------------------------------------------------------------------


def _check_case(case: Case, oracle_objs, ctx: OracleContext, rtol, atol, twin_case: Case | None = None, label="first order", twin_oracles=None) -> Verdict:
    results: list[OracleResult] = []
    findings: list[Finding] = []
    notes: list[str] = []
    reasons: list[str] = []
    bad_outputs = _nonfinite_outputs(case)
    if bad_outputs:
        return Verdict(
            status="skipped",
            function=case.name,
            framework=case.framework,
            label=label,
            case=describe_case(case),
            reasons=[f"the function value is not finite: {bad_outputs}"],
        )
    runs = [(o, case) for o in oracle_objs]
    if twin_case is not None:
        runs += [(o, twin_case) for o in make_oracles(twin_oracles or _ad_oracles(twin_case.framework), twin_case.framework)]
        findings += _compare_forward_values(case, twin_case.output_values, "twin")
    if ctx.reference is not None:
        findings += _compare_forward_values(case, _reference_outputs(case, ctx.reference), "reference")
    for oracle, c in runs:
        result = oracle.run(c, ctx)
        results.append(result)
        findings.extend(result.findings)
        findings.extend(_caller_unchanged(case, result.name))
        if result.message and result.ok:
            notes.append(f"{result.name}: {result.message}")
    compare_start = time.perf_counter()
    reference = next((r for r in results if r.name == "finite_differences" and r.ok), None)
    rtol_used = case_rtol(case) if rtol is None else rtol
    vectors = [r for r in results if r.ok and r.grads is not None]
    projections = [r for r in results if r.ok and r.projections]
    comparisons = []
    for i, a in enumerate(vectors):
        for b in vectors[i + 1 :]:
            comp, found = compare_vectors(a, b, case, rtol_used, atol, reference)
            comparisons.append(comp)
            findings.extend(found)
    for p in projections:
        for vec in vectors:
            comp, found = compare_projection(p, vec, case, rtol_used, atol, reference)
            comparisons.append(comp)
            findings.extend(found)
    findings = _dedupe(findings)
    probe = _probe_statement(results, comparisons)
    timings = {r.name: r.seconds for r in results} | {"compare": time.perf_counter() - compare_start}
    if probe:
        notes.append(probe["statement"])
    if reference is not None and reference.nonsmooth is not None and any(np.any(m) for m in reference.nonsmooth):
        total = sum(int(np.size(m)) for m in reference.nonsmooth)
        bad = sum(int(np.sum(m)) for m in reference.nonsmooth)
        reasons.append(f"{bad} of {total} input entries at non-smooth points, left out: " + "; ".join(reference.nonsmooth_reasons))
    if len(vectors) + len(projections) < 2 and not findings:
        reasons.append("fewer than two oracles ran, nothing to compare")
    if any(f.kind in ERROR_FINDINGS for f in findings):
        status = "error"
    elif any(f.kind in VALUE_FINDINGS for f in findings):
        status = "mismatch"
    elif reasons:
        status = "skipped"
    else:
        status = "pass"
    return Verdict(
        status=status,
        function=case.name,
        framework=case.framework,
        label=label,
        case=describe_case(case),
        oracles=results,
        comparisons=comparisons,
        findings=findings,
        reasons=reasons,
        notes=notes,
        probe=probe,
        timings=timings,
    )


def _probe_statement(results: list[OracleResult], comparisons) -> dict:
    """Probe mode's guarantee: per vector oracle, the error size that escapes every
    random probe with probability at most 1e-6 (see ``vjpcheck.probability``)."""
    from .probability import QUOTED_MISS, detectable_error

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
    name, worst = max(per_oracle.items(), key=lambda kv: kv[1]["error_norm"])
    relative = f" ({worst['relative']:.2g} × ‖vᵀJ‖)" if worst["relative"] is not None else ""
    statement = (
        f"probe mode: an error Δ in {name}'s vᵀJ with ‖Δ‖ ≥ {worst['error_norm']:.3g}{relative} escapes all "
        f"{worst['probes']} random probes with probability ≤ {QUOTED_MISS:g} (others: at least as likely caught)"
    )
    return {"miss_probability": QUOTED_MISS, "per_oracle": per_oracle, "statement": statement}


def _second_order(case: Case, names, seed, rtol, atol, sizes: dict) -> Verdict:
    from .second_order import vjp_map

    fn2, args2, wrt2 = vjp_map(case)
    try:
        case2 = build_case(fn2, args2, wrt=wrt2, framework=case.framework, seed=seed + 1)
    except ForwardError as exc:
        return Verdict(
            status="error",
            function=fn2.__name__,
            framework=case.framework,
            label="second order (VJP of the VJP map)",
            findings=[Finding(kind="oracle-error", message="the first-order VJP map raised: " + str(exc).splitlines()[0])],
        )
    except ValueError as exc:
        return Verdict(
            status="skipped",
            function=fn2.__name__,
            framework=case.framework,
            label="second order (VJP of the VJP map)",
            reasons=[str(exc)],
        )
    usable = [o for o in make_oracles(names, case.framework) if o.applies_to_order2]
    ctx = OracleContext(seed=seed + 1, **sizes)
    return _check_case(case2, usable, ctx, rtol, atol, label="second order (VJP of the VJP map)")


def _resolve_primal(fn: Callable, primal: Callable | str | None) -> Callable | None:
    if primal is None:
        return None
    if primal == "auto":
        from .oracles.primal import primal_of

        return primal_of(fn)
    if not callable(primal):
        raise TypeError(f"primal must be None, 'auto' or a callable, got {type(primal).__name__}")
    return primal


def _framework_of(args) -> str:
    from .frameworks import detect_backend

    try:
        backend = detect_backend(None, args)
    except ValueError:
        return "mixed"
    return backend.name if backend is not None else "unknown"


def _ad_oracles(framework: str) -> list[str]:
    return [n for n in default_oracles(framework) if n != "finite_differences"]


def _twin_case(case: Case, twin: Callable) -> Case:
    """The case re-expressed for ``twin`` in the other framework (same values, same v)."""
    from .frameworks import backend_named

    other = backend_named("jax" if case.framework == "torch" else "torch")
    device = _shared_device(other, case.device)
    args = []
    for a, info, values in zip(case.args, case.arg_infos, case.arg_values):
        args.append(other.from_numpy(values, info.dtype, device) if info is not None else a)
    cot = [
        other.from_numpy(v, info.dtype, device) if v is not None else None for v, info in zip(case.v, case.output_infos)
    ]
    cot_arg = cot[0] if case.single_output else tuple(c if c is not None else other.from_numpy(np.zeros(i.shape), i.dtype, device) for c, i in zip(cot, case.output_infos))
    twin_case = build_case(twin, tuple(args), v=cot_arg, wrt=case.wrt, framework=other.name, seed=case.seed)
    return twin_case


def _shared_device(backend, device: str) -> str:
    """``device`` when the twin's framework can use it too (a GPU for both), else the CPU."""
    if device == "cpu":
        return device
    try:
        backend.from_numpy(np.zeros(1), "float32", device)
        return device
    except Exception:  # the other framework has no such device here
        return "cpu"


def _reference_outputs(case: Case, reference: Callable) -> list[np.ndarray] | str:
    """The NumPy reference's forward values on the case's arguments (a message if it raised)."""
    try:
        with np.errstate(all="ignore"):
            return [np.asarray(o) for o in flatten_outputs(reference(*case.numpy_args()))]
    except Exception as exc:  # the user's reference: a finding, not a crash
        return f"the reference raised {type(exc).__name__}: {exc}"


def _compare_forward_values(case: Case, other: list[np.ndarray] | str, who: str) -> list[Finding]:
    """A twin or reference must compute the same forward values (else its gradients cannot agree).

    The forwards already ran; their values are compared.
    """
    out = []
    if isinstance(other, str):
        return [Finding(kind="oracle-error", oracle=f"{who}.forward", message=other)]
    a, b = case.output_values, other
    if len(a) != len(b):
        return [Finding(kind="mismatch", oracle=f"{who}.forward", message=f"{len(a)} outputs vs the {who}'s {len(b)}")]
    tol = max(case_rtol(case), 1e-12) * 10
    # absolute floor: the inputs' magnitude (an output that cancels to ~0, e.g. the variance
    # of a constant, differs by rounding noise far below any real disagreement)
    input_scale = max((float(np.max(np.abs(x), initial=0.0)) for x in case.primals), default=0.0)
    underflow = 16 * max(rounding_unit(d)[1] for d in case.dtypes)  # subnormal results (silu(2e-308))
    for k, (ya, yb) in enumerate(zip(a, b)):
        if ya.shape != yb.shape:
            out.append(Finding(kind="mismatch", oracle=f"{who}.forward", message=f"output {k}: shape {ya.shape} vs {who} {yb.shape}"))
        elif not np.allclose(ya, yb, rtol=tol, atol=tol * max(float(np.max(np.abs(ya), initial=0.0)), input_scale) + underflow, equal_nan=True):
            out.append(Finding(kind="mismatch", oracle=f"{who}.forward", message=f"output {k}: forward values differ from the {who}'s (max diff {np.max(np.abs(ya - yb)):.3g})"))
    return out


def _nonfinite_outputs(case: Case) -> str:
    for k, (values, diff) in enumerate(zip(case.output_values, case.output_differentiable)):
        if diff and not np.all(np.isfinite(values)):
            return f"output {k} has {int(np.sum(~np.isfinite(values)))} non-finite entr(y/ies)"
    return ""


def _caller_unchanged(case: Case, oracle: str) -> list[Finding]:
    """The caller's arrays must be untouched; restore them if an oracle changed them."""
    found = []
    for i, (a, info, before) in enumerate(zip(case.args, case.arg_infos, case.arg_values)):
        if info is None:
            continue
        now = case.backend.to_numpy(a)
        if not same_values(now, before):
            case.backend.restore(a, before)
            found.append(Finding(kind="mutated-input", oracle=oracle, message=f"the caller's argument {i} changed while {oracle} ran (restored)"))
    for k, c in enumerate(case.cotangents):
        if c is None:
            continue
        now = case.backend.to_numpy(c)
        if not same_values(now, case.v[k]):
            case.backend.restore(c, case.v[k])
            found.append(Finding(kind="mutated-cotangent", oracle=oracle, message=f"the caller's cotangent {k} changed while {oracle} ran (restored)"))
    return found


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.kind, f.oracle, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def describe_case(case: Case) -> dict:
    """JSON-ready description: every argument, output and cotangent, with values."""
    from .records import array_to_json

    args = []
    for i, (a, info, values) in enumerate(zip(case.args, case.arg_infos, case.arg_values)):
        entry = {"index": i, "differentiated": i in case.wrt}
        if info is None:
            entry.update({"description": f"{type(a).__name__} {a!r}"[:120], "value": repr(a)[:200]})
        else:
            entry.update(info.to_dict())
            entry["description"] = info.describe()
            entry["values"] = array_to_json(values) if values.size <= 4096 else None
        args.append(entry)
    cots = []
    for c, info, values in zip(case.cotangents, case.cotangent_infos, case.v):
        if c is None:
            cots.append(None)
            continue
        entry = info.to_dict()
        entry["description"] = info.describe()
        entry["values"] = array_to_json(values) if values.size <= 4096 else None
        cots.append(entry)
    return {
        "function": case.name,
        "framework": case.framework,
        "wrt": list(case.wrt),
        "args": args,
        "outputs": [dict(o.to_dict(), differentiable=d) for o, d in zip(case.output_infos, case.output_differentiable)],
        "cotangents": cots,
        "seed": case.seed,
    }
