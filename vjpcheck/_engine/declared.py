"""What the user declares the checked derivative to be, when it is not plainly fn's:

* ``output_map=g``: fn's output is defined up to a symmetry; the VJP of ``g ∘ fn`` is
  checked (every oracle sees the composition, so fn's backward runs with the cotangent g's
  backward gives it);
* ``gradient_of=ref``: fn's backward is deliberately not fn's derivative (straight-through,
  clipped or regularised backwards); it must equal the VJP of ``ref``, and the references
  (finite differences, built-in AD) differentiate ``ref`` instead of fn.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .case import Case, ForwardError, function_name, output_scale


class Mapped:
    """``output_map(fn(*args))``, named after both; ``unmapped`` is fn itself."""

    def __init__(self, fn: Callable, output_map: Callable):
        self.unmapped, self.output_map = fn, output_map
        self.__name__ = self.__qualname__ = f"{_short(output_map)}∘{_short(fn)}"
        self.__module__ = getattr(fn, "__module__", None) or __name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.output_map(self.unmapped(*args, **kwargs))


def _short(fn: Callable) -> str:
    """``function_name`` without the module (the composition is named in fn's module)."""
    name, module = function_name(fn), getattr(fn, "__module__", None)
    return name[len(module) + 1 :] if module and name.startswith(module + ".") else name


def mapped(fn: Callable | None, output_map: Callable | None) -> Callable | None:
    """``fn`` composed with ``output_map`` (``fn`` itself without a map)."""
    if fn is None or output_map is None:
        return fn
    return Mapped(fn, output_map)


def unmapped(fn: Callable) -> Callable:
    """The user's function behind a :class:`Mapped` one."""
    return fn.unmapped if isinstance(fn, Mapped) else fn


GRADIENT_OF = "gradient_of"


def gradient_of_case(case: Case, reference: Callable) -> Case:
    """The case with ``reference`` as its function (same arguments, same cotangent), after
    checking that ``reference`` returns outputs of the function's shapes and dtypes."""
    ref_case = dataclasses.replace(case, fn=reference, name=function_name(reference), notes=[])
    try:
        outputs = ref_case.call(case.fresh_args())
    except Exception as exc:
        raise ForwardError(f"gradient_of={ref_case.name} raised {type(exc).__name__}: {exc}") from exc
    backend = case.backend
    got = [(tuple(backend.info(o).shape), backend.info(o).dtype) if backend.is_array(o) else None for o in outputs]
    want = [(tuple(i.shape), i.dtype) for i in case.output_infos]
    if got != want:
        raise ValueError(
            f"gradient_of={ref_case.name} must return outputs shaped like the function's "
            f"(shape and dtype per output: {want}), got {got}"
        )
    ref_case.output_values = [backend.to_numpy(o) for o in outputs]
    ref_case.output_scale = output_scale(ref_case.output_values, case.output_differentiable)
    return ref_case
