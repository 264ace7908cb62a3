"""One validation vocabulary for every entry point (API, strategies, plugin, CLI).

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, bad
value) with a message that names the argument, and returns the value it accepted. Booleans
are never accepted as numbers. :func:`argparse_type` turns a check into an argparse
``type=`` so that command-line flags fail with argparse's standard usage error.
"""

from __future__ import annotations

import argparse
import math
import numbers
from typing import Any, Callable, Collection, Sequence, TypeVar

T = TypeVar("T")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """An integer (not a bool), at least ``minimum`` when given."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        what = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_positive_int(name: str, value: Any) -> int:
    """An integer >= 1."""
    return check_int(name, value, minimum=1)


def check_nonnegative_int(name: str, value: Any) -> int:
    """An integer >= 0."""
    return check_int(name, value, minimum=0)


def check_number(name: str, value: Any, *, minimum: float | None = 0.0, strict: bool = False) -> float:
    """A finite real number (not a bool), >= ``minimum`` (> with ``strict``) when given."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def check_positive_number(name: str, value: Any) -> float:
    """A finite real number > 0."""
    return check_number(name, value, strict=True)


def check_choice(name: str, value: Any, choices: Collection[T]) -> T:
    """One of ``choices`` (compared with ==)."""
    if value not in choices:
        items = [repr(c) for c in choices]
        spelled = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
        raise ValueError(f"{name} must be {spelled}, got {value!r}")
    return value


def check_subset(name: str, values: Any, choices: Collection[str]) -> tuple[str, ...]:
    """A non-empty sequence of names from ``choices`` (a single string is not a sequence)."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of names from {sorted(choices)}, got {values!r}")
    if not values:
        raise ValueError(f"{name} must name at least one of {sorted(choices)}")
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ValueError(f"{name}: unknown name(s) {unknown}; known: {sorted(choices)}")
    return tuple(values)


def check_callable(name: str, value: Any, *, optional: bool = False) -> Any:
    """A callable (or None with ``optional``)."""
    if value is None and optional:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def argparse_type(check: Callable[..., T], parse: Callable[[str], Any] = str) -> Callable[[str], T]:
    """An argparse ``type=``: parse the text, then apply ``check``; either's error becomes
    argparse's usage error (exit 2), e.g. ``argument --seed: value must be a non-negative int, got -1``."""

    def convert(text: str) -> T:
        try:
            value = parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        try:
            return check("value", value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(check, "__name__", "value").replace("check_", "")
    return convert


def comma_list(text: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; an empty list is an error (``--ops ''`` must not mean "all")."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"expected a comma-separated list of names, got {text!r}")
    return items
