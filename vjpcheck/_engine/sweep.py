"""``verify``: property-based checking of one function over generated cases."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from hypothesis import HealthCheck, event, given, settings
from hypothesis import reject as hypothesis_reject
from hypothesis.errors import FailedHealthCheck
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .check import VJPMismatch, check_with_options, with_session_transforms
from .declared import mapped
from .structure import check_kwargs, flatten_call, needs_structure
from ..frameworks import detect_backend
from .case import function_name
from .numeric import is_differentiable_dtype
from .options import ALL_ORACLES, CheckOptions
from .recording import announce
from .results import FAILING, FindingKind, Status, is_failing
from .validate import check_number, check_positive_int
from ..oracles.transforms import compile_statistics, is_transform
from ..strategies import COTANGENT_KINDS, LAYOUTS, DrawnArray, cotangent
from .verdict import case_key, reason_key

DEFAULT_EXAMPLES = 100
CI_EXAMPLES = 50

# Profiles for verify (also loadable by users: settings.load_profile("vjpcheck-ci")).
settings.register_profile(
    "vjpcheck-dev",
    deadline=None,  # JAX compiles on first use of a shape
    max_examples=DEFAULT_EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "vjpcheck-ci",
    deadline=None,
    max_examples=CI_EXAMPLES,
    derandomize=True,  # the same examples on every CI run: no flaky red builds
    print_blob=True,  # the failure blob reproduces it with @reproduce_failure
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


#: verify fails when fewer than this fraction of its examples were checked (passed):
#: skipped, inconclusive and rejected examples compare nothing, so a green test must rest on enough
MIN_CHECKED = 0.5
#: the coverage check applies from this many examples on (fewer say too little either way)
COVERAGE_MIN_EXAMPLES = 10


class LowCoverage(AssertionError):
    """Raised by :func:`verify` when too few examples were checked (``min_checked``);
    ``.summary`` holds the counts and the reasons the others were skipped."""

    def __init__(self, summary: "Summary", min_checked: float):
        checked = summary.counts.get(Status.PASS, 0)
        drawn = summary.examples + summary.rejected_total
        lines = [
            f"vjpcheck.verify {summary.function}: only {checked} of {drawn} examples were checked "
            f"({checked / max(drawn, 1):.0%}, below min_checked={min_checked:g}); the others compared nothing:"
        ]
        lines += summary.reason_lines(8)
        lines += [f"  rejected {n}× (reject=: outside the contract) — {reason}" for reason, n in summary.rejected.most_common(4)]
        fix = "draw inputs where the function is smooth and defined (tensor(..., domain=...), min_side=..., a Hypothesis strategy of your own)"
        if summary.rejected:
            fix = "draw inputs inside the function's contract (per-dimension bounds such as tensor(\"n>=1, m\"), a constrained strategy), and " + fix
        lines.append(f"  fix: {fix}, or accept the coverage with min_checked=0")
        super().__init__("\n".join(lines))
        self.summary = summary


LowCoverage.__module__ = "vjpcheck"


@dataclass
class Summary:
    """What :func:`verify` saw: examples run, verdict counts, skips by reason.

    ``examples`` and the counts cover generation up to and including the first failing
    example; the attempts Hypothesis makes while shrinking it are counted apart
    (``shrink_examples``), so that a 30-example test never reads as 258 passes.
    """

    function: str
    framework: str
    examples: int = 0
    counts: Counter = field(default_factory=Counter)
    skip_reasons: Counter = field(default_factory=Counter)
    reason_status: dict = field(default_factory=dict)  # reason → "skipped" or "inconclusive"
    oracles_run: Counter = field(default_factory=Counter)
    # (device, dtype, verdict) → examples, for reports
    breakdown: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    shrink_examples: int = 0  # examples tried while shrinking the first failure
    rejected: Counter = field(default_factory=Counter)  # reject= exceptions, by type and message
    # transforms: (oracle, reason) → examples it could not check; compile times (seconds)
    transform_unavailable: Counter = field(default_factory=Counter)
    compile_seconds: list = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def __str__(self) -> str:
        parts = ", ".join(f"{k}: {self.counts.get(k, 0)}" for k in (Status.PASS, Status.INCONCLUSIVE, Status.SKIPPED, Status.MISMATCH, Status.ERROR))
        text = f"vjpcheck.verify {self.function} ({self.framework}): {self.examples} examples in {self.seconds:.1f}s — {parts}"
        if self.shrink_examples:
            text += f" (+{self.shrink_examples} while shrinking)"
        for line in self.reason_lines(5):
            text += "\n" + line
        for reason, n in self.rejected.most_common(3):
            text += f"\n  rejected {n}× (outside the contract) — {reason}"
        for line in self.transform_lines():
            text += "\n" + line
        return text

    def transform_lines(self) -> list[str]:
        """Per transform oracle: the examples it checked and why it could not check the
        rest; the compiling calls' times."""
        names = sorted({name for name, _ in self.transform_unavailable} | {n for n in self.oracles_run if is_transform(n)})
        lines = []
        for name in names:
            lines.append(f"  {name}: checked {self.oracles_run.get(name, 0)} of {self.examples} examples")
            lines += [f"    unavailable {n}× — {reason}" for (o, reason), n in self.transform_unavailable.most_common() if o == name]
        stats = compile_statistics(self.compile_seconds)
        if stats:
            lines.append(f"  compiling: {stats['cases']} calls compiled in {stats['total']:.1f}s (median {stats['median']:.2f}s, max {stats['max']:.2f}s)")
        return lines

    def reason_lines(self, limit: int) -> list[str]:
        """The most common reasons examples were skipped or inconclusive, one line each."""
        return [f"  {self.reason_status.get(r, Status.SKIPPED)} {n}× — {r}" for r, n in self.skip_reasons.most_common(limit)]

    def to_dict(self) -> dict:
        return {
            "function": self.function,
            "framework": self.framework,
            "examples": self.examples,
            "counts": dict(self.counts),
            "skip_reasons": dict(self.skip_reasons),
            "oracles_run": dict(self.oracles_run),
            "breakdown": [[d, t, s, n] for (d, t, s), n in sorted(self.breakdown.items())],
            "seconds": self.seconds,
            "shrink_examples": self.shrink_examples,
            "rejected": dict(self.rejected),
            "transform_unavailable": {f"{o}: {r}": n for (o, r), n in self.transform_unavailable.items()},
            "compile_seconds": [round(x, 4) for x in self.compile_seconds],
        }


def verify(
    fn: Callable,
    *arg_specs: Any,
    kwargs: dict[str, Any] | None = None,
    framework: str | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
    order: int = 1,
    oracles: Sequence[str] | str | None = None,
    primal: Callable | str | None = "auto",
    wrt: Sequence[int] | None = None,
    cotangent_kinds: Sequence[str] = COTANGENT_KINDS,
    cotangent_layouts: Sequence[str] = LAYOUTS,
    hypothesis_settings: settings | None = None,
    devices: Sequence[str] | None = None,
    min_checked: float = MIN_CHECKED,
    reject: type[BaseException] | tuple[type[BaseException], ...] = (),
    **check_options: Any,
) -> Summary:
    """Check ``fn``'s vᵀJ over Hypothesis-generated arguments and cotangents.

    Args:
        fn: a PyTorch or JAX callable (``autograd.Function.apply``, ``custom_vjp``, …).
        *arg_specs: one per argument: a :mod:`vjpcheck.strategies` strategy
            (``tensor(...)``, ``index(...)``), any Hypothesis strategy, a constant, or
            a tuple / list / dict of those (a pytree argument; a strategy may also draw
            a whole pytree, e.g. a ``@st.composite`` drawing arguments that must agree).
        kwargs: keyword arguments of ``fn``, each a spec like ``arg_specs``; ``static=``
            (a ``check_vjp`` option) names arguments passed through undifferentiated.
        framework: ``"torch"``/``"jax"``; inferred from ``fn`` when omitted.
        max_examples: default 100 (profile ``vjpcheck-dev``); 50, derandomized, when the
            ``CI`` environment variable is set (profile ``vjpcheck-ci``).
        seed: fixes Hypothesis' seed (pytest's ``--hypothesis-seed`` is honoured too).
        order: 2 also checks the VJP of the VJP map.
        oracles: as in :func:`check_vjp` (a list of names, ``"all"``, or the default set).
        primal: AD of the custom rule's forward as an extra oracle (``"auto"``).
        cotangent_kinds, cotangent_layouts: what cotangents to draw.
        hypothesis_settings: a ``hypothesis.settings`` to use instead of those profiles
            (the deadline is always off).
        devices: restrict the devices drawn arrays are put on (e.g. ``["cpu"]``, or
            ``["cuda"]``); one is drawn per example for all of its arrays. Default: as
            each strategy says (cpu, plus cuda when available).
        min_checked: the fraction of drawn examples (rejected ones included) that must be
            checked (pass) once there are at least 10; below it :class:`LowCoverage` is
            raised with the skip and rejection reasons (default 0.5; 0 accepts any coverage).
        reject: exception types the function raises for inputs outside its contract (a
            library's ``ValueError`` on a shape it does not take): an example whose forward
            raises one is rejected, like Hypothesis' ``assume``, and counted in
            ``summary.rejected``; any other exception is an error of the function.
        **check_options: passed to :func:`check_vjp` (``rtol``, ``atol``, …).

    Returns:
        a :class:`Summary`. Raises :class:`VJPMismatch` with the minimised failing case,
        the verdict and a reproducer when any example is a mismatch or an error.
    """
    __tracebackhide__ = True  # pytest: the failure is the user's, not this frame's
    framework = _framework_for(fn, arg_specs, framework)
    if max_examples is not None:
        check_positive_int("max_examples", max_examples)
    if check_number("min_checked", min_checked) > 1:
        raise ValueError(f"min_checked must be a number between 0 and 1, got {min_checked!r}")
    reject = _exception_types(reject)
    opts = _options(framework, wrt, oracles, order, primal, check_options)
    devices = _check_devices(devices)
    strategies = [as_strategy(s) for s in arg_specs]
    keyword_strategy = as_strategy(check_kwargs(kwargs))
    summary = Summary(function=function_name(fn), framework=framework)
    property_ = _run_settings(hypothesis_settings, max_examples)(
        _property(fn, strategies, keyword_strategy, opts, summary, devices, cotangent_kinds, cotangent_layouts, reject)
    )
    # one example-database entry per function. Private Hypothesis API (its own stateful
    # testing uses it the same way); tests/unit/test_private_apis.py fails loudly if it goes.
    property_._hypothesis_internal_add_digest = hashlib.sha256(repr((summary.function, framework, order, [repr(s) for s in strategies], repr(keyword_strategy))).encode()).digest()
    runner = hypothesis_seed(seed)(property_) if seed is not None else property_
    start = time.perf_counter()
    try:
        runner()
    except _TimedOut as timed_out:
        summary.seconds = time.perf_counter() - start
        failure = VJPMismatch(timed_out.verdict, summary=summary)
        announce("verify-failure", failure)
        raise failure from None
    except VJPMismatch as found:
        verdict = found.verdict
        args, keywords, v, reduced = getattr(found, "replay", (None, None, None, False))
        if reduced:  # shrunk with the oracles of the failure: the minimal case meets them all
            full = check_with_options(fn, args, v, opts, keywords)
            if is_failing(full.overall_status):
                verdict = full
        summary.seconds = time.perf_counter() - start
        # a fresh exception: the minimal case says everything Hypothesis' notes (the drawn
        # arrays again, "Explanation" lines pointing into vjpcheck) would repeat
        failure = VJPMismatch(verdict, summary=summary)
        announce("verify-failure", failure)  # .summary: the examples before it; .verdict: the minimal case
        raise failure from None
    except FailedHealthCheck:
        if not summary.rejected:
            raise
        summary.seconds = time.perf_counter() - start  # Hypothesis gave up: nearly every draw was rejected
        announce("verify", summary)
        raise LowCoverage(summary, min_checked) from None
    summary.seconds = time.perf_counter() - start
    announce("verify", summary)
    checked, drawn = summary.counts.get(Status.PASS, 0), summary.examples + summary.rejected_total
    if drawn >= COVERAGE_MIN_EXAMPLES and checked < min_checked * drawn:
        raise LowCoverage(summary, min_checked)
    return summary


def _framework_for(fn: Callable, arg_specs: tuple, framework: str | None) -> str:
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not arg_specs:
        raise ValueError("verify needs one spec per argument of fn, e.g. vjpcheck.strategies.tensor('m,n')")
    if framework is None:  # constant arrays among the specs, then the function
        backend = detect_backend(fn, tuple(s for s in arg_specs if not isinstance(s, st.SearchStrategy)))
        framework = backend.name if backend is not None else None
    if framework not in ("torch", "jax"):
        raise ValueError(
            f"cannot tell whether {function_name(fn)} is PyTorch or JAX (its code refers to no torch or jax "
            "object, the libraries it calls import both or neither, and both are installed): pass "
            "framework='torch' or 'jax'"
        )
    return framework


def _options(framework: str, wrt, oracles, order: int, primal, check_options: dict) -> CheckOptions:
    """Every check_vjp option, validated now rather than inside Hypothesis."""
    unknown = sorted(set(check_options) - {f.name for f in dataclasses.fields(CheckOptions)})
    if unknown:
        raise TypeError(f"verify got unknown option(s) {unknown}; see vjpcheck.check_vjp for the options it passes on")
    opts = CheckOptions(wrt=wrt, oracles=oracles, order=order, primal=primal, framework=framework, **check_options)
    opts = with_session_transforms(opts, framework)  # fixed once: shrinking narrows them
    if opts.oracles is not None and opts.oracles != ALL_ORACLES:
        from ..oracles import make_oracles

        make_oracles(opts.oracles, framework)
    return opts


def _check_devices(devices: Sequence[str] | None) -> list[str] | None:
    if devices is None:
        return None
    devices = list(devices)
    if not devices or not all(isinstance(d, str) for d in devices):
        raise ValueError(f"devices must be a non-empty list of device names, got {devices!r}")
    return devices


def _run_settings(hypothesis_settings: settings | None, max_examples: int | None) -> settings:
    """The user's settings, or our profile with the user's example database; the deadline
    is always off (JAX compiles on first use of a shape), and one failure is reported (the
    smallest, where Hypothesis found distinct ones: a verdict tells one minimal case)."""
    if hypothesis_settings is not None:
        base = hypothesis_settings
    else:
        base = settings(settings.get_profile("vjpcheck-ci" if os.environ.get("CI") else "vjpcheck-dev"), database=settings().database)
    return settings(
        base,
        deadline=None,
        max_examples=max_examples or base.max_examples,
        report_multiple_bugs=False,
        suppress_health_check=list(base.suppress_health_check) + [HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _exception_types(reject) -> tuple[type[BaseException], ...]:
    types_ = reject if isinstance(reject, tuple) else (reject,) if isinstance(reject, type) else None
    if types_ is None or not all(isinstance(t, type) and issubclass(t, Exception) for t in types_):
        raise TypeError(f"reject must be an exception type or a tuple of them (e.g. (ValueError,)), got {reject!r}")
    return types_


def as_strategy(spec: Any) -> st.SearchStrategy:
    """A spec as a strategy: strategies as they are; tuples, lists and dicts holding
    strategies as the strategy of that structure; anything else a constant."""
    if isinstance(spec, st.SearchStrategy):
        return spec
    if type(spec) in (tuple, list) and any(_holds_strategy(s) for s in spec):
        drawn = st.tuples(*[as_strategy(s) for s in spec])
        return drawn if type(spec) is tuple else drawn.map(list)
    if type(spec) is dict and any(_holds_strategy(s) for s in spec.values()):
        return st.fixed_dictionaries({k: as_strategy(s) for k, s in spec.items()})
    return st.just(spec)


def _holds_strategy(spec: Any) -> bool:
    if isinstance(spec, st.SearchStrategy):
        return True
    if type(spec) in (tuple, list):
        return any(_holds_strategy(s) for s in spec)
    return type(spec) is dict and any(_holds_strategy(s) for s in spec.values())


def _materialise(value: Any, framework: str, device: str | None) -> Any:
    """Drawn arrays as arrays of ``framework``, also inside pytrees (tuples, dicts,
    registered dataclasses: ``st.builds(Params, tensor(...), ...)``)."""
    if isinstance(value, DrawnArray):
        if device is not None and value.device != device:
            value = dataclasses.replace(value, device=device)
        return value.to(framework)
    if isinstance(value, (str, bytes, int, float, complex, type(None))):
        return value
    from ..frameworks import backend_named

    backend = backend_named(framework)
    leaves, structure = backend.tree_flatten(value)
    if not any(isinstance(leaf, DrawnArray) for _, leaf in leaves):
        return value
    return backend.tree_unflatten(structure, [_materialise(leaf, framework, device) for _, leaf in leaves])


def _property(fn, strategies, keyword_strategy, opts: CheckOptions, summary: Summary, devices, kinds, layouts, reject: tuple = ()) -> Callable:
    """The Hypothesis test: draw arguments (one device for all), a cotangent per output,
    check, count; a failing verdict raises so that Hypothesis shrinks it."""
    framework = opts.framework

    shrinking: dict = {}  # from the first failure on: the options its shrink attempts use
    checked = mapped(fn, opts.output_map)  # the cotangent is drawn for what is checked: g(fn(x))

    @given(data=st.data())
    def property_(data):
        drawn = data.draw(st.tuples(*strategies), label="args")
        drawn_keywords = data.draw(keyword_strategy, label="kwargs")
        device = data.draw(st.sampled_from(devices), label="device") if devices else None
        args = tuple(_materialise(d, framework, device) for d in drawn)
        keywords = _materialise(drawn_keywords, framework, device)
        v = _draw_cotangent(data, checked, args, keywords, opts.static, framework, kinds, layouts, reject, summary)
        verdict = check_with_options(fn, args, v, shrinking.get("options", opts), keywords)
        _count(summary, verdict)
        if any(f.kind == FindingKind.TIMEOUT for f in verdict.all_findings()):
            raise _TimedOut(verdict)  # not shrunk: every attempt could take the whole limit
        if is_failing(verdict.overall_status):
            shrinking.setdefault("options", shrink_options(opts, verdict))
            failure = VJPMismatch(verdict)
            failure.replay = (args, keywords, v, shrinking["options"] is not opts)
            raise failure

    return property_


def shrink_options(opts: CheckOptions, verdict) -> CheckOptions:
    """The options of shrink attempts once ``verdict`` failed: only the oracles that took part
    in its findings (and finite differences, the referee), as a minimal case needs only to
    keep that failure; the minimal case is then checked again with every oracle. ``opts``
    itself when the failure names no oracle (a forward error) or every one that ran."""
    from ..oracles import ORACLE_NAMES

    involved = {f.oracle for f in verdict.all_findings() if f.oracle}
    pending = [verdict]
    while pending:
        v = pending.pop()
        involved |= {name for c in v.comparisons if not c.passed for name in (c.expected, c.got)}
        pending.extend(v.children)
    from ..oracles.transforms import TRANSFORM_ORACLES, compiles, transforms_involved

    ran = {o.name for o in verdict.oracles} & set(ORACLE_NAMES) - set(TRANSFORM_ORACLES)
    # oracles that options add (the primal's AD, a reference's or twin's forward) stay;
    # transforms stay only where their oracles took part (each attempt compiles again)
    names = (involved & ran) | ({"finite_differences"} & ran)
    transforms = transforms_involved(opts.transforms, involved)
    if not involved or (names >= ran and transforms == opts.transforms):
        return opts
    return dataclasses.replace(opts, oracles=tuple(sorted(names)), transforms=transforms, compile_backend=opts.compile_backend if compiles(transforms) else None)


class _TimedOut(BaseException):
    """Ends a Hypothesis run at the first example that timed out (a BaseException, so that
    Hypothesis does not shrink it: each attempt could take the whole time limit)."""

    def __init__(self, verdict):
        super().__init__("a check timed out")
        self.verdict = verdict


def _count(summary: Summary, verdict) -> None:
    status = verdict.overall_status
    if any(summary.counts[s] for s in FAILING):
        summary.shrink_examples += 1  # Hypothesis stops generating at the first failure
        return
    summary.examples += 1
    summary.counts[status] += 1
    summary.breakdown[case_key(verdict.case) + (status,)] += 1
    for o in verdict.oracles:
        if o.ok:
            summary.oracles_run[o.name] += 1
        elif o.status == "unavailable" and is_transform(o.name):
            summary.transform_unavailable[(o.name, o.message[:160])] += 1
        if o.compile_seconds:
            summary.compile_seconds.append(o.compile_seconds)
    event(f"verdict: {status}")
    if status in ("skipped", "inconclusive"):
        for reason in verdict.reasons[:1]:
            summary.skip_reasons[reason_key(reason)] += 1
            summary.reason_status[reason_key(reason)] = str(status)


def _draw_cotangent(data, fn, args, keywords, static, framework, kinds, layouts, reject: tuple = (), summary: Summary | None = None):
    """Run the forward once for the output structure, then draw one cotangent per output.
    A forward raising one of ``reject`` rejects the example (Hypothesis' ``reject``)."""
    from ..frameworks import backend_named

    backend = backend_named(framework)
    if needs_structure(backend, args, keywords, static):  # a function of the array leaves, as check_vjp sees it
        try:
            fn, args, _ = flatten_call(fn, args, keywords, static, None, backend)
        except (TypeError, ValueError):
            return None  # check_vjp raises it with the argument's name
    infos = [backend.info(a) if backend.is_array(a) else None for a in args]
    try:
        with backend.precision(infos):
            out_infos, single = backend.output_infos(fn, args, infos)
    except Exception as exc:
        if reject and isinstance(exc, reject):
            if summary is not None and not any(summary.counts[s] for s in FAILING):
                summary.rejected[f"{type(exc).__name__}: {reason_key(str(exc).strip().splitlines()[0] if str(exc).strip() else '')}"] += 1
            hypothesis_reject()  # outside the function's contract: not an example
        return None  # check_vjp reports the forward error with full context
    cots = []
    for info in out_infos:
        if info is None:
            return None
        if not is_differentiable_dtype(info.dtype):
            cots.append(None)
            continue
        drawn = data.draw(cotangent(info.shape, info.dtype, kinds, layouts, info.device), label="cotangent")
        cots.append(drawn.to(framework))
    return cots[0] if single else tuple(cots)  # None entries: integer outputs, ignored
