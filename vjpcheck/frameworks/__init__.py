"""Framework backends: the only modules that import torch or jax.

Each backend knows how to recognise, describe, copy and convert its arrays. Frameworks are
imported lazily, so a torch-only or JAX-only user never pays for the other.
"""

from __future__ import annotations

import sys
from typing import Any

from .base import ArrayInfo, Backend

__all__ = ["ArrayInfo", "Backend", "backend_named", "detect_backend", "available_backends"]

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
    """Infer the framework from the arguments (torch tensors or jax arrays) or the function."""
    found = {o for o in (_owner(a) for a in args) if o}
    if len(found) > 1:
        raise ValueError(
            "args mix torch tensors and jax arrays; pass framework='torch' or framework='jax'"
        )
    if found:
        return backend_named(found.pop())
    owner = _owner(fn)
    return backend_named(owner) if owner else None


def available_backends() -> list[str]:
    """Names of the frameworks importable here."""
    import importlib.util

    return [n for n in ("torch", "jax") if importlib.util.find_spec(n) is not None]
