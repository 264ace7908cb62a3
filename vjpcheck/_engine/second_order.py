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
    user_fn, m = case.fn, len(keep)

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

    if case.framework == "torch":
        import torch

        def torch_vjp_map(*xs_vs_others):
            xs, vs, others = xs_vs_others[:n], xs_vs_others[n : n + m], xs_vs_others[n + m :]
            with torch.enable_grad():
                # never detach: that would drop a forward-mode tangent (forward-over-reverse)
                xs = [x if x.requires_grad else x.requires_grad_() if x.is_leaf else x.clone().requires_grad_() for x in xs]
                outs = outputs(full_args(xs, others))
                ys, cs = [], []
                for k, v in zip(keep, vs):
                    if outs[k].requires_grad:
                        ys.append(outs[k])
                        cs.append(v)
                grads = torch.autograd.grad(ys, xs, cs, create_graph=True, allow_unused=True) if ys else [None] * n
            return tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, xs))

        fn = torch_vjp_map
    else:
        import jax

        def jax_vjp_map(*xs_vs_others):
            xs, vs, others = xs_vs_others[:n], xs_vs_others[n : n + m], xs_vs_others[n + m :]

            def f(*p):
                outs = outputs(full_args(p, others))
                return tuple(outs[k] for k in keep)

            _, pullback = jax.vjp(f, *xs)
            return tuple(pullback(tuple(vs)))

        fn = jax_vjp_map
    fn.__qualname__ = fn.__name__ = f"vjp_map[{case.name}]"
    return fn
