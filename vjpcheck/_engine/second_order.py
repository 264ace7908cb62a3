"""The VJP map ``(x, v) ↦ vᵀJ(x)`` as a function of its own, for order-2 checks.

Checking the VJP of this map exercises the backward of the backward (double backward in
PyTorch, ``jax.vjp`` of ``jax.vjp`` in JAX): a custom rule whose backward is computed with
detached or non-differentiable operations gives correct first-order values and wrong
second-order ones.

The map takes ``(*inputs, *cotangents, *other_arrays)``: non-differentiated arrays are
arguments, not captured values, so one map object serves every case of a function (and
JAX compiles it once per shape rather than once per case).
"""

from __future__ import annotations

from typing import Callable

from .case import Case

_MAPS: dict = {}


def vjp_map(case: Case) -> tuple[Callable, tuple, tuple[int, ...]]:
    """(map function, its arguments, the positions to differentiate)."""
    n = len(case.wrt)
    keep = tuple(k for k, d in enumerate(case.output_differentiable) if d)
    layout = tuple(
        ("wrt",) if i in case.wrt else ("array",) if info is not None else ("const", a)
        for i, (a, info) in enumerate(zip(case.args, case.arg_infos))
    )
    key = (case.framework, case.fn, tuple(case.wrt), keep, layout)
    try:
        fn = _MAPS.get(key) or _MAPS.setdefault(key, _build(case, n, keep, layout))
    except TypeError:  # an unhashable constant argument: build a one-off map
        fn = _build(case, n, keep, layout)
    others = tuple(case.backend.copy(a) for a, entry in zip(case.args, layout) if entry[0] == "array")
    args = (
        tuple(case.backend.copy(case.args[i]) for i in case.wrt)
        + tuple(case.backend.copy(case.cotangents[k]) for k in keep)
        + others
    )
    return fn, args, tuple(range(n + len(keep)))


def _build(case: Case, n: int, keep: tuple, layout: tuple) -> Callable:
    user_fn = case.fn

    def full_args(xs, others):
        args, pos_x, pos_o = [], 0, 0
        for entry in layout:
            if entry[0] == "wrt":
                args.append(xs[pos_x])
                pos_x += 1
            elif entry[0] == "array":
                args.append(others[pos_o])
                pos_o += 1
            else:
                args.append(entry[1])
        return args

    def outputs(args):
        from .case import flatten_outputs

        return flatten_outputs(user_fn(*args))

    fn = case.backend.vjp_map(outputs, full_args, n, keep)
    fn.__qualname__ = fn.__name__ = f"vjp_map[{case.name}]"
    return fn
