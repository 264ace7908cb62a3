"""The check driver: :func:`check_vjp` and :func:`assert_vjp`.

Read top to bottom, it is the pipeline: options → case → oracles → comparisons →
verdict → reproducer (→ the same again, one order up).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..oracles import ALL, Oracle, OracleContext, default_oracles, make_oracles
from .audit import caller_unchanged
from .case import Case, ForwardError, build_case, describe_case, function_name, resolve_backend
from .declared import GRADIENT_OF, gradient_of_case, mapped, unmapped
from .structure import check_kwargs, flatten_call, needs_structure, restructured, unstructured
from .options import DEFAULTS, CheckOptions
from ..oracles.transforms import compile_referee_notes, session_transforms_active
from .probe import probe_statement
from .recording import announce
from .reproducer import build_reproducer, write_reproducer
from .results import ERROR_FINDINGS, VALUE_FINDINGS, Comparison, Finding, OracleResult, Status, is_failing
from .tolerance import RTOL, SOLVER_RTOL, comparison_rtol, compare_projection, compare_vectors
from . import timeouts
from .twin import compare_forward_values, reference_outputs, twin_case
from .verdict import Verdict

SECOND_ORDER = "second order (VJP of the VJP map)"


class VJPMismatch(AssertionError):
    """Raised by :func:`assert_vjp` and :func:`verify`; ``.verdict`` holds the evidence
    (and ``.summary``, from ``verify``, what ran before it).

    The message is brief (a few dozen lines: the story, the case, the worst entries, the
    reproducer's path) and built when first shown, so that the failures Hypothesis makes
    while shrinking cost nothing; ``str(exc.verdict)`` is the full explanation.
    """

    def __init__(self, verdict: Verdict, summary: Any = None):
        super().__init__()
        self.verdict = verdict
        self.summary = summary
        self._message: str | None = None

    def __str__(self) -> str:
        if self._message is None:
            self._message = failure_message(self.verdict, self.summary)
        return self._message


VJPMismatch.__module__ = "vjpcheck"  # pytest shows vjpcheck.VJPMismatch, as users import it


def failure_message(verdict: Verdict, summary: Any = None) -> str:
    """What a failing test prints: the brief explanation, the reproducer written to a file
    (inline when it cannot be written), and how ``verify`` found the case."""
    path = write_reproducer(verdict.function, verdict.reproducer) if verdict.reproducer else None
    text = verdict.explain(brief=True, reproducer_path=path)
    if summary is not None:
        passed = summary.counts.get(Status.PASS, 0)
        timed_out = any(f.kind == "timeout" for f in verdict.all_findings())
        shrunk = (
            "not shrunk (each attempt could take the whole time limit)" if timed_out
            else f"minimal case after {summary.shrink_examples} shrinking attempt{'s' if summary.shrink_examples != 1 else ''}"
        )
        text += f"\n  found by vjpcheck.verify after {passed} passing example{'s' if passed != 1 else ''}; {shrunk}"
    return text


def check_vjp(
    fn: Callable,
    *args: Any,
    v: Any = None,
    kwargs: dict[str, Any] | None = None,
    static: Sequence[int | str] | int | str | None = DEFAULTS.static,
    wrt: Sequence[int] | int | None = DEFAULTS.wrt,
    oracles: Sequence[str] | str | None = DEFAULTS.oracles,
    order: int = DEFAULTS.order,
    twin: Callable | None = DEFAULTS.twin,
    primal: Callable | str | None = DEFAULTS.primal,
    reference: Callable | None = DEFAULTS.reference,
    framework: str | None = DEFAULTS.framework,
    seed: int = DEFAULTS.seed,
    rtol: float | dict[str, float] | None = DEFAULTS.rtol,
    atol: float = DEFAULTS.atol,
    fd_max_coords: int = DEFAULTS.fd_max_coords,
    jacobian_max_rows: int = DEFAULTS.jacobian_max_rows,
    mode: str = DEFAULTS.mode,
    probes: int = DEFAULTS.probes,
    fd_batch: bool = DEFAULTS.fd_batch,
    timeout: float | None = DEFAULTS.timeout,
    output_map: Callable | None = DEFAULTS.output_map,
    gradient_of: Callable | None = DEFAULTS.gradient_of,
    solver_tol: float | None = DEFAULTS.solver_tol,
    transforms: Sequence[str] | str | None = DEFAULTS.transforms,
    compile_backend: Any = DEFAULTS.compile_backend,
) -> Verdict:
    """Check that every available way of computing vᵀJ for ``fn(*args)`` agrees.

    Args:
        fn: a PyTorch or JAX callable returning an array or a structure of arrays
            (tuples, lists, named tuples, dicts, dataclasses).
        *args: its arguments, arrays or pytrees of them (the framework's registry:
            tuples, lists, dicts, named tuples, registered dataclasses, equinox modules).
            Floating-point/complex array leaves are differentiated (or those named by
            ``wrt``); integer/bool arrays and other values pass through untouched.
        v: the cotangent, shaped like the output (a tuple for tuple outputs, one entry per
            output leaf). Its memory layout is kept. Default: standard normal values drawn
            with ``seed``.
        kwargs: keyword arguments of ``fn``, pytrees like ``args``.
        static: positions (ints) and keywords (strs) passed through as they are, never
            flattened nor differentiated (a config object, a constant array).
        wrt: the arguments to differentiate: positions in ``args`` (and, with ``kwargs``,
            keywords); every floating leaf of a pytree argument.
        oracles: names from :data:`vjpcheck.ORACLE_NAMES`, or ``"all"`` for every method
            that applies. Default: finite differences, the framework's reverse pass, forward
            mode, and the explicit Jacobian while the output has at most 16 entries (each
            entry costs a backward pass). With ``twin``, names of the twin's framework
            choose its oracles (default: the same set in the twin's framework).
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
            (see ``vjpcheck._engine.tolerance``). ``rtol`` may be one number or a dict by
            dtype (``{"float64": 1e-7, "float32": 1e-3}``: an iterative solver's accuracy
            per precision); dtypes it does not name keep their default.
        fd_max_coords: largest input size (real coordinates) for full finite differences;
            above it ``mode="auto"`` switches them to probe mode.
        jacobian_max_rows: largest output size for the explicit-Jacobian oracles when
            they are asked for (by name or with ``oracles="all"``).
        mode: ``"full"`` (one finite-difference column per input coordinate: localises
            wrong entries), ``"probe"`` (``probes`` random directions u: ⟨v, J u⟩ against
            ⟨vᵀJ, u⟩, cost independent of the input size; the verdict states the miss
            probability), or ``"auto"`` (full up to ``fd_max_coords``, probe above).
        probes: random directions of probe mode.
        fd_batch: evaluate the perturbed points of finite differences as batches
            (``vmap``), falling back to one call per point where that fails; ``False``
            forces one call per point (slower; for comparisons).
        timeout: seconds the whole check may take; a hung forward or backward becomes an
            ``error`` verdict with a ``timeout`` finding (see ``vjpcheck._engine.timeouts``
            for where it can be enforced). Default: the plugin's ``--vjpcheck-timeout``
            inside a test, else none.
        output_map: an invariant ``g`` of a symmetry of ``fn``'s output (an
            eigenvector's sign, a basis up to rotation): the VJP of ``g(fn(x))`` is checked
            instead, through ``fn``'s backward. Ready-made: :mod:`vjpcheck.maps`.
        gradient_of: ``fn``'s backward is declared to be the VJP of this function of the
            same arguments (a straight-through estimator: the identity; a clipped or
            regularised backward): finite differences and built-in AD differentiate it
            instead of ``fn``, and ``primal`` is not used.
        solver_tol: ``fn``'s values are accurate to this relative tolerance only (an
            iterative solver inside): finite differences take steps and error bounds for
            that noise, and the backward may differ from the references by 10× it.
        transforms: the gradient under transforms joins the comparison, each as more
            oracles (see ``vjpcheck.oracles.transforms``): ``"compile"`` (PyTorch:
            ``torch.compile`` with Inductor, and AOTAutograd alone as ``aot_eager``; JAX:
            ``jax.vjp`` under ``jax.jit`` against op-by-op ``jax.eager``; ``"jit"`` is the
            same), ``"func-compile"`` (``torch.func.vjp`` compiled whole), ``"vmap"``
            (vmap of the VJP over a batch, each entry against its VJP alone), or ``"all"``.
            Where a transform cannot apply it is ``unavailable`` with its reason.
        compile_backend: the ``torch.compile`` backend the compile transforms check (a
            name or a callable, as ``torch.compile(backend=...)`` takes); default Inductor.

    Returns:
        a :class:`Verdict`. Bad arguments raise ``TypeError``/``ValueError``; problems of
        ``fn`` itself (a forward that raises, a backward that crashes) become findings.
    """
    opts = CheckOptions(
        wrt=wrt, oracles=oracles, order=order, twin=twin, primal=primal, reference=reference,
        framework=framework, seed=seed, rtol=rtol, atol=atol, fd_max_coords=fd_max_coords,
        jacobian_max_rows=jacobian_max_rows, mode=mode, probes=probes, fd_batch=fd_batch, timeout=timeout,
        output_map=output_map, gradient_of=gradient_of, solver_tol=solver_tol, static=static,
        transforms=transforms, compile_backend=compile_backend,
    )
    kwargs = check_kwargs(kwargs)
    if not opts.transforms and session_transforms_active():  # the session's (--vjpcheck-transforms), fixed here for the reproducer
        opts = with_session_transforms(opts, resolve_backend(fn, args + tuple((kwargs or {}).values()), opts.framework).name)
    verdict = check_with_options(fn, args, v, opts, kwargs)
    announce("check", verdict)
    return verdict


def assert_vjp(fn: Callable, *args: Any, **options: Any) -> Verdict:
    """:func:`check_vjp`, raising :class:`VJPMismatch` unless the verdict passes or is skipped."""
    __tracebackhide__ = True  # pytest: the failure is the user's, not this frame's
    verdict = check_vjp(fn, *args, **options)
    if is_failing(verdict.overall_status):
        raise VJPMismatch(verdict)
    return verdict


def check_with_options(fn: Callable, args: tuple, v: Any, opts: CheckOptions, kwargs: dict | None = None) -> Verdict:
    """The pipeline behind :func:`check_vjp`, on validated options, within its time limit."""
    start = time.perf_counter()
    limit = timeouts.effective(opts.timeout)
    timeouts.set_phase("running the forward")
    built: dict = {}  # the case, once built: a timeout verdict still describes it
    try:
        with timeouts.time_limit(limit):
            return _check(fn, args, v, opts, start, built, kwargs)
    except timeouts.CheckTimeout as exc:
        timed_out = _timeout_verdict(fn, args, opts, exc, start, built.get("case"))
        first = built.get("first order")
        if first is None:
            return timed_out
        # the first order finished: it stands, and the second order is what timed out
        timed_out.label = SECOND_ORDER
        first.children.append(timed_out)
        first.seconds = time.perf_counter() - start
        return first


def _timeout_verdict(fn: Callable, args: tuple, opts: CheckOptions, exc: timeouts.CheckTimeout, start: float, case: Case | None) -> Verdict:
    message = f"{exc}: a forward or backward that hangs, or a case too large for the limit (timeout={exc.seconds:g})"
    return Verdict(
        status="error",
        function=function_name(fn),
        framework=opts.framework or _framework_of(args),
        case=describe_case(case) if case is not None else {},
        findings=[Finding(kind="timeout", message=message)],
        reproducer=build_reproducer(case, *opts.reproducer_options()) if case is not None else "",
        seconds=time.perf_counter() - start,
    )


def _check(fn: Callable, args: tuple, v: Any, opts: CheckOptions, start: float, built: dict, kwargs: dict | None = None) -> Verdict:
    options = opts.reproducer_options()
    try:
        backend = resolve_backend(fn, args + tuple((kwargs or {}).values()), opts.framework)  # told from fn itself, not a composition
        fn, args, wrt, names, opts = _flatten_call(fn, args, kwargs, opts, backend)
        case = build_case(mapped(fn, opts.output_map), args, v=v, wrt=wrt, framework=backend.name, seed=opts.seed, arg_names=names)
        built["case"] = case
        plan = select_oracles(case, opts)
    except ForwardError as exc:
        return _forward_error(fn, args, opts, exc, start)
    case_seconds = time.perf_counter() - start
    verdict = check_case(case, plan, OracleContext(options=opts))
    written = dataclasses.replace(case, fn=unmapped(case.fn))  # the map is written as output_map=
    verdict.reproducer = lambda: build_reproducer(written, *options)  # built when first read
    verdict.timings = {"case": case_seconds, **verdict.timings}
    if opts.order == 2:
        built["first order"] = verdict
        nowhere = not_differentiable_here(verdict)
        verdict.children.append(
            Verdict(status=Status.SKIPPED, function=case.name, framework=case.framework, label=SECOND_ORDER, reasons=[nowhere])
            if nowhere
            else check_second_order(case, plan.names, opts, first_order_scale(case, verdict.oracles))
        )
    verdict.seconds = time.perf_counter() - start
    return verdict


def with_session_transforms(opts: CheckOptions, framework: str) -> CheckOptions:
    """A check that names no transforms gets the session's (``--vjpcheck-transforms``), so
    that its reproducer names them too."""
    if opts.transforms:
        return opts
    from ..oracles.transforms import session_default

    chosen = session_default(framework)
    return dataclasses.replace(opts, transforms=chosen) if chosen else opts


def _flatten_call(fn: Callable, args: tuple, kwargs: dict | None, opts: CheckOptions, backend) -> tuple:
    """(function, arguments, wrt, argument names, options) as the engine takes them: a
    call with pytrees, keywords or static arguments becomes a function of its array leaves,
    and the options' functions (twin, primal, reference, gradient_of) are called the same
    way. A call of plain arrays is left as it is."""
    if not needs_structure(backend, args, kwargs, opts.static):
        return fn, args, opts.wrt, None, opts
    flat, leaves, wrt = flatten_call(fn, args, kwargs, opts.static, opts.wrt, backend)
    called = {k: flat.with_function(getattr(opts, k)) for k in ("twin", "reference", "gradient_of") if getattr(opts, k) is not None}
    if callable(opts.primal):
        called["primal"] = flat.with_function(opts.primal)
    return flat, leaves, wrt, flat.leaf_names, dataclasses.replace(opts, **called)


# ---- which oracles -------------------------------------------------------------------


@dataclass
class OraclePlan:
    """The oracles of one check: the function's own, and its twin's (with the twin's case)."""

    names: list[str]  # the function's own oracle names (order 2 reuses them)
    oracles: list[Oracle]
    twin: Case | None = None
    twin_oracles: list[Oracle] = dataclasses.field(default_factory=list)
    declared: Case | None = None  # gradient_of: the case finite differences evaluate

    def runs(self, case: Case) -> list[tuple[Oracle, Case]]:
        own = [(o, self.declared if self.declared is not None and o.name == "finite_differences" else case) for o in self.oracles]
        return own + [(o, self.twin) for o in self.twin_oracles]


def select_oracles(case: Case, opts: CheckOptions) -> OraclePlan:
    """Validate the oracle names and build the oracles (the twin's too, on its own case)."""
    names = _oracle_names(case, opts.oracles)
    twin_framework = case.backend.twin_framework
    twin_names = [n for n in names if opts.twin is not None and n.startswith(twin_framework + ".")]
    names = [n for n in names if n not in twin_names]
    names, transformed = _with_transforms(names, case.framework, opts, [twin_framework] if opts.twin is not None else [])
    plan = OraclePlan(names, with_compile_backend(make_oracles(transformed, case.framework), opts.compile_backend))
    from ..oracles.primal import PrimalAD

    if opts.gradient_of is not None:  # the declared gradient is the reference, not fn's forward
        declared = mapped(opts.gradient_of, opts.output_map)
        plan.declared = gradient_of_case(case, declared)
        plan.oracles.append(PrimalAD(case.framework, declared, GRADIENT_OF))
    else:
        user_fn = unmapped(case.fn)
        primal_fn = restructured(user_fn, case.backend.primal_of(unstructured(user_fn))) if opts.primal == "auto" else opts.primal
        if primal_fn is not None:
            plan.oracles.append(PrimalAD(case.framework, mapped(primal_fn, opts.output_map)))
    from ..oracles.finite_differences import uses_probes

    if "finite_differences" in names and uses_probes(case, opts):
        from ..oracles.widened import WidenedRule, needs_widening

        if needs_widening(case):  # probe mode's bound is too loose in low precision: two stages
            plan.oracles.append(WidenedRule(case.framework))
    if opts.twin is not None:  # names validated before the twin's forward runs
        ad_names = twin_names or [n for n in _oracle_names(case, opts.oracles, twin_framework) if n != "finite_differences"]
        _, ad_names = _with_transforms(ad_names, twin_framework, opts)
        plan.twin_oracles = with_compile_backend(make_oracles(ad_names, twin_framework), opts.compile_backend)
        plan.twin = twin_case(case, mapped(opts.twin, opts.output_map))
    return plan


def _with_transforms(names: list[str], framework: str, opts: CheckOptions, also: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(``names``, ``names`` and the oracles of ``opts.transforms`` for ``framework``);
    ``ValueError`` for a transform with no form in ``framework`` or in ``also`` (a twin's)."""
    from ..oracles.transforms import check_frameworks, transform_oracle_names

    if not opts.transforms:
        return names, names
    check_frameworks(opts.transforms, [framework, *also])
    return names, names + [n for n in transform_oracle_names(opts.transforms, framework) if n not in names]


def with_compile_backend(oracles: list[Oracle], backend: Any) -> list[Oracle]:
    """The compile oracles built for ``backend`` instead of Inductor (the ``aot_eager``
    referee stays, unless it is that backend)."""
    if backend is None:
        return oracles
    from ..oracles.transforms.torch_compile import for_backend

    return for_backend(oracles, backend)


def _oracle_names(case: Case, oracles: Sequence[str] | str | None, framework: str | None = None) -> list[str]:
    """The names ``oracles=`` stands for: a list as given, ``"all"`` the thorough set, and
    ``None`` the default set for this case's size (see ``default_oracles``)."""
    if oracles is not None and oracles != ALL:
        return list(oracles)
    from ..oracles.jacobian import realified_size

    entries = realified_size([i for i, d in zip(case.output_infos, case.output_differentiable) if d])
    inputs = realified_size(list(case.wrt_infos))
    return default_oracles(framework or case.framework, case.device, thorough=oracles == ALL, output_entries=entries, input_entries=inputs)


# ---- one case ------------------------------------------------------------------------


def check_case(case: Case, plan: OraclePlan, ctx: OracleContext, label: str = "first order") -> Verdict:
    """Run the oracles of ``plan`` on ``case``, compare them pairwise, classify the outcome."""
    verdict = Verdict(status="skipped", function=case.name, framework=case.framework, label=label, case=describe_case(case))
    nonfinite = _nonfinite_outputs(case)
    if nonfinite:
        verdict.reasons = [f"the function value is not finite: {nonfinite}"]
        return verdict
    findings = _forward_agreement(case, plan, ctx.options)
    results, oracle_findings, notes = run_oracles(plan.runs(case), case, ctx)
    notes = list(case.notes) + notes
    compare_start = time.perf_counter()
    with np.errstate(all="ignore"):  # inf/NaN in a result is evidence, never a warning to the user
        comparisons, compare_findings = compare_all(results, case, ctx.options)
    if _finite_differences_alone_disagree(comparisons) and ctx.options.solver_tol is None:
        rerun = rerun_for_noise(plan.runs(case), results, ctx)
        if rerun:
            notes.append(rerun)
            with np.errstate(all="ignore"):
                comparisons, compare_findings = compare_all(results, case, ctx.options)
        notes += _solver_hint(comparisons)
    compare_findings, outvoted = outvoted_primal(results, comparisons, compare_findings, iterative=ctx.options.solver_tol is not None)
    notes += outvoted
    notes += compile_referee_notes({r.name for r in results if r.ok}, comparisons)
    verdict.oracles, verdict.comparisons, verdict.notes = results, comparisons, notes
    verdict.findings = _dedupe(findings + oracle_findings + compare_findings)
    verdict.probe = probe_statement(results, comparisons)
    if verdict.probe:
        verdict.notes.append(verdict.probe["statement"])
    verdict.timings = {r.name: r.seconds for r in results} | {"compare": time.perf_counter() - compare_start}
    verdict.reasons = _skip_reasons(results, verdict.findings)
    verdict.status = classify(verdict.findings, verdict.reasons)
    noisy = _unresolved_noise(results)
    if verdict.status == Status.SKIPPED and noisy:
        verdict.status, verdict.reasons = Status.INCONCLUSIVE, [noisy] + verdict.reasons
    if verdict.status == Status.PASS:
        missing = unreferenced(results, comparisons, case.framework, verdict.probe)
        if missing:
            verdict.status, verdict.reasons = Status.INCONCLUSIVE, [missing]
    return verdict


#: probe mode counts as a reference only if it would catch an error of this fraction of
#: ‖vᵀJ‖ (with probability ≥ 1 − 1e-6); a looser bound makes the verdict inconclusive
PROBE_MAX_RELATIVE = 0.1


def unreferenced(results: list[OracleResult], comparisons: list[Comparison], framework: str, probe: dict | None = None) -> str:
    """Why agreement is not a pass ("" when it is one): a pass needs an independent
    reference (finite differences on compared entries, or the other framework) that agreed
    with the rule under test; AD methods of one framework share its rules. Finite-difference
    probes count only where their bound is tight (:data:`PROBE_MAX_RELATIVE`)."""
    if all(g.size == 0 for r in results if r.ok and r.grads is not None for g in r.grads):
        return ""  # no entry: nothing a reference could add (shapes and dtypes are audited)
    independent = lambda name: name == "finite_differences" or not name.startswith(framework + ".")  # noqa: E731
    per_oracle = (probe or {}).get("per_oracle", {})
    loose = []
    for c in comparisons:
        if not (c.passed and independent(c.expected) != independent(c.got) and c.compared > 0):
            continue
        if c.kind == "projection" and "finite_differences" in (c.expected, c.got):
            stated = per_oracle.get(c.expected, {})
            bound = stated.get("relative")  # None when ‖vᵀJ‖ = 0: the absolute bound decides
            if not math.isfinite(stated.get("error_norm", math.inf)) or (bound is not None and bound > PROBE_MAX_RELATIVE):
                loose.append((c.expected, bound))
                continue
        return ""
    if loose:
        name, bound = loose[0]
        size = f"{bound:.3g} × ‖vᵀJ‖" if bound is not None else "an unbounded error"
        return f"no independent reference: finite-difference probes are too loose here (an error of {size} in {name} could escape them; a pass needs ≤ {PROBE_MAX_RELATIVE:g})"
    fd = next((r for r in results if r.name == "finite_differences"), None)
    if fd is None:
        return "no independent reference: finite differences were not among the oracles, and no twin in the other framework"
    if not fd.ok:
        return f"no independent reference: finite differences did not run ({fd.message[:160] or fd.status})"
    return "no independent reference: finite differences compared no entry (each was non-smooth or its error estimate unbounded)"


def _forward_agreement(case: Case, plan: OraclePlan, opts: CheckOptions) -> list[Finding]:
    """A twin and a NumPy reference must compute the function's forward values."""
    findings = []
    if plan.twin is not None:
        findings += compare_forward_values(case, plan.twin.output_values, "twin")
    if opts.reference is not None:
        findings += compare_forward_values(case, reference_outputs(case, opts.reference), "reference")
    return findings


def run_oracles(runs: list[tuple[Oracle, Case]], case: Case, ctx: OracleContext) -> tuple[list[OracleResult], list[Finding], list[str]]:
    """Each oracle once, in order (finite differences first: it sets the smoothness mask);
    after each one, the caller's arrays are audited (and restored if it changed them)."""
    results, findings, notes = [], [], []
    for oracle, oracle_case in runs:
        timeouts.set_phase(f"in {oracle.name}")
        result = oracle.run(oracle_case, ctx)
        results.append(result)
        findings += result.findings + caller_unchanged(case, result.name)
        if result.message and result.ok:
            notes.append(f"{result.name}: {result.message}")
    findings = _auxiliary_crashes_unavailable(runs, results, findings)
    return results, findings, notes


def _auxiliary_crashes_unavailable(runs, results: list[OracleResult], findings: list[Finding]) -> list[Finding]:
    """An auxiliary route (explicit Jacobian, torch.func) that crashed while a primary
    route through the same rule (``torch.backward``, ``jax.vjp``) ran is a limitation of the
    method, not of the function: ``unavailable`` with its reason, and no finding."""
    primaries = {oracle.rule: result.name for (oracle, _), result in zip(runs, results) if not oracle.auxiliary and result.ok}
    dropped = set()
    for (oracle, _), result in zip(runs, results):
        primary = primaries.get(oracle.rule)
        if primary and oracle.auxiliary and result.status == "error" and all(f.kind == "oracle-error" for f in result.findings):
            result.status = "unavailable"
            result.message = f"{result.message[:200]} (a limitation of this method; {primary} ran the same rule)"
            dropped.add(result.name)
            result.findings = []
    return [f for f in findings if not (f.oracle in dropped and f.kind == "oracle-error")]


#: at second order, methods of one rule (reverse mode, the explicit Jacobian) run two
#: backward passes each, whose rounding compounds: they are held to this multiple of rtol
#: (householder_product in complex128 differed by 2.3e-9 relative where FD agreed with both).
#: Finite differences and other rules keep the plain bound.
SECOND_ORDER_SAME_RULE = 100.0


def compare_all(results: list[OracleResult], case: Case, opts: CheckOptions) -> tuple[list[Comparison], list[Finding]]:
    """Every pair of vector results, and every forward-mode projection against every vector."""
    reference = next((r for r in results if r.name == "finite_differences" and r.ok), None)
    per_dtype = opts.rtol if isinstance(opts.rtol, dict) else None
    rtol = comparison_rtol(case, opts)
    vectors = [r for r in results if r.ok and r.grads is not None]
    projections = [r for r in results if r.ok and r.projections]
    pairs = [(compare_vectors, a, b) for i, a in enumerate(vectors) for b in vectors[i + 1 :]]
    pairs += [(compare_projection, p, vec) for p in projections for vec in vectors]
    comparisons, findings = [], []
    wide_rtol = opts.rtol if isinstance(opts.rtol, float) else (per_dtype or {}).get("float64", RTOL["float64"])
    if opts.solver_tol is not None:  # the backward solves to the same tolerance as the forward
        wide_rtol = max(wide_rtol, SOLVER_RTOL * opts.solver_tol)
    for compare, a, b in pairs:
        # two results computed in float64 (finite differences of the float64 evaluation and
        # the rule run in float64) are held to float64's bound, whatever the case's dtype
        pair_rtol = wide_rtol if a.wide and b.wide else rtol
        if case.order == 2 and a.rule == b.rule and not isinstance(opts.rtol, float):
            pair_rtol *= SECOND_ORDER_SAME_RULE
        comparison, found = compare(a, b, case, pair_rtol, opts.atol, reference)
        comparisons.append(comparison)
        findings += found
    return comparisons, findings


#: the noise finite differences allow for when they measured it themselves: its estimate
#: is a spread, and the largest deviation among a few thousand perturbed points is larger
MEASURED_NOISE_SAFETY = 4.0


def _finite_differences_alone_disagree(comparisons: list[Comparison]) -> bool:
    failing = [c for c in comparisons if not c.passed]
    return bool(failing) and all("finite_differences" in (c.expected, c.got) for c in failing)


def rerun_for_noise(runs: list[tuple[Oracle, Case]], results: list[OracleResult], ctx: OracleContext) -> str:
    """Finite differences disagree with methods that agree among themselves: before that
    is a finding, measure the function's own noise (an iterative solver's tolerance makes
    differences of its values err by noise/step). Where it is noisy, finite differences
    run again with steps and error bounds for that noise, replacing their result; the note
    says so ("" when the function is not noisy)."""
    from ..oracles.finite_differences import measured_noise

    at = next((k for k, (oracle, _) in enumerate(runs) if oracle.name == "finite_differences"), None)
    if at is None or not results[at].ok:
        return ""
    oracle, fd_case = runs[at]
    noise = measured_noise(fd_case, ctx.options)
    if not noise:
        return ""
    allowed = min(MEASURED_NOISE_SAFETY * noise, 0.5)
    results[at] = oracle.run(fd_case, OracleContext(options=ctx.options, measured_noise=allowed))
    return (
        f"finite_differences: the function's values are noisy here (about {noise:.2g}, measured: an iterative "
        f"solver's tolerance?); they were run again with steps and error bounds for noise {allowed:.2g} "
        "(state it with solver_tol=… to skip the measurement)"
    )


#: finite differences alone disagreeing by less than this (relative) may be a solver's tolerance
SOLVER_HINT_RELATIVE = 1e-3


def _solver_hint(comparisons: list[Comparison]) -> list[str]:
    """A note when finite differences alone disagree, and only slightly: the mark of a
    derivative computed for the exact solution of what the forward solves approximately."""
    if not _finite_differences_alone_disagree(comparisons):
        return []
    worst = [w for c in comparisons if not c.passed for w in c.worst]
    if not worst:
        return []
    relative = max(float(w.abs_error) / max(abs(w.expected), abs(w.got), 1e-300) for w in worst)
    if not relative < SOLVER_HINT_RELATIVE:
        return []
    return [
        f"finite differences alone disagree, by at most {relative:.2g} relative: if fn runs an iterative solver "
        "(a fixed point, bisection, Newton), its derivative is only as accurate as the solver's tolerance; "
        "state it with solver_tol=…"
    ]


def _unresolved_noise(results: list[OracleResult]) -> str:
    """Why a check that finite differences could not resolve through the function's noise
    is inconclusive ("" when noise left nothing unresolved)."""
    fd = next((r for r in results if r.name == "finite_differences" and r.ok), None)
    if fd is None or not fd.unresolved:
        return ""
    return (
        f"the function's values are noisy (allowed for: {fd.noise_level:.2g}) and finite differences "
        "cannot resolve its derivative through that noise at this point"
    )


def outvoted_primal(results: list[OracleResult], comparisons: list[Comparison], findings: list[Finding], iterative: bool = False) -> tuple[list[Finding], list[str]]:
    """AD of the forward is a witness, never the deciding vote against the reference. When
    finite differences ran and every comparison without the primal passed (the rule under
    test agrees with the reference) while the primal disagrees with finite differences, the
    primal is the suspect: autograd through an iterative forward (bisection, fixed-point
    loops) or a detached step is not the derivative. Its mismatches become a note, not a
    failure of the function. With ``iterative`` (``solver_tol`` declared) the same holds
    where the primal disagrees only with the rule, more finely than finite differences
    resolve: AD through iterations stopped at a tolerance differs from the implicit
    derivative by about that tolerance. Otherwise such a disagreement stands: where the
    forward is exact, AD of it sees errors (1e-9) below finite differences' resolution."""
    primal = next((r.name for r in results if r.ok and r.name.endswith(".primal")), None)
    referee = "finite_differences"
    if primal is None or not any(r.ok and r.name == referee for r in results):
        return findings, []
    involving = [c for c in comparisons if primal in (c.expected, c.got)]
    others = [c for c in comparisons if primal not in (c.expected, c.got)]
    rule_checked = any(referee in (c.expected, c.got) and c.passed and c.compared > 0 for c in others)
    against_referee = any(referee in (c.expected, c.got) and not c.passed for c in involving)
    if all(c.passed for c in involving) or not rule_checked or not all(c.passed for c in others):
        return findings, []
    if not (against_referee or iterative):
        return findings, []
    messages = {c.message for c in involving if not c.passed}
    kept = [f for f in findings if not (f.kind == "mismatch" and f.message in messages)]
    against = "finite differences" if against_referee else "the rule, by less than the solver's tolerance allows"
    note = (
        f"{primal} (AD of the forward) disagrees with {against}, while finite differences agree with the backward "
        "rule under test: AD through this forward is not its derivative (an iterative algorithm or a detached step?); "
        "not counted against the function"
    )
    return kept, [note]


def _skip_reasons(results: list[OracleResult], findings: list[Finding]) -> list[str]:
    reasons = []
    fd = next((r for r in results if r.name == "finite_differences" and r.ok), None)
    if fd is not None and fd.nonsmooth is not None and any(np.any(m) for m in fd.nonsmooth):
        total = sum(int(np.size(m)) for m in fd.nonsmooth)
        bad = sum(int(np.sum(m)) for m in fd.nonsmooth)
        reasons.append(f"{bad} of {total} input entries at non-smooth points, left out: " + "; ".join(fd.nonsmooth_reasons))
    compared = sum(1 for r in results if r.ok and r.grads is not None) + sum(1 for r in results if r.ok and r.projections)
    if compared < 2 and not findings:
        reasons.append("fewer than two oracles ran, nothing to compare")
    return reasons


def classify(findings: list[Finding], reasons: list[str]) -> str:
    """error (a broken contract or a crash) > mismatch (wrong values) > skipped > pass."""
    if any(f.kind in ERROR_FINDINGS for f in findings):
        return Status.ERROR
    if any(f.kind in VALUE_FINDINGS for f in findings):
        return Status.MISMATCH
    return Status.SKIPPED if reasons else Status.PASS


def _nonfinite_outputs(case: Case) -> str:
    for k, (values, diff) in enumerate(zip(case.output_values, case.output_differentiable)):
        if diff and not np.all(np.isfinite(values)):
            return f"output {k} has {int(np.sum(~np.isfinite(values)))} non-finite entr(y/ies)"
    return ""


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.kind, f.oracle, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _forward_error(fn: Callable, args: tuple, opts: CheckOptions, exc: ForwardError, start: float) -> Verdict:
    message = str(exc)
    return Verdict(
        status="error",
        function=function_name(fn),
        framework=opts.framework or _framework_of(args),
        findings=[Finding(kind=exc.kind, message=message.splitlines()[0], details={"traceback": message})],
        seconds=time.perf_counter() - start,
    )


def _framework_of(args: tuple) -> str:
    from ..frameworks import detect_backend

    try:
        backend = detect_backend(None, args)
    except ValueError:
        return "mixed"
    return backend.name if backend is not None else "unknown"


# ---- one order up --------------------------------------------------------------------


def not_differentiable_here(first: Verdict) -> str:
    """Why the second order cannot be checked at this point ("" when it can): where finite
    differences found every input entry non-smooth, or a jump, the first-order VJP is not
    defined around this point, let alone its derivative (``(x - x.mean()).sum()**2``: an identically-zero
    function whose computed values are rounding noise, and whose "second derivatives"
    are the noise of that noise)."""
    fd = next((r for r in first.oracles if r.name == "finite_differences" and r.ok), None)
    masks = [] if fd is None or fd.nonsmooth is None else [np.asarray(m) for m in fd.nonsmooth]
    if not masks or not any(m.size for m in masks):
        return ""
    if all(np.all(m) for m in masks):
        return "not differentiable here: finite differences found every input entry non-smooth at first order, so the VJP map has no derivative to check at this point"
    if fd.jumps is not None and any(np.any(m) for m in fd.jumps):
        return "not differentiable here: the function jumps at this point (first-order finite differences), so the VJP map is not defined around it"
    return ""


def first_order_scale(case: Case, results: list[OracleResult]) -> float:
    """The size of the terms a first-order vᵀJ sums: finite differences' Σ|v|·|J| when it
    ran, the results themselves, and ‖v‖∞·‖y‖∞ (the tolerance model's scale)."""
    sizes = [case.cotangent_scale * case.output_scale]
    for r in results:
        if r.ok:
            for arrays in (r.scale or []), (r.grads or []):
                sizes += [float(np.max(np.abs(a), initial=0.0)) for a in arrays if np.size(a)]
    finite = [s for s in sizes if math.isfinite(s)]
    return max(finite, default=0.0)


def check_second_order(case: Case, names: list[str], opts: CheckOptions, scale: float = 0.0) -> Verdict:
    """The same check on the VJP map ``(x, v) ↦ vᵀJ(x)``: the backward of the backward.

    The map's outputs are judged at the scale of the terms the first-order vᵀJ summed
    (``scale``), not at their own size: where the first-order result is rounding noise
    (``(x - x.mean()).sum()**2``, ``corrcoef`` of two values) its derivatives are noise
    too, at the size of that rounding, and a tolerance scaled by the noise itself fails
    two correct rules against each other."""
    from .second_order import vjp_map

    fn2, args2, wrt2 = vjp_map(case)
    opts2 = dataclasses.replace(opts, seed=opts.seed + 1, twin=None, primal=None, reference=None, order=1)
    try:
        case2 = build_case(fn2, args2, wrt=wrt2, framework=case.framework, seed=opts2.seed)
        case2.output_scale = max(case2.output_scale, scale)
        case2.order = 2
    except ForwardError as exc:
        finding = Finding(kind="oracle-error", message="the first-order VJP map raised: " + str(exc).splitlines()[0])
        return Verdict(status="error", function=fn2.__name__, framework=case.framework, label=SECOND_ORDER, findings=[finding])
    except ValueError as exc:
        return Verdict(status="skipped", function=fn2.__name__, framework=case.framework, label=SECOND_ORDER, reasons=[str(exc)])
    usable = [o for o in make_oracles(names, case.framework) if o.applies_to_order2]
    return check_case(case2, OraclePlan(names, usable), OracleContext(options=opts2), label=SECOND_ORDER)
