"""JAX backend. float64 is enabled only inside ``x64()`` blocks, never globally."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import jax
import numpy as np

from .base import ArrayInfo, Backend, flatten_outputs, is_single_output


def x64():
    """Context in which JAX keeps float64/complex128 (the user's global setting untouched)."""
    if jax.config.jax_enable_x64:
        return contextlib.nullcontext()
    return jax.enable_x64(True)


def unfiltered_tracebacks():
    """JAX filters the traceback of every exception it raises (a path check per frame).
    vjpcheck catches those exceptions itself, so inside its calls filtering is off: a
    failing custom rule costs milliseconds, not tenths of a second. Local, like x64.

    Private API: JAX exposes the option locally only as ``jax._src.config.traceback_filtering``
    (the public ``jax.config.update`` would change the user's global setting);
    tests/unit/test_private_apis.py fails loudly if it goes."""
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
    builtin_vjp_oracle = "jax.vjp"

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

    def own_values(self, obj) -> np.ndarray:
        a = np.asarray(obj)  # a read-only view of a CPU array's buffer
        return a if a.dtype in (np.float64, np.complex128) else self.to_numpy(obj)

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
        with x64():  # outside it, device_put would round float64 back to float32 (with a NumPy overflow warning)
            return jax.device_put(a, jax.devices("cpu")[0])

    def restore(self, obj, values) -> None:  # jax arrays are immutable
        return None

    def precision(self, infos):
        """x64 on while 64-bit arrays are involved (locally; never the global setting)."""
        wide = any(i is not None and i.dtype in ("float64", "complex128", "int64", "uint64") for i in infos)
        return jax_context(wide)

    def tf32_allowed(self) -> bool:
        """A default matmul precision other than "highest"/"float32" lets XLA use TF32."""
        precision = str(jax.config.jax_default_matmul_precision or "default").lower()
        return not any(p in precision for p in ("highest", "float32"))

    def reproducer_imports(self, infos) -> list[str]:
        lines = ["import jax", "import jax.numpy as jnp"]
        if any(i is not None and i.dtype in ("float64", "complex128") for i in infos):
            lines.append('jax.config.update("jax_enable_x64", True)  # the case is float64')
        return lines

    def array_expression(self, values_literal: str, info: ArrayInfo) -> str:
        return f"jnp.asarray(np.array({values_literal}), dtype={info.dtype!r})"

    def output_infos(self, fn: Callable, args: list, infos) -> tuple[list[ArrayInfo | None], bool]:
        raw = jax.eval_shape(lambda *a: fn(*a), *args)  # shapes and dtypes only: no computation
        leaves = flatten_outputs(raw)
        out = [ArrayInfo(shape=tuple(o.shape), dtype=_dtype_name(o.dtype), device="cpu") if isinstance(o, jax.ShapeDtypeStruct) else None for o in leaves]
        return out, is_single_output(raw)

    pytree_registration = "jax.tree_util.register_dataclass"

    def tree_flatten(self, tree: Any) -> tuple[list[tuple[str, Any]], Any]:
        leaves, structure = jax.tree_util.tree_flatten_with_path(tree)
        return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves], structure

    def tree_unflatten(self, structure: Any, leaves: list) -> Any:
        return jax.tree_util.tree_unflatten(structure, leaves)

    def primal_of(self, fn: Any) -> Callable | None:
        """``jax.custom_vjp`` / ``jax.custom_jvp`` → the undecorated primal ``fn.fun``."""
        return fn.fun if isinstance(fn, (jax.custom_vjp, jax.custom_jvp)) else None

    def is_custom_vjp(self, fn: Any) -> bool:
        """A ``jax.custom_vjp`` function (forward mode is not defined for it)."""
        return isinstance(fn, jax.custom_vjp)

    def fd_calls(self, case, ref_args: list, out_dtype) -> tuple[Callable, Callable | None]:
        """The compiled single call (one compilation reused across cases) and its vmap."""
        import jax.numpy as jnp

        from ..oracles.jax_common import _trace_errors, other_arrays, stable_jit

        diff = case.output_differentiable
        compiled = stable_jit(case, "evaluate", lambda call_with: call_with)

        def compiled_call(args):
            primals = [args[i] for i in case.wrt]
            jitted, eager = compiled
            if jitted is not None:
                try:
                    return jitted(primals, other_arrays(case, args))  # NumPy in: no conversions
                except _trace_errors():
                    pass
            return eager([jnp.asarray(p) for p in primals], other_arrays(case, args))

        def build_batch(call_with):
            def one(primals, others):
                outputs = flatten_outputs(call_with(primals, others))
                parts = [jnp.ravel(o).astype(out_dtype) for o, d in zip(outputs, diff) if d]
                return jnp.concatenate(parts) if parts else jnp.zeros(0, out_dtype)

            return jax.vmap(one, in_axes=(0, None))

        jitted_batch, _ = stable_jit(case, "evaluate-batch", build_batch)
        if jitted_batch is None:
            return compiled_call, None
        others = other_arrays(case, ref_args)

        def run(stacked):
            with x64():
                return np.asarray(jitted_batch(list(stacked), others))

        return compiled_call, run

    pads_batches = True
    base_from_case = True

    def evaluation_context(self, wide: bool):
        return x64() if wide else contextlib.nullcontext()

    def reference_input(self, values: np.ndarray, like: Any = None) -> np.ndarray:
        return np.asarray(values)  # the compiled evaluator takes NumPy; the eager fallback converts

    def vjp_map(self, outputs: Callable, full_args: Callable, n: int, keep: tuple[int, ...]) -> Callable:
        """``(*xs, *vs, *others) ↦ vᵀJ(xs)`` through ``jax.vjp`` (``jax.vjp`` of it again
        at order 2)."""

        def jax_vjp_map(*xs_vs_others):
            xs, vs, others = xs_vs_others[:n], xs_vs_others[n : n + len(keep)], xs_vs_others[n + len(keep) :]

            def f(*p):
                outs = outputs(full_args(p, others))
                return tuple(outs[k] for k in keep)

            _, pullback = jax.vjp(f, *xs)
            return tuple(pullback(tuple(vs)))

        return jax_vjp_map


def _jax_device(name: str):
    if name.startswith("cpu"):
        return jax.devices("cpu")[0]
    platform, _, index = name.partition(":")
    platform = "gpu" if platform == "cuda" else platform
    return jax.devices(platform)[int(index or 0)]
