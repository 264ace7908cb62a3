"""Helpers shared by the JAX oracles."""

from __future__ import annotations

import jax.numpy as jnp

from .._engine.case import Case
from .._engine.numeric import COMPLEX_DTYPES, FLOAT_DTYPES


def precision(case: Case):
    """x64 on for cases with 64-bit arrays, JAX's traceback filtering off (both local)."""
    return case.backend.precision(list(case.arg_infos) + list(case.output_infos))




def kept_outputs(case: Case) -> list[int]:
    return [k for k, d in enumerate(case.output_differentiable) if d]


def conj(x):
    return jnp.conj(x) if jnp.iscomplexobj(x) else x



_COMPILED = None  # OrderedDict[key, (jitted, fn)], created on first use
_COMPILED_MAX = 256
#: finite differences' own float64 evaluations (not the methods under test) are compiled
#: without LLVM's optimisations: half the compile time (a CPU compile of a small function
#: takes 20–40 ms, more than its runs), IEEE semantics kept (XLA allows no fast math)
REFERENCE_KINDS = ("evaluate", "evaluate-batch")
REFERENCE_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def stable_jit(case: Case, kind: str, build):
    """A jitted function reused across cases of the same function, plus its eager twin.

    ``build(call_with)`` returns a Python function whose first two parameters are the
    differentiated values and the other array arguments; ``call_with(primals, others)``
    rebuilds the full argument list. Keyed by the function object, the differentiated
    positions, the dtypes and devices of arguments and outputs, the kept outputs and the
    constant (non-array) arguments, so a new case of an already-seen signature reuses JAX's
    compilation instead of tracing a fresh closure (shapes: jit retraces by itself).
    Returns ``(jitted, eager)``; ``(None, eager)`` when a constant is unhashable.
    """
    import collections

    import jax

    global _COMPILED
    if _COMPILED is None:
        _COMPILED = collections.OrderedDict()
    layout = []
    for i, (a, info) in enumerate(zip(case.args, case.arg_infos)):
        if i in case.wrt:
            layout.append(("wrt",))
        elif info is not None:
            layout.append(("array",))
        else:
            layout.append(("const", a))
    wrt_pos = {i: j for j, i in enumerate(case.wrt)}

    def call_with(primals, others):
        args, k = [], 0
        for i, entry in enumerate(layout):
            if entry[0] == "wrt":
                args.append(primals[wrt_pos[i]])
            elif entry[0] == "array":
                args.append(others[k])
                k += 1
            else:
                args.append(entry[1])
        return case.call(args)

    eager = build(call_with)
    try:
        # everything a build may close over: dtypes and devices of the arguments and the
        # outputs (a batched evaluator casts to the output dtype: a real case's must never
        # serve a complex one), not just the function object
        widen = _widened if kind in REFERENCE_KINDS else (lambda dtype: dtype)
        signature = tuple((widen(i.dtype), i.device) if i is not None else None for i in case.arg_infos)
        outputs = tuple(widen(i.dtype) if i is not None else None for i in case.output_infos)
        key = (kind, case.fn, tuple(case.wrt), tuple(layout), signature, outputs, tuple(case.output_differentiable), bool(jax.config.jax_enable_x64))
        hash(key)
    except TypeError:
        return None, eager
    hit = _COMPILED.get(key)
    if hit is not None:
        _COMPILED.move_to_end(key)
        return hit[0], eager
    jitted = jax.jit(eager, compiler_options=REFERENCE_COMPILER_OPTIONS if kind in REFERENCE_KINDS else None)
    _COMPILED[key] = (jitted, case.fn)
    if len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.popitem(last=False)
    return jitted, eager


def _widened(dtype: str) -> str:
    """The dtype finite differences evaluate ``dtype`` in: a float32 case and a float64 one
    of the same shape share their reference evaluators (and JAX's compilations)."""
    if dtype in COMPLEX_DTYPES:
        return "complex128"
    return "float64" if dtype in FLOAT_DTYPES else dtype


def other_arrays(case: Case, args: list) -> list:
    """The non-differentiated array arguments, in order (the ``others`` of stable_jit)."""
    return [args[i] for i, info in enumerate(case.arg_infos) if info is not None and i not in case.wrt]


def _trace_errors() -> tuple:
    """Errors meaning 'this function cannot be traced', as opposed to 'it failed'."""
    import jax

    names = (
        "ConcretizationTypeError",
        "TracerArrayConversionError",
        "TracerBoolConversionError",
        "TracerIntegerConversionError",
        "NonConcreteBooleanIndexError",
        "UnexpectedTracerError",
    )
    return tuple(getattr(jax.errors, n) for n in names if hasattr(jax.errors, n))


def run_compiled(pair, *args):
    """Run the jitted function; eagerly only when the function cannot be traced.

    Any other error (a custom rule's wrong shape, a crash) propagates from the jitted
    run as it would from an eager one, without paying for a second, eager failure.
    """
    jitted, eager = pair
    if jitted is not None:
        try:
            return jitted(*args)
        except _trace_errors():
            pass
    return eager(*args)
