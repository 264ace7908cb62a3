"""The VJP map ``(x, v) ↦ vᵀJ(x)`` as a function of its own, for order-2 checks.

Checking the VJP of this map exercises the backward of the backward (double backward in
PyTorch, ``jax.vjp`` of ``jax.vjp`` in JAX): a custom rule whose backward is computed with
detached or non-differentiable operations gives correct first-order values and wrong
second-order ones.
"""

from __future__ import annotations

from typing import Callable

from .case import Case


def vjp_map(case: Case) -> tuple[Callable, tuple]:
    """(map function, its arguments) with arguments ``(*wrt inputs, *cotangents)``."""
    n = len(case.wrt)
    keep = [k for k, d in enumerate(case.output_differentiable) if d]
    fixed = case.fresh_args()
    if case.framework == "torch":
        import torch

        def torch_vjp_map(*xs_vs):
            xs, vs = xs_vs[:n], xs_vs[n:]
            with torch.enable_grad():
                # never detach: that would drop a forward-mode tangent (forward-over-reverse)
                xs = [x if x.requires_grad else x.requires_grad_() if x.is_leaf else x.clone().requires_grad_() for x in xs]
                outs = case.call(case.substitute(fixed, xs))
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

        def jax_vjp_map(*xs_vs):
            xs, vs = xs_vs[:n], xs_vs[n:]

            def f(*p):
                outs = case.call(case.substitute(fixed, p))
                return tuple(outs[k] for k in keep)

            _, pullback = jax.vjp(f, *xs)
            return tuple(pullback(tuple(vs)))

        fn = jax_vjp_map
    fn.__qualname__ = fn.__name__ = f"vjp_map[{case.name}]"
    args = tuple(case.backend.copy(case.args[i]) for i in case.wrt) + tuple(
        case.backend.copy(case.cotangents[k]) for k in keep
    )
    return fn, args
