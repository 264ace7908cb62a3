"""``torch.compile``'s backward: AOTAutograd traces the eager autograd formulas into one
joint graph, decomposes it, and a backend (Inductor; AOTAutograd alone as ``aot_eager``;
or the user's own) compiles the forward and backward graphs.

Compiled functions are kept across cases (a ``verify`` run compiles a function once, then
once more when a new shape makes dynamo mark it dynamic), each behind a code object of its
own: dynamo caches and limits recompilations per code object, and a program interpreter or
a function factory shares one between many functions. Every compiled graph that ran is
counted, so a call that dynamo ran eagerly (recompile limit, a skipped frame) is
``unavailable`` instead of a pass that checked nothing compiled.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import logging
import os
import time
import types
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch

from ..base import Oracle, OracleContext, OracleUnavailable
from ..torch_common import canonical_grads, differentiable_pairs, prepare
from . import DEFAULT_COMPILE_BACKEND, backend_name

#: graphs one function may compile (every new shape, dtype, layout or grad mode that
#: misses dynamo's guards compiles again; after the first new shape it goes dynamic)
MAX_COMPILATIONS = 24
#: compiled functions kept (least recently used dropped, with dynamo's entries for them)
CACHE_SIZE = 64


@dataclass
class Compiled:
    """One function compiled with one backend, and what it has compiled and run so far."""

    fn: Callable
    backend: str
    compilations: int = 0  # graphs handed to the backend
    runs: int = 0  # compiled graphs executed
    compile_seconds: float = 0.0  # wall time of the calls that compiled something


_CACHE: collections.OrderedDict = collections.OrderedDict()
_SERIAL = [0]


def clear_compiled() -> None:
    """Forget every compiled function (and dynamo's caches)."""
    _CACHE.clear()
    torch._dynamo.reset()


def compiled(target: Callable, key: Any, backend: Any) -> Compiled:
    """``target`` under ``torch.compile(backend=backend)``, cached by ``key`` (the user's
    function and what the wrapper adds) and the backend."""
    try:
        cache_key = (key, backend if callable(backend) else str(backend))
        entry = _CACHE.get(cache_key)
    except TypeError:  # an unhashable function: compiled for this call only
        cache_key, entry = None, None
    if entry is not None:
        _CACHE.move_to_end(cache_key)
        return entry
    entry = Compiled(fn=None, backend=backend_name(backend))  # type: ignore[arg-type]
    entry.fn = torch.compile(_own_code(target), backend=_counting(backend, entry))
    if cache_key is not None:
        _CACHE[cache_key] = entry
        if len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return entry


def _own_code(target: Callable) -> Callable:
    """A function calling ``target`` whose code object is new (dynamo's cache key)."""
    _SERIAL[0] += 1
    name = f"vjpcheck_compiled_{_SERIAL[0]}"
    code = _call_target.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, {"TARGET": target, "__builtins__": builtins}, name)


def _call_target(*args):
    return TARGET(*args)  # noqa: F821 (the global of each copy)


def _counting(backend: Any, entry: Compiled) -> Callable:
    """``backend`` wrapped to count the graphs it compiles and the compiled runs."""
    inner = torch._dynamo.lookup_backend(backend) if isinstance(backend, str) else backend

    def counted_backend(gm, example_inputs):
        entry.compilations += 1
        compiled_fn = inner(gm, example_inputs)

        def run(*args):
            entry.runs += 1
            return compiled_fn(*args)

        return run

    counted_backend.__name__ = entry.backend  # torch names the backend in its errors
    return counted_backend


class TorchCompile(Oracle):
    """``torch.compile(fn)`` run forward, then ``backward(v)`` through the compiled graph."""

    name = "torch.compile"
    framework = "torch"
    rule = "torch-reverse@compile"
    applies_to_order2 = False  # AOTAutograd's compiled backward is not differentiable again
    backend: Any = "inductor"

    def __init__(self, backend: Any = None):
        if backend is not None:
            self.backend = backend
            self.name = f"torch.compile[{backend_name(backend)}]"

    def unsupported(self, exc: BaseException) -> str | None:
        return compile_unsupported(exc)

    def describe_error(self, exc: BaseException) -> tuple[str, str]:
        """A crash under ``torch.compile`` is the compiler's (the eager forward and backward
        ran): an ``oracle-error`` naming the backend and the error it wraps, never read as
        a wrong shape or dtype from its words."""
        inner = compiler_error(exc)
        return "oracle-error", f"crashed (the {backend_name(self.backend)} backend; eager runs): {type(inner).__name__}: {last_line(inner)}"

    def compute(self, case, ctx: OracleContext, result) -> None:
        entry = compiled(case.fn, ("call", case.fn), self.backend)
        with counted_call(entry, result):
            fresh, xs = prepare(case)
            ys, vs = differentiable_pairs(case, replace(case, fn=entry.fn).call(fresh.args), fresh.cotangents)
            if ys:
                torch.autograd.backward(ys, grad_tensors=vs)
        result.grads = canonical_grads(case, [x.grad for x in xs], result)
        result.findings.extend(fresh.findings(self.name))


def for_backend(oracles: list, backend: Any) -> list:
    """``oracles`` with the compile oracles that use Inductor rebuilt for ``backend``;
    the ``aot_eager`` referee dropped when it is that backend."""
    if backend_name(backend) == DEFAULT_COMPILE_BACKEND and isinstance(backend, str):
        return oracles
    out = []
    for oracle in oracles:
        if type(oracle) in (TorchCompile, TorchCompileFuncVjp):
            oracle = type(oracle)(backend)
        if any(o.name == oracle.name for o in out):
            continue
        out.append(oracle)
    return out


class TorchCompileAotEager(TorchCompile):
    """AOTAutograd's traced and decomposed graphs run without Inductor: where Inductor
    disagrees and this agrees, the bug is in Inductor's lowering; where both disagree, in
    tracing or decompositions."""

    name = "torch.compile[aot_eager]"
    backend = "aot_eager"


class TorchCompileFuncVjp(TorchCompile):
    """``torch.func.vjp`` of the function, traced and compiled whole by ``torch.compile``."""

    name = "torch.compile[torch.func.vjp]"

    def __init__(self, backend: Any = None):
        if backend is not None:
            self.backend = backend
            self.name = f"torch.compile[torch.func.vjp, {backend_name(backend)}]"

    def unsupported(self, exc: BaseException) -> str | None:
        from ..torch_common import functorch_unsupported

        return compile_unsupported(exc) or functorch_unsupported(exc)

    def compute(self, case, ctx: OracleContext, result) -> None:
        keep = tuple(k for k, d in enumerate(case.output_differentiable) if d)
        wrt = tuple(case.wrt)

        def vjp_of(args, primals, cotangents):
            def f(*p):
                full = list(args)
                for i, x in zip(wrt, p):
                    full[i] = x
                outs = case.call(full)
                return tuple(outs[k] for k in keep)

            _, pullback = torch.func.vjp(f, *primals)
            return pullback(cotangents)

        entry = compiled(vjp_of, ("func.vjp", case.fn, wrt, keep), self.backend)
        fresh, _ = prepare(case)
        primals = [fresh.args[i].detach() for i in wrt]
        with counted_call(entry, result):
            grads = entry.fn(fresh.args, primals, tuple(fresh.cotangents[k] for k in keep))
        result.grads = canonical_grads(case, grads, result)
        result.findings.extend(fresh.findings(self.name))


class counted_call:
    """Around one compiled call: once a function's compilation budget is spent, runs only
    what it compiled (a case that needs a new graph is ``unavailable``); times the calls
    that compiled; makes the result ``unavailable`` when no compiled graph ran (dynamo
    fell back to eager)."""

    def __init__(self, entry: Compiled, result):
        self.entry, self.result = entry, result

    def __enter__(self):
        self.start = time.perf_counter()
        self.before = (self.entry.compilations, self.entry.runs)
        self.stack = contextlib.ExitStack()
        self.spent = self.entry.compilations >= MAX_COMPILATIONS
        if self.spent:  # what was compiled still runs (a failure found stays found while shrinking)
            self.stack.enter_context(torch.compiler.set_stance("fail_on_recompile"))
        # vjpcheck bounds compilations itself (dynamo's own limit would run the rest eagerly)
        self.stack.enter_context(torch._dynamo.config.patch(recompile_limit=MAX_COMPILATIONS + 1))
        self.stack.enter_context(_quiet_compiler())
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.stack.__exit__(exc_type, exc, tb)
        entry, (compilations, runs) = self.entry, self.before
        if self.spent and exc is not None and "fail_on_recompile" in str(exc):
            raise OracleUnavailable(
                f"torch.compile: this function compiled {entry.compilations} graphs already (vjpcheck's bound "
                f"per function: {MAX_COMPILATIONS}), and this case needs another; not compiled"
            ) from None
        if entry.compilations > compilations:
            seconds = time.perf_counter() - self.start
            entry.compile_seconds += seconds
            self.result.compile_seconds = seconds
            graphs = entry.compilations - compilations
            if graphs > 1:
                self.result.message = f"compiled as {graphs} graphs (dynamo broke the function at calls it cannot trace; the code between them ran eagerly)"
        if exc_type is None and entry.runs == runs:
            raise OracleUnavailable(
                "torch.compile ran this call eagerly (dynamo compiled no graph for it: a frame it "
                "skips, or its recompile limit reached); nothing compiled was checked"
            )
        return False


#: torch's compile-time loggers: their errors and graph-break warnings repeat what the
#: verdict reports (left as they are when TORCH_LOGS asks for them)
COMPILER_LOGGERS = ("torch._dynamo", "torch._inductor", "torch._subclasses.fake_tensor", "torch.fx.experimental.symbolic_shapes")


@contextlib.contextmanager
def _quiet_compiler():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Torchinductor does not support code generation for complex operators"
        if os.environ.get("TORCH_LOGS"):
            yield
            return
        loggers = [logging.getLogger(name) for name in COMPILER_LOGGERS]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def compiler_error(exc: BaseException) -> BaseException:
    """The error a ``BackendCompilerFailed`` wraps (the exception itself otherwise)."""
    inner = getattr(exc, "inner_exception", None)
    return inner if isinstance(inner, BaseException) else exc


def last_line(exc: BaseException) -> str:
    """The error's own words: its last non-empty line that is not torch's advice to set
    an environment variable (Inductor puts the lowering's error after its context)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.strip().startswith(("Set TORCHDYNAMO", "For even more"))]
    first = next((line for line in lines if "Error:" in line or "Exception:" in line), lines[0] if lines else "")
    return first[:300]


def compile_unsupported(exc: BaseException) -> str | None:
    """A reason when ``exc`` means 'torch.compile cannot apply here', not a wrong result."""
    text = f"{type(exc).__name__}: {exc}"
    if "InvalidCxxCompiler" in text or "No working C++ compiler" in text:
        return "torch.compile: Inductor needs a C++ compiler, and none works here"
    if "Triton" in text and ("not installed" in text or "Cannot find a working triton" in text):
        return "torch.compile: Inductor needs Triton for this device, and it is not installed"
    unsupported = getattr(torch._dynamo.exc, "Unsupported", ())
    if isinstance(exc, unsupported):
        return "torch.compile cannot trace this function: " + str(exc).strip().splitlines()[0][:200]
    return None
