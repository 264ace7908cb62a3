"""Forward mode (``torch.autograd.forward_ad``): ⟨v, J u⟩ for random tangents u.

Compared with ⟨vᵀJ, u⟩ of every other oracle (the dot-product identity), so it needs no
finite differences and catches rules that are wrong in one mode only.
"""

from __future__ import annotations

import torch.autograd.forward_ad as fwAD

from ..numeric import abs_inner, real_inner
from ..records import OracleResult, Projection
from .base import FreshInputs, Oracle, OracleContext, draw_tangents


class TorchForward(Oracle):
    name = "torch.forward"
    framework = "torch"
    rule = "torch-forward"
    kind = "projection"

    def unsupported(self, exc):
        text = str(exc)
        if isinstance(exc, (NotImplementedError, RuntimeError)) and (
            "jvp" in text or "forward AD" in text or "forward-mode" in text or "forward mode" in text
        ):
            return "forward-mode AD not implemented here: " + text.strip().splitlines()[0][:200]
        return None

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        for p in range(ctx.projections):
            fresh = FreshInputs(case)
            tangents, used = draw_tangents(case, ctx, p)
            with fwAD.dual_level():
                args = list(fresh.args)
                for i, t in zip(case.wrt, tangents):
                    primal = args[i]
                    if 0 in primal.stride() and primal.numel() > 1:
                        # a tangent cannot alias like an expanded primal: give it dense storage
                        primal = primal.contiguous()
                        if "expanded" not in result.message:
                            result.message = "expanded (stride-0) inputs made dense for forward mode"
                    args[i] = fwAD.make_dual(primal, t)
                outputs = case.call(args)
                value, scale = 0.0, 0.0
                for y, v, diff in zip(outputs, case.v, case.output_differentiable):
                    if not diff:
                        continue
                    t_out = fwAD.unpack_dual(y).tangent
                    if t_out is None:
                        continue
                    t_np = case.backend.to_numpy(t_out)
                    value += real_inner(v, t_np)
                    scale += abs_inner(v, t_np)
            result.projections.append(Projection(tangents=used, value=value, scale=scale))
            result.findings.extend(fresh.findings(self.name))
