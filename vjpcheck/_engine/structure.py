"""Calls with pytree and keyword arguments, seen by the engine as functions of array leaves.

``check_vjp(fn, params, x, kwargs={"args": (x, M)}, static=("config",))`` flattens each
argument with the framework's own pytree registry (tuples, lists, dicts, named tuples,
registered dataclasses, equinox modules), differentiates the floating array leaves, keeps
every other leaf as a constant, and names each leaf as the call reads: ``arg0['w']``,
``arg1.weight``, ``args[1]``. A call of plain arrays is left exactly as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..frameworks import Backend
from .numeric import is_differentiable_dtype


@dataclass(frozen=True)
class Slot:
    """One top-level argument: a position (int) or a keyword (str), its structure, and
    which of its leaves are arrays (the rest are constants)."""

    key: int | str
    structure: Any
    is_array: tuple[bool, ...]
    constants: tuple  # the non-array leaves, in order
    names: tuple[str, ...]  # of the array leaves

    @property
    def size(self) -> int:
        return sum(self.is_array)

    def rebuild(self, backend: Backend, arrays: Sequence) -> Any:
        arrays, constants = iter(arrays), iter(self.constants)
        return backend.tree_unflatten(self.structure, [next(arrays) if a else next(constants) for a in self.is_array])


class Structured:
    """``fn`` as a function of the array leaves of its arguments; ``unstructured`` is
    ``fn`` itself. Equal for the same function, structure and constants (JAX's compiled
    methods are cached by function)."""

    def __init__(self, fn: Callable, backend: Backend, slots: Sequence[Slot], static: dict, wrt: Any):
        self.unstructured, self.backend, self.slots, self.static, self.wrt = fn, backend, tuple(slots), dict(static), wrt
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__module__ = getattr(fn, "__module__", None) or __name__

    @property
    def leaf_names(self) -> list[str]:
        return [n for s in self.slots for n in s.names]

    def call_arguments(self, leaves: Sequence) -> tuple[list, dict]:
        """(positional, keyword) arguments of the call, rebuilt around ``leaves``."""
        args, kwargs, at = {}, {}, 0
        for slot in self.slots:
            value = slot.rebuild(self.backend, leaves[at : at + slot.size])
            at += slot.size
            (args if isinstance(slot.key, int) else kwargs)[slot.key] = value
        for key, value in self.static.items():
            (args if isinstance(key, int) else kwargs)[key] = value
        return [args[i] for i in range(len(args))], kwargs

    def __call__(self, *leaves: Any) -> Any:
        args, kwargs = self.call_arguments(leaves)
        return self.unstructured(*args, **kwargs)

    def with_function(self, fn: Callable | None) -> Callable | None:
        """Another function of the same arguments (a primal, a twin, a reference) called
        the same way."""
        return None if fn is None else Structured(fn, self.backend, self.slots, self.static, self.wrt)

    def _key(self) -> tuple:
        constants = tuple(_frozen(c) for s in self.slots for c in s.constants)
        static = tuple((k, _frozen(v)) for k, v in self.static.items())
        return (self.unstructured, tuple((s.key, s.structure, s.is_array) for s in self.slots), constants, static)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Structured) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _frozen(value: Any) -> Any:
    """``value`` where hashable, else its identity (alive as long as the Structured is)."""
    try:
        hash(value)
        return value
    except TypeError:
        return ("object", id(value))


def unstructured(fn: Callable) -> Callable:
    """The user's function behind a :class:`Structured` one."""
    return fn.unstructured if isinstance(fn, Structured) else fn


def user_function(fn: Callable) -> Callable:
    """The user's own function behind the engine's wrappers (an output map's composition,
    a pytree call)."""
    return unstructured(getattr(fn, "unmapped", fn))


def restructured(case_fn: Callable, fn: Callable | None) -> Callable | None:
    """``fn`` called the way ``case_fn`` (the case's function) calls the user's."""
    return case_fn.with_function(fn) if isinstance(case_fn, Structured) else fn


def needs_structure(backend: Backend, args: tuple, kwargs: dict | None, static: Any) -> bool:
    """Whether the call has keywords, static arguments or arrays inside structures."""
    return bool(kwargs) or bool(static) or any(not backend.is_array(a) and _holds_array(backend, a) for a in args)


def _holds_array(backend: Backend, obj: Any, depth: int = 0) -> bool:
    """Whether ``obj`` holds an array: as a pytree leaf, or in a field of a dataclass the
    framework does not flatten (which :func:`flatten_call` refuses by name)."""
    if isinstance(obj, (str, bytes, int, float, complex, type(None))) or depth > 8:
        return False
    for _, leaf in backend.tree_flatten(obj)[0]:
        if backend.is_array(leaf):
            return True
        if _unregistered_dataclass(leaf) and any(_holds_array(backend, getattr(leaf, f.name, None), depth + 1) for f in dataclasses.fields(leaf)):
            return True
    return False


def _unregistered_dataclass(leaf: Any) -> bool:
    return dataclasses.is_dataclass(leaf) and not isinstance(leaf, type)


def flatten_call(fn: Callable, args: tuple, kwargs: dict | None, static: Any, wrt: Any, backend: Backend) -> tuple[Structured, tuple, tuple[int, ...] | None]:
    """(``fn`` as a function of array leaves, the leaves, ``wrt`` as leaf positions).

    ``static`` names positions (ints) and keywords (strs) passed through as they are;
    ``wrt`` names those to differentiate (default: every floating array leaf).
    Raises ``TypeError``/``ValueError`` naming the argument for bad input."""
    kwargs = check_kwargs(kwargs)
    static_keys = _check_keys("static", static, args, kwargs)
    wrt_keys = None if wrt is None else _check_keys("wrt", wrt, args, kwargs)
    if wrt_keys is not None and set(wrt_keys) & set(static_keys):
        raise ValueError(f"wrt={wrt!r} and static={static!r} name the same argument")
    entries = [(i, a) for i, a in enumerate(args)] + list(kwargs.items())
    slots, leaves, static_values = [], [], {}
    for key, value in entries:
        if key in static_keys:
            static_values[key] = value
            continue
        slot, arrays = _slot(backend, key, value)
        slots.append(slot)
        leaves += arrays
    structured = Structured(fn, backend, slots, static_values, wrt)
    if wrt_keys is None:
        return structured, tuple(leaves), None
    positions, at = [], 0
    for slot in slots:
        if slot.key in wrt_keys:
            chosen = [k for k in range(at, at + slot.size) if is_differentiable_dtype(backend.info(leaves[k]).dtype)]
            if not chosen:
                raise ValueError(f"wrt={wrt!r}: {argument_name(slot.key)} holds no floating-point or complex array")
            positions += chosen
        at += slot.size
    return structured, tuple(leaves), tuple(positions)


def argument_name(key: int | str) -> str:
    return f"arg{key}" if isinstance(key, int) else key


def _slot(backend: Backend, key: int | str, value: Any) -> tuple[Slot, list]:
    leaves, structure = backend.tree_flatten(value)
    is_array = tuple(backend.is_array(leaf) for _, leaf in leaves)
    for path, leaf in leaves:
        if not backend.is_array(leaf) and _unregistered_dataclass(leaf) and _holds_array(backend, [leaf]):
            raise TypeError(
                f"{argument_name(key)}{path}: a {type(leaf).__qualname__} holding arrays is not a pytree node of "
                f"{backend.name}, so its arrays would not be differentiated: register the class "
                f"({backend.pytree_registration}) or pass its arrays"
            )
    slot = Slot(
        key=key,
        structure=structure,
        is_array=is_array,
        constants=tuple(leaf for (_, leaf), a in zip(leaves, is_array) if not a),
        names=tuple(f"{argument_name(key)}{path}" for (path, _), a in zip(leaves, is_array) if a),
    )
    return slot, [leaf for (_, leaf), a in zip(leaves, is_array) if a]


def check_kwargs(kwargs: Any) -> dict:
    """``kwargs`` as a dict of keyword arguments (``{}`` for None); a ``TypeError`` otherwise."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) and k.isidentifier() for k in kwargs):
        raise TypeError(f"kwargs must be a dict of keyword arguments (identifier → value), got {kwargs!r:.120}")
    return dict(kwargs)


def _check_keys(option: str, keys: Any, args: tuple, kwargs: dict) -> tuple:
    """``keys`` (an int, a str, or a sequence of them) as positions of ``args`` and names
    of ``kwargs``."""
    if keys is None:
        return ()
    keys_t = (keys,) if isinstance(keys, (int, str, np.integer)) else tuple(keys) if isinstance(keys, (tuple, list)) else None
    if keys_t is None:
        raise TypeError(f"{option} must be a position, a keyword, or a list of them, got {keys!r}")
    out = []
    for k in keys_t:
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and -len(args) <= k < len(args):
            out.append(int(k) % len(args))
        elif isinstance(k, str) and k in kwargs:
            out.append(k)
        else:
            raise ValueError(
                f"{option}={keys!r}: {k!r} is neither a position in args (len {len(args)}) nor a keyword in kwargs ({sorted(kwargs)})"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"{option}={keys!r} repeats an argument")
    return tuple(out)
