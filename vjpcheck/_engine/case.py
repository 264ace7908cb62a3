"""A case: one function, concrete arguments, the differentiated subset and a cotangent."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..frameworks import ArrayInfo, Backend, backend_named, detect_backend
from ..frameworks.base import flatten_outputs, is_single_output, named_outputs
from .numeric import is_complex_dtype, is_differentiable_dtype, random_like, rounding_unit
from .results import REPORT_MAX_ENTRIES, array_to_json


class ForwardError(Exception):
    """The function under test raised on the case's arguments (or returned no array)."""

    kind = "forward-error"


class NonDeterministic(ForwardError):
    """Two calls on the same arguments gave different outputs (dropout, randn inside):
    no derivative to check, and finite differences would read the noise as jumps."""

    kind = "non-deterministic"


def function_name(fn: Any) -> str:
    """A readable name: ``module.qualname`` or the class of an ``autograd.Function.apply``."""
    fn = getattr(fn, "unstructured", fn)  # called with pytrees and keywords: the user's function
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{getattr(fn, '__name__', 'apply')}"
    inner = getattr(fn, "fun", None)  # jax.custom_vjp / custom_jvp wrap the primal as .fun
    target = inner if inner is not None and not hasattr(fn, "__qualname__") else fn
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or type(target).__name__
    module = getattr(target, "__module__", None)
    if module == "torch" and qual.startswith("_VariableFunctionsClass."):  # torch.sin and the like
        qual = qual.split(".", 1)[1]
    return f"{module}.{qual}" if module and module != "builtins" else qual


@dataclass
class Case:
    """Everything an oracle needs to compute vᵀJ; built by :func:`build_case`."""

    fn: Callable
    name: str
    backend: Backend
    args: tuple  # the caller's objects, never handed to an oracle
    wrt: tuple[int, ...]
    arg_infos: list[ArrayInfo | None]
    arg_values: list[np.ndarray | None]  # snapshots of every array argument
    output_infos: list[ArrayInfo]
    output_differentiable: list[bool]
    single_output: bool
    cotangents: list[Any]  # framework objects (caller's or generated), None for int outputs
    cotangent_infos: list[ArrayInfo | None]
    v: list[np.ndarray | None]  # canonical cotangent values
    output_values: list = field(default_factory=list)  # forward values of every output
    output_scale: float = 0.0  # max |y| over the differentiable outputs
    seed: int = 0
    notes: list[str] = field(default_factory=list)  # what the verdict should say about the case
    order: int = 1  # 2: the case is the VJP map of a first-order case
    arg_names: list[str] = field(default_factory=list)  # as the call reads: arg0, arg1['w'], args[0]
    output_names: list[str] = field(default_factory=list)  # out, out[1], out['loss'], out.value

    # ---- views used by oracles -------------------------------------------------------
    @property
    def framework(self) -> str:
        return self.backend.name

    def arg_name(self, i: int) -> str:
        return self.arg_names[i] if i < len(self.arg_names) else f"arg{i}"

    def output_name(self, k: int) -> str:
        return self.output_names[k] if k < len(self.output_names) else f"output {k}"

    @property
    def primals(self) -> list[np.ndarray]:
        return [self.arg_values[i] for i in self.wrt]

    @property
    def wrt_infos(self) -> list[ArrayInfo]:
        return [self.arg_infos[i] for i in self.wrt]

    @property
    def cotangent_scale(self) -> float:
        return max((float(np.max(np.abs(v), initial=0.0)) for v in self.v if v is not None), default=0.0)

    @property
    def device(self) -> str:
        devices = {self.arg_infos[i].device for i in self.wrt}
        return sorted(devices)[0] if devices else "cpu"

    @property
    def dtypes(self) -> list[str]:
        return [self.arg_infos[i].dtype for i in self.wrt]

    def fresh_args(self) -> list:
        """Copies of every array argument (layout preserved); other arguments as given."""
        return [self.backend.copy(a) if info is not None else a for a, info in zip(self.args, self.arg_infos)]

    def fresh_cotangents(self) -> list:
        return [None if c is None else self.backend.copy(c) for c in self.cotangents]

    def numpy_args(self) -> list:
        """The arguments for a NumPy implementation: copies of the array values
        (float64/complex128), other arguments as given."""
        return [a if values is None else np.array(values, copy=True) for a, values in zip(self.args, self.arg_values)]

    def substitute(self, args: Sequence, wrt_values: Sequence) -> list:
        out = list(args)
        for i, value in zip(self.wrt, wrt_values):
            out[i] = value
        return out

    def call(self, args: Sequence) -> list:
        """Call the function and flatten its output to a list of arrays."""
        with self.backend.precision(self.arg_infos):
            return flatten_outputs(self.fn(*args))



def build_case(
    fn: Callable,
    args: tuple,
    v: Any = None,
    wrt: Sequence[int] | int | None = None,
    framework: str | None = None,
    seed: int = 0,
    arg_names: Sequence[str] | None = None,
) -> Case:
    """Validate the arguments, run the forward once and fix the cotangent.

    Raises ``TypeError``/``ValueError`` naming the offending argument for bad input, and
    :class:`ForwardError` when the function itself raises.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    backend = resolve_backend(fn, args, framework)
    names = list(arg_names) if arg_names is not None else [f"arg{i}" for i in range(len(args))]
    for i, a in enumerate(args):  # before any work: a clear TypeError naming the argument
        reason = backend.unsupported_input(a) if backend.is_array(a) else None
        if reason:
            raise TypeError(f"{names[i] if arg_names is not None else f'args[{i}]'}: {reason}")
    args = tuple(_adopt(backend, a) for a in args)
    infos = [backend.info(a) if backend.is_array(a) else None for a in args]
    values = [backend.to_numpy(a) if info is not None else None for a, info in zip(args, infos)]
    wrt_t = _resolve_wrt(wrt, args, infos, backend)
    name = function_name(fn)
    raw = _forward_once(fn, name, backend, args, infos)
    named = named_outputs(raw)
    leaves, single, output_names = [leaf for _, leaf in named], is_single_output(raw), [n for n, _ in named]
    out_infos, out_diff, output_values = _describe_outputs(name, backend, leaves, output_names)
    del raw, leaves  # read into output_values: free before the second call allocates its own
    constant = _second_call(fn, name, backend, args, infos, wrt_t, output_values, out_infos)
    out_diff, notes = _declared_nondifferentiable(name, backend, out_diff, constant)
    cotangents = _resolve_cotangents(v, name, backend, out_infos, out_diff, single, seed)
    return Case(
        fn=fn,
        name=name,
        backend=backend,
        args=args,
        wrt=wrt_t,
        arg_infos=infos,
        arg_values=values,
        output_infos=out_infos,
        output_differentiable=out_diff,
        single_output=single,
        cotangents=cotangents,
        cotangent_infos=[backend.info(c) if c is not None else None for c in cotangents],
        # always read back: a float32 cotangent holds rounded values, not the float64 draw;
        # a drawn one is vjpcheck's own (oracles get copies): read without a copy where it can be
        v=[None if c is None else backend.own_values(c) if v is None else backend.to_numpy(c) for c in cotangents],
        output_values=output_values,
        output_scale=output_scale(output_values, out_diff),
        seed=int(seed),
        notes=notes,
        arg_names=names,
        output_names=output_names,
    )


def output_scale(values: Sequence[np.ndarray], differentiable: Sequence[bool]) -> float:
    """max |y| over the differentiable outputs (0 when that is not finite)."""
    scale = max((float(np.max(np.abs(y), initial=0.0)) for y, d in zip(values, differentiable) if d), default=0.0)
    return scale if np.isfinite(scale) else 0.0


def resolve_backend(fn: Callable, args: tuple, framework: str | None) -> Backend:
    if framework is not None:
        return backend_named(framework)
    backend = detect_backend(fn, args)
    if backend is None:
        raise ValueError(
            "cannot tell the framework (not from the args, nor from what the function's code refers "
            "to, and both PyTorch and JAX are installed): pass torch tensors or jax arrays as args, "
            "or framework='torch' / framework='jax'"
        )
    return backend


def _resolve_wrt(wrt, args: tuple, infos: list, backend: Backend) -> tuple[int, ...]:
    """The positions to differentiate: ``wrt`` checked, or every float/complex array."""
    differentiable = [i for i, info in enumerate(infos) if info is not None and is_differentiable_dtype(info.dtype)]
    if wrt is None:
        if not differentiable:
            raise ValueError(
                "no differentiable argument: args hold no floating-point or complex "
                f"{backend.name} array (got {[type(a).__name__ for a in args]})"
            )
        return tuple(differentiable)
    wrt_t = (wrt,) if isinstance(wrt, (int, np.integer)) else tuple(wrt)
    for i in wrt_t:
        if not isinstance(i, (int, np.integer)) or not -len(args) <= i < len(args):
            raise ValueError(f"wrt={wrt!r}: index {i!r} is not a position in args (len {len(args)})")
    wrt_t = tuple(int(i) % len(args) for i in wrt_t)
    for i in wrt_t:
        if i not in differentiable:
            what = infos[i].dtype if infos[i] is not None else type(args[i]).__name__
            raise ValueError(f"wrt={wrt!r}: argument {i} ({what}) is not a floating-point or complex array")
    if len(set(wrt_t)) != len(wrt_t):
        raise ValueError(f"wrt={wrt!r} repeats an argument")
    return wrt_t


def _forward_once(fn: Callable, name: str, backend: Backend, args: tuple, infos: list) -> Any:
    """``fn`` on copies of the arguments; its exception becomes a :class:`ForwardError`."""
    try:
        probe_args = [backend.copy(a) if info is not None else a for a, info in zip(args, infos)]
        with backend.precision(infos):
            return fn(*probe_args)
    except Exception as exc:  # the user's forward: report it, never crash the run
        call = ", ".join(info.describe() if info is not None else repr(a)[:60] for a, info in zip(args, infos))
        raise ForwardError(
            f"{name}({call}) raised {type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=6))
        ) from exc


def _second_call(fn: Callable, name: str, backend: Backend, args: tuple, infos: list, wrt: tuple, first: list[np.ndarray], out_infos: list) -> list[bool]:
    """Call ``fn`` a second time, on copies the framework's AD tracks: outputs that differ
    by more than rounding (√ε of the output's size, so that a GPU's reordered sums pass)
    mean randomness inside (:class:`NonDeterministic`). Returns, per output, whether the
    framework declares it non-differentiable. A function that cannot run on tracked copies
    (in place on its input) runs on plain ones."""
    try:
        tracked = [
            (backend.tracked_copy(a) if i in wrt else backend.copy(a)) if info is not None else a
            for i, (a, info) in enumerate(zip(args, infos))
        ]
        with backend.precision(infos):
            again = flatten_outputs(fn(*tracked))
        constant = backend.declared_constant(again)
    except Exception:  # noqa: BLE001 - the plain call below reports a real forward error
        again = flatten_outputs(_forward_once(fn, name, backend, args, infos))
        constant = [False] * len(again)
    if len(again) != len(first):
        raise NonDeterministic(f"{name} is not deterministic: a second call on the same arguments returned {len(again)} outputs, the first {len(first)}")
    second = [backend.to_numpy(leaf) if backend.is_array(leaf) else None for leaf in again]
    del again, tracked  # the values are read: free the outputs and the graph they hold
    for k, (a, b, info) in enumerate(zip(first, second, out_infos)):
        if b is None or b.shape != a.shape:
            raise NonDeterministic(f"{name} is not deterministic: a second call on the same arguments gave a different output {k} structure")
        worst, scale = _largest_change(a, b)
        limit = np.sqrt(rounding_unit(info.dtype)[0]) * max(scale, 1e-30)
        if not (worst <= limit):  # NaN: NaNs in different places
            raise NonDeterministic(
                f"{name} is not deterministic: two calls on the same arguments differ in output {k} "
                f"(max difference {worst:.3g}); seed its randomness inside the function "
                "(e.g. a fixed torch.Generator / jax.random key) or check it in eval mode"
            )
        second[k] = None
    return constant


def _largest_change(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(max |a − b| over entries where neither is NaN — NaN when the NaNs differ in place —,
    max |a| over a's non-NaN entries), with one temporary array."""
    if a.size == 0:
        return 0.0, 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        if np.any(np.isnan(a) != np.isnan(b)):
            return float("nan"), 0.0
        diff = np.asarray(np.subtract(a, b))  # 0-d inputs give a NumPy scalar
        diff = np.abs(diff) if np.iscomplexobj(diff) else np.abs(diff, out=diff)
        worst = np.nanmax(diff) if not np.all(np.isnan(diff)) else 0.0
        del diff
        if np.all(np.isnan(a)):
            return float(worst), 0.0
        if np.iscomplexobj(a):
            return float(worst), float(np.nanmax(np.abs(a)))
        return float(worst), float(max(abs(np.nanmax(a)), abs(np.nanmin(a))))


def _declared_nondifferentiable(name: str, backend: Backend, out_diff: list[bool], constant: list[bool]) -> tuple[list[bool], list[str]]:
    """Floating outputs the framework declares non-differentiable (layer norm's mean and
    rstd, batch-norm statistics) are left out of every comparison, when others remain."""
    dropped = [k for k, (d, c) in enumerate(zip(out_diff, constant)) if d and c]
    if not dropped or len(dropped) == sum(out_diff):
        return out_diff, []
    note = (
        f"output{'s' if len(dropped) > 1 else ''} {', '.join(map(str, dropped))} of {name} "
        f"{'are' if len(dropped) > 1 else 'is'} declared non-differentiable by {backend.name} "
        "(no gradient flows through it): left out of every comparison"
    )
    return [d and not c for d, c in zip(out_diff, constant)], [note]


def _describe_outputs(name: str, backend: Backend, leaves: list, names: list[str]) -> tuple[list[ArrayInfo], list[bool], list[np.ndarray]]:
    for k, leaf in enumerate(leaves):
        if not backend.is_array(leaf):
            raise ForwardError(  # a problem of the function, not of the call: a finding
                f"{name} returned {type(leaf).__name__} as {names[k]} (output {k}); outputs must be "
                f"{backend.name} arrays or structures of them (tuples, lists, dicts, dataclasses)"
            )
    infos = [backend.info(o) for o in leaves]
    differentiable = [is_differentiable_dtype(i.dtype) for i in infos]
    if not any(differentiable):
        raise ValueError(f"{name} has no floating-point or complex output to differentiate")
    return infos, differentiable, [backend.to_numpy(o) for o in leaves]


def _resolve_cotangents(v: Any, name: str, backend: Backend, out_infos: list, out_diff: list, single: bool, seed: int) -> list:
    """One cotangent per output (None for integer outputs): ``v`` checked, or standard
    normal values drawn with ``seed``."""
    if v is None:
        rng = np.random.default_rng(seed)
        return [
            backend.from_numpy(random_like(rng, i.shape, is_complex_dtype(i.dtype)), i.dtype, i.device) if d else None
            for i, d in zip(out_infos, out_diff)
        ]
    if single:
        given = list(v) if isinstance(v, (tuple, list)) and len(v) == 1 else [v]
    elif isinstance(v, (tuple, list)) and len(v) == len(out_infos):
        given = list(v)  # one per output leaf (None for integer outputs)
    else:  # shaped like the output: a dict, a dataclass, nested tuples
        given = flatten_outputs(v)
    if len(given) != len(out_infos):
        raise ValueError(f"v has {len(given)} cotangent(s) but {name} returns {len(out_infos)} output(s)")
    cotangents = []
    for k, (c, info, d) in enumerate(zip(given, out_infos, out_diff)):
        if not d:
            cotangents.append(None)
            continue
        c = _adopt(backend, c, like=info)
        ci = backend.info(c)
        if ci.shape != info.shape:
            raise ValueError(f"v[{k}] has shape {ci.shape} but output {k} has shape {info.shape}")
        if is_complex_dtype(ci.dtype) != is_complex_dtype(info.dtype):
            raise ValueError(f"v[{k}] has dtype {ci.dtype} but output {k} has dtype {info.dtype}")
        cotangents.append(c)
    return cotangents


def _adopt(backend: Backend, obj: Any, like: ArrayInfo | None = None) -> Any:
    """NumPy arrays become the backend's arrays (dtype kept, or that of ``like``)."""
    if isinstance(obj, np.ndarray):
        dtype = like.dtype if like is not None else obj.dtype.name
        device = like.device if like is not None else "cpu"
        return backend.from_numpy(obj, dtype, device)
    if like is not None and not backend.is_array(obj):
        raise TypeError(f"cotangent must be a {backend.name} array or NumPy array, got {type(obj).__name__}")
    return obj


def describe_case(case: Case) -> dict:
    """JSON-ready description: every argument, output and cotangent, with values."""
    args = []
    for i, (a, info, values) in enumerate(zip(case.args, case.arg_infos, case.arg_values)):
        entry = {"index": i, "name": case.arg_name(i), "differentiated": i in case.wrt}
        if info is None:
            entry.update({"description": f"{type(a).__name__} {a!r}"[:120], "value": repr(a)[:200]})
        else:
            entry.update(info.to_dict())
            entry["description"] = info.describe()
            entry["values"] = array_to_json(values, REPORT_MAX_ENTRIES)
        args.append(entry)
    cots = []
    for c, info, values in zip(case.cotangents, case.cotangent_infos, case.v):
        if c is None:
            cots.append(None)
            continue
        entry = info.to_dict()
        entry["description"] = info.describe()
        entry["values"] = array_to_json(values, REPORT_MAX_ENTRIES)
        cots.append(entry)
    return {
        "function": case.name,
        "framework": case.framework,
        "wrt": list(case.wrt),
        "args": args,
        "outputs": [dict(o.to_dict(), name=case.output_name(k), differentiable=d) for k, (o, d) in enumerate(zip(case.output_infos, case.output_differentiable))],
        "cotangents": cots,
        "seed": case.seed,
    }
