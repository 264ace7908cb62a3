"""``torch.func.vjp`` (functorch)."""

from __future__ import annotations

import torch

from .._engine.results import OracleResult
from .base import Oracle, OracleContext
from .torch_common import canonical_grads, functorch_unsupported, prepare


class TorchFuncVjp(Oracle):
    auxiliary = True
    name = "torch.func.vjp"
    framework = "torch"
    rule = "torch-reverse"
    applies_to_order2 = False  # the order-2 map calls torch.autograd.grad inside

    def unsupported(self, exc):
        return functorch_unsupported(exc)

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        fresh, xs = prepare(case)
        keep = [k for k, d in enumerate(case.output_differentiable) if d]

        def f_wrt(*primals):
            outs = case.call(case.substitute(fresh.args, primals))
            return tuple(outs[k] for k in keep)

        primals = [x.detach() for x in xs]
        _, vjp_fn = torch.func.vjp(f_wrt, *primals)
        grads = vjp_fn(tuple(fresh.cotangents[k] for k in keep))
        result.grads = canonical_grads(case, grads, result)
        result.findings.extend(fresh.findings(self.name))
