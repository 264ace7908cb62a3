"""``torch.func.vjp`` (functorch)."""

from __future__ import annotations

from .._engine.results import OracleResult
from .base import Oracle, OracleContext
from .torch_common import canonical_grads, functional_pullback, functorch_unsupported, prepare


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
        pullback = functional_pullback(case, fresh.args, keep)
        grads = pullback([x.detach() for x in xs], [fresh.cotangents[k] for k in keep])
        result.grads = canonical_grads(case, grads, result)
        result.findings.extend(fresh.findings(self.name))
