"""Framework backends: the only modules that import torch or jax.

Each backend knows how to recognise, describe, copy and convert its arrays. Frameworks are
imported lazily, so a torch-only or JAX-only user never pays for the other.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

from .base import ArrayInfo, Backend, flatten_outputs

__all__ = [
    "ArrayInfo",
    "Backend",
    "backend_named",
    "detect_backend",
    "available_backends",
    "infer_framework",
    "cuda_available",
    "framework_versions",
    "clear_compiled_caches",
    "limit_threads",
]

_BACKENDS: dict[str, Backend] = {}


def backend_named(name: str) -> Backend:
    """The backend for ``"torch"`` or ``"jax"`` (imports that framework)."""
    if name not in ("torch", "jax"):
        raise ValueError(f"framework must be 'torch' or 'jax', got {name!r}")
    if name not in _BACKENDS:
        if name == "torch":
            from .torch_backend import TorchBackend

            _BACKENDS[name] = TorchBackend()
        else:
            from .jax_backend import JaxBackend

            _BACKENDS[name] = JaxBackend()
    return _BACKENDS[name]


def _owner(obj: Any) -> str | None:
    module = type(obj).__module__ or ""
    if module.startswith("torch") and "torch" in sys.modules:
        return "torch"
    if module.startswith(("jax", "jaxlib")) and "jax" in sys.modules:
        return "jax"
    return None


def detect_backend(fn: Any, args: tuple) -> Backend | None:
    """Infer the framework from the arguments (torch tensors or jax arrays), else from the
    function (:func:`infer_framework`)."""
    found = {o for o in (_owner(a) for a in flatten_outputs(args)) if o}  # arrays inside pytrees too
    if len(found) > 1:
        raise ValueError(
            "args mix torch tensors and jax arrays; pass framework='torch' or framework='jax'"
        )
    if found:
        return backend_named(found.pop())
    owner = _owner(fn) or (infer_framework(fn) if fn is not None else None)
    return backend_named(owner) if owner else None


def available_backends() -> list[str]:
    """Names of the frameworks importable here."""
    import importlib.util

    return [n for n in ("torch", "jax") if importlib.util.find_spec(n) is not None]


def cuda_available() -> bool:
    """Whether a CUDA device is there, as the frameworks already imported see it (PyTorch
    when neither is: a JAX user's check never pays for importing PyTorch)."""
    loaded = [n for n in ("torch", "jax") if n in sys.modules] or ["torch"]
    return any(_sees_cuda(n) for n in loaded)


def _sees_cuda(name: str) -> bool:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return False
    if name == "torch":
        return bool(module.cuda.is_available())
    try:
        return bool(module.devices("gpu"))
    except RuntimeError:  # no GPU backend in this jaxlib
        return False


def framework_versions() -> dict[str, str]:
    """Versions of the installed frameworks and NumPy (for reports)."""
    import importlib.metadata

    out = {}
    for name in ("torch", "jax", "jaxlib", "numpy"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def clear_compiled_caches() -> None:
    """Drop JAX's compiled executables and the transform oracles' compiled functions (long
    runs of per-case closures add up)."""
    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
    compiled = sys.modules.get("vjpcheck.oracles.transforms.torch_compile")
    if compiled is not None:
        compiled.clear_compiled()


def limit_threads(n: int) -> None:
    """At most ``n`` intra-op threads in this process (worker processes share the cores)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(n)


def _framework_of_object(obj: Any) -> str | None:
    """torch/jax when ``obj`` is, or belongs to, or derives from something of theirs."""
    import types

    candidates = [obj, type(obj)]
    if isinstance(obj, type):
        candidates += list(obj.__mro__[1:])
    owner = getattr(obj, "__self__", None)
    if owner is not None:
        candidates += [owner] + (list(owner.__mro__) if isinstance(owner, type) else [type(owner)])
    for c in candidates:
        module = c.__name__ if isinstance(c, types.ModuleType) else (getattr(c, "__module__", None) or "")
        if module.startswith("torch"):
            return "torch"
        if module.startswith(("jax", "jaxlib")):
            return "jax"
    return None


def infer_framework(fn: Callable) -> str | None:
    """The framework of ``fn``: its own type (``autograd.Function.apply``, ``custom_vjp``,
    jit objects), else the first torch/jax object its code refers to (modules such as
    ``torch``/``jnp``, classes derived from ``torch.autograd.Function``, custom_vjp objects),
    else the one framework the libraries it calls import (``roma.procrustes`` → torch),
    else the one framework its own module imports (``lambda r, v: r @ v`` in a test file
    that imports torch), else the one framework installed; ``None`` when that leaves two."""
    found = _framework_of_object(fn)
    if found:
        return found
    target = getattr(fn, "__wrapped__", fn)
    code = getattr(target, "__code__", None)
    if code is None:
        return None
    globals_ = getattr(target, "__globals__", {})
    closure = closure_values(target)
    referred = [closure.get(name, globals_.get(name)) for name in list(code.co_names) + list(code.co_freevars)]
    referred = [obj for obj in referred if obj is not None]
    for obj in referred:
        found = _framework_of_object(obj)
        if found:
            return found
    # a library called by name (``lambda M: roma.procrustes(M)``): the framework its modules import
    behind = set().union(*(_frameworks_behind(obj) for obj in referred)) if referred else set()
    if len(behind) == 1:
        return behind.pop()
    if not behind:  # ``lambda r, v: r @ v``: the framework its own module imports
        home = _frameworks_behind(target)
        if len(home) == 1:
            return home.pop()
    installed = available_backends()
    return installed[0] if len(installed) == 1 and not behind else None


#: how many of a library module's attributes are followed to the modules defining them
_LIBRARY_SCAN = 200


def _frameworks_behind(obj: Any) -> set[str]:
    """torch/jax as imported by the module(s) behind a library object: a module's own
    namespace and those of the modules its attributes come from; a function's globals; a
    class's or instance's defining module. Empty for the standard library and builtins."""
    import types

    if isinstance(obj, types.ModuleType):
        spaces = [vars(obj)]
        for value in list(vars(obj).values())[:_LIBRARY_SCAN]:
            home = value if isinstance(value, types.ModuleType) else sys.modules.get(getattr(value, "__module__", None) or "")
            if home is not None and home is not obj and home.__name__.split(".")[0] == obj.__name__.split(".")[0]:
                spaces.append(vars(home))  # the package's own submodules only
    elif getattr(obj, "__globals__", None) is not None:
        spaces = [obj.__globals__]
    else:
        home = sys.modules.get(getattr(obj if isinstance(obj, type) else type(obj), "__module__", None) or "")
        spaces = [vars(home)] if home is not None else []
    found = set()
    for space in spaces:
        for value in list(space.values()):
            if isinstance(value, types.ModuleType):
                top = value.__name__.split(".")[0]
                if top == "torch":
                    found.add("torch")
                elif top in ("jax", "jaxlib"):
                    found.add("jax")
    return found


def closure_values(fn: Callable) -> dict[str, Any]:
    """The values of ``fn``'s closure by free-variable name (cells not yet filled left out)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    values = {}
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell: a name assigned after the function was made
            pass
    return values
