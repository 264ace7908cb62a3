"""The interface every framework backend implements."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np


@dataclass(frozen=True)
class ArrayInfo:
    """What a case records about one array argument, output or cotangent."""

    shape: tuple[int, ...]
    dtype: str
    device: str = "cpu"
    strides: tuple[int, ...] | None = None  # in elements; None where the framework hides them
    offset: int = 0
    layout: str = "contiguous"

    def describe(self) -> str:
        shape = ",".join(str(s) for s in self.shape)
        text = f"{self.dtype}[{shape}] on {self.device}"
        if self.strides is not None and self.layout != "contiguous":
            text += f", {self.layout} (strides {self.strides}, offset {self.offset})"
        return text

    def to_dict(self) -> dict:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "device": self.device,
            "strides": None if self.strides is None else list(self.strides),
            "offset": self.offset,
            "layout": self.layout,
        }


def _is_container(obj: Any) -> bool:
    return isinstance(obj, (tuple, list, dict)) or (dataclasses.is_dataclass(obj) and not isinstance(obj, type))


#: structures nested deeper than this are taken as leaves (a guard against cycles)
MAX_DEPTH = 32


def _output_leaves(out: Any, path: str | None, depth: int = 0) -> Iterator[tuple[str | None, Any]]:
    """(path, leaf) pairs; ``path=None`` names nothing (the hot path: calls inside oracles)."""
    def child(suffix: str) -> str | None:
        return None if path is None else path + suffix

    if depth > MAX_DEPTH:
        yield path, out
    elif isinstance(out, tuple) and hasattr(type(out), "_fields"):  # a named tuple: by field
        for name, o in zip(type(out)._fields, out):
            yield from _output_leaves(o, child(f".{name}"), depth + 1)
    elif isinstance(out, (tuple, list)):
        for k, o in enumerate(out):
            yield from _output_leaves(o, child(f"[{k}]"), depth + 1)
    elif isinstance(out, dict):
        for key in _sorted_keys(out):  # JAX's order, whatever order the dict was built in
            yield from _output_leaves(out[key], child(f"[{key!r}]"), depth + 1)
    elif dataclasses.is_dataclass(out) and not isinstance(out, type):
        for f in dataclasses.fields(out):
            if f.metadata.get("static"):  # equinox's static fields are not leaves
                continue
            yield from _output_leaves(getattr(out, f.name, None), child(f".{f.name}"), depth + 1)
    elif out is not None or depth == 0:  # None inside a structure is an empty subtree
        yield path, out


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types
        return sorted(d, key=repr)


def named_outputs(out: Any) -> list[tuple[str, Any]]:
    """A function's output as (name, leaf) pairs: tuples, lists (named tuples too), dicts
    (by sorted key) and dataclasses (equinox modules too) are flattened, ``None`` inside
    them is an empty subtree; names read like the code (``out[1]``, ``out['loss']``,
    ``out.value``), ``out`` for a single array."""
    return [(f"out{path}", leaf) for path, leaf in _output_leaves(out, "")]


def flatten_outputs(out: Any) -> list:
    """A function's output as a list of leaves (see :func:`named_outputs`); also the
    walk that finds the arrays inside pytree arguments."""
    return [leaf for _, leaf in _output_leaves(out, None)]


def is_single_output(out: Any) -> bool:
    """Whether ``out`` is one array rather than a structure of them."""
    return not _is_container(out)


class Backend:
    """Conversion and bookkeeping for one framework: everything that differs between
    PyTorch and JAX outside the oracles lives behind these methods."""

    name: str = ""
    #: the oracle that differentiates a primal with the framework's built-in reverse mode
    builtin_vjp_oracle: str = ""

    @property
    def twin_framework(self) -> str:
        """The other framework, where a twin implementation of a function runs."""
        return "jax" if self.name == "torch" else "torch"

    def is_array(self, obj: Any) -> bool:
        raise NotImplementedError

    def info(self, obj: Any) -> ArrayInfo:
        raise NotImplementedError

    def to_numpy(self, obj: Any) -> np.ndarray:
        """Values as float64/complex128 (or the integer/bool dtype) NumPy, on the CPU."""
        raise NotImplementedError

    def own_values(self, obj: Any) -> np.ndarray:
        """:meth:`to_numpy` of an array vjpcheck made and never hands to user code: where
        it already is 64-bit on the CPU, a read-only view of its memory (no copy), else
        a copy."""
        return self.to_numpy(obj)

    def copy(self, obj: Any) -> Any:
        """A copy with the same values, dtype, device and memory layout."""
        raise NotImplementedError

    def unsupported_input(self, obj: Any) -> str | None:
        """Why an array argument cannot be checked at all (sparse, no data), or ``None``."""
        return None

    def tracked_copy(self, obj: Any) -> Any:
        """A copy the framework's AD tracks (PyTorch: ``requires_grad``), for telling which
        outputs the function declares non-differentiable."""
        return self.copy(obj)

    def declared_constant(self, outputs: list) -> list[bool]:
        """Per output of a call on tracked copies: whether the framework declares it
        non-differentiable (PyTorch: a floating output that does not require grad)."""
        return [False] * len(outputs)

    def from_numpy(self, values: np.ndarray, dtype: str, device: str) -> Any:
        """A new contiguous array of ``dtype`` on ``device``."""
        raise NotImplementedError

    def from_layout(self, values: np.ndarray, dtype: str, layout: str, device: str, expand_dim: int | None = None) -> Any:
        """A new array with ``values`` in a memory layout: ``contiguous``, ``transposed``,
        ``strided`` (every other element of a wider buffer), ``expanded`` (stride 0 along
        ``expand_dim``) or ``offset`` (a view into a larger buffer). Frameworks without
        layouts give a plain array."""
        return self.from_numpy(values, dtype, device)

    def to_reference(self, obj: Any) -> Any:
        """The same values widened to float64/complex128 on the CPU (finite differences)."""
        raise NotImplementedError

    def precision(self, infos) -> Any:
        """Context manager for calls on arrays described by ``infos`` (JAX: local x64)."""
        raise NotImplementedError

    def restore(self, obj: Any, values: np.ndarray) -> None:
        """Write ``values`` back into ``obj`` in place (after a detected mutation)."""
        raise NotImplementedError

    def primal_of(self, fn: Any) -> Callable | None:
        """For a custom rule of this framework, its plain forward (to be differentiated by
        the built-in AD as an independent oracle); None for anything else."""
        return None

    def tree_flatten(self, tree: Any) -> tuple[list[tuple[str, Any]], Any]:
        """(the leaves of ``tree`` with their paths as code reads them — ``[0]``,
        ``['w']``, ``.weight`` —, the structure), by this framework's pytree registry."""
        raise NotImplementedError

    def tree_unflatten(self, structure: Any, leaves: list) -> Any:
        """The tree of ``structure`` (from :meth:`tree_flatten`) holding ``leaves``."""
        raise NotImplementedError

    #: how a user registers a class as a pytree node of this framework
    pytree_registration: str = ""

    def tf32_allowed(self) -> bool:
        """Whether float32 matrix products/convolutions may run in TF32 on CUDA right now."""
        raise NotImplementedError

    def vjp_map(self, outputs: Callable, full_args: Callable, n: int, keep: tuple[int, ...]) -> Callable:
        """The VJP map ``(*xs, *vs, *others) ↦ vᵀJ(xs)`` built with this framework's own
        reverse mode, differentiable again (order-2 checks). ``full_args(xs, others)``
        rebuilds the call's arguments, ``outputs(args)`` calls the function and flattens
        its output, ``keep`` lists the differentiable outputs."""
        raise NotImplementedError

    def reproducer_imports(self, infos) -> list[str]:
        """Lines a reproducer script needs before it builds arrays like ``infos``."""
        raise NotImplementedError

    def array_expression(self, values_literal: str, info: ArrayInfo) -> str:
        """A Python expression that rebuilds an array: ``values_literal`` (NumPy values) with
        the dtype, device and (where the framework has one) memory layout of ``info``."""
        raise NotImplementedError

    def output_infos(self, fn: Callable, args: list, infos) -> tuple[list[ArrayInfo | None], bool]:
        """(an ArrayInfo per output leaf, None for a leaf that is no array; whether the output
        is a single array) of ``fn(*args)``, computed as cheaply as the framework allows
        (JAX: abstract evaluation); arrays are copied first, so ``args`` stay untouched."""
        raise NotImplementedError

    #: finite differences pad batches to a power of two (JAX compiles once per batch size)
    pads_batches: bool = False
    #: a case whose arrays are all 64-bit on the CPU lends finite differences its forward
    #: values as the float64 base evaluation (JAX: one compilation fewer per new shape;
    #: PyTorch keeps its own, which follows the caller's memory layouts)
    base_from_case: bool = False

    def fd_calls(self, case: Any, ref_args: list, out_dtype) -> tuple[Callable, Callable | None]:
        """Finite differences' (single call on widened arguments, batched call or None): the
        batched one takes stacked NumPy points and returns one flat output row per point."""
        raise NotImplementedError

    def evaluation_context(self, wide: bool) -> Any:
        """Context for evaluations without gradients (``wide``: in float64/complex128)."""
        raise NotImplementedError

    def reference_input(self, values: np.ndarray, like: Any = None) -> Any:
        """One float64/complex128 point as the widened function's single call takes it; in
        the memory layout of ``like`` (the caller's argument) where the framework has one,
        so that finite differences evaluate the same function autograd differentiates."""
        raise NotImplementedError

    def fd_device(self, device: str) -> str:
        """Where batched finite differences of a case on ``device`` run (default: the CPU)."""
        return "cpu"

    def shared_device(self, device: str) -> str:
        """``device`` when this framework can use it too (a GPU for both), else the CPU."""
        if device == "cpu":
            return device
        try:
            self.from_numpy(np.zeros(1), "float32", device)
            return device
        except Exception:  # this framework has no such device here
            return "cpu"


def layout_name(shape: tuple[int, ...], strides: tuple[int, ...], offset: int) -> str:
    """Describe a strided layout in words: contiguous, transposed, expanded, strided, offset."""
    if 0 in shape:
        return "contiguous"  # no element is stored: strides carry no meaning
    dims = [(sz, st) for sz, st in zip(shape, strides) if sz != 1]
    words = []
    if any(st == 0 for _, st in dims):
        words.append("expanded")
    expected = 1
    contiguous = True
    for sz, st in reversed(dims):
        if st != expected:
            contiguous = False
        expected *= sz
    if not contiguous and "expanded" not in words:
        nonzero = [st for _, st in dims]
        if sorted(nonzero, reverse=True) != nonzero:
            words.append("transposed")
        else:
            words.append("strided")
    if offset:
        words.append("offset")
    return " ".join(words) if words else "contiguous"
