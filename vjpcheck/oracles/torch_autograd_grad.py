"""``torch.autograd.grad(ys, xs, grad_outputs=v)``."""

from __future__ import annotations

import torch

from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable
from .torch_common import canonical_grads, forward


class TorchAutogradGrad(Oracle):
    name = "torch.autograd.grad"
    framework = "torch"
    rule = "torch-reverse"

    def require_traced(self, case) -> None:
        _, _, ys, _ = forward(case)  # only outputs that require grad are kept
        if not ys:
            raise OracleUnavailable("the primal's output does not depend on its inputs through autograd (NumPy or no_grad inside)")

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        fresh, xs, ys, vs = forward(case)
        grads = torch.autograd.grad(ys, xs, grad_outputs=vs, allow_unused=True) if ys else [None] * len(xs)
        result.grads = canonical_grads(case, grads, result)
        result.findings.extend(fresh.findings(self.name))
