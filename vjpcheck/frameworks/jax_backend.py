"""JAX backend. float64 is enabled only inside ``x64()`` blocks, never globally."""

from __future__ import annotations

import contextlib
from typing import Any

import jax
import numpy as np

from .base import ArrayInfo, Backend


def x64():
    """Context in which JAX keeps float64/complex128 (the user's global setting untouched)."""
    if jax.config.jax_enable_x64:
        return contextlib.nullcontext()
    return jax.enable_x64(True)


def unfiltered_tracebacks():
    """JAX filters the traceback of every exception it raises (a path check per frame).
    vjpcheck catches those exceptions itself, so inside its calls filtering is off: a
    failing custom rule costs milliseconds, not tenths of a second. Local, like x64."""
    try:
        from jax._src.config import traceback_filtering
    except ImportError:  # pragma: no cover - private API moved: keep JAX's default
        return contextlib.nullcontext()
    return traceback_filtering("off")


def jax_context(wide: bool):
    stack = contextlib.ExitStack()
    if wide:
        stack.enter_context(x64())
    stack.enter_context(unfiltered_tracebacks())
    return stack


def _dtype_name(dtype) -> str:
    name = np.dtype(dtype).name
    return "bfloat16" if name == "bfloat16" else name


class JaxBackend(Backend):
    name = "jax"

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, jax.Array)

    def info(self, obj) -> ArrayInfo:
        devices = getattr(obj, "devices", None)
        device = "cpu"
        if callable(devices):
            ds = list(devices())
            if ds:
                d = ds[0]
                device = "cpu" if d.platform == "cpu" else f"cuda:{d.id}" if d.platform == "gpu" else f"{d.platform}:{d.id}"
        return ArrayInfo(shape=tuple(obj.shape), dtype=_dtype_name(obj.dtype), device=device)

    def to_numpy(self, obj) -> np.ndarray:
        a = np.asarray(obj)
        if a.dtype.kind == "c":
            return a.astype(np.complex128)
        if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
            return a.astype(np.float64)
        return a.copy()

    def copy(self, obj):
        """JAX arrays are immutable: sharing one is as safe as copying it, and far cheaper."""
        return obj

    def from_numpy(self, values: np.ndarray, dtype: str, device: str):
        import ml_dtypes  # shipped with jax

        np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
        arr = np.asarray(values)
        if np.dtype(np_dtype).kind != "c" and np.iscomplexobj(arr):
            arr = arr.real
        with x64() if np.dtype(np_dtype).itemsize >= 8 else contextlib.nullcontext():
            return jax.device_put(np.asarray(arr, dtype=np_dtype), _jax_device(device))

    def to_reference(self, obj):
        a = np.asarray(obj)
        if a.dtype.kind == "c":
            a = a.astype(np.complex128)
        elif a.dtype.kind == "f" or a.dtype.name == "bfloat16":
            a = a.astype(np.float64)
        return jax.device_put(a, jax.devices("cpu")[0])

    def restore(self, obj, values) -> None:  # jax arrays are immutable
        return None

    def precision(self, infos):
        """x64 on while 64-bit arrays are involved (locally; never the global setting)."""
        wide = any(i is not None and i.dtype in ("float64", "complex128", "int64", "uint64") for i in infos)
        return jax_context(wide)


def _jax_device(name: str):
    if name.startswith("cpu"):
        return jax.devices("cpu")[0]
    platform, _, index = name.partition(":")
    platform = "gpu" if platform == "cuda" else platform
    return jax.devices(platform)[int(index or 0)]
