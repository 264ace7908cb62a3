"""Forward mode (``torch.autograd.forward_ad``): ⟨v, J u⟩ for random tangents u.

Compared with ⟨vᵀJ, u⟩ of every other oracle (the dot-product identity), so it needs no
finite differences and catches rules that are wrong in one mode only.
"""

from __future__ import annotations

import warnings

import torch.autograd.forward_ad as fwAD

from .._engine.results import OracleResult
from .base import Oracle, OracleContext
from .forward_mode import draw_tangents, projection
from .inputs import FreshInputs


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
        with warnings.catch_warnings():
            # PyTorch's first forward-mode call scripts its jvp decompositions with the
            # deprecated torch.jit.script: its warning is PyTorch's, not the user's
            warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated", category=DeprecationWarning)
            self._projections(case, ctx, result)

    def _projections(self, case, ctx: OracleContext, result: OracleResult) -> None:
        for p in range(ctx.projections):
            # one projection per call: its inputs, tangents and outputs are freed before the
            # next one allocates its own (at 1e7 entries each is 80 MB)
            self._projection(case, ctx, p, result)

    def _projection(self, case, ctx: OracleContext, p: int, result: OracleResult) -> None:
        fresh = FreshInputs(case, cotangents=False)
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
            del tangents
            outputs = case.call(args)
            tangent_outputs = [(k, fwAD.unpack_dual(y).tangent) for k, y in enumerate(outputs) if case.output_differentiable[k]]
            del outputs, args  # the primal outputs and the dual inputs: only the tangents are read
            result.projections.append(projection(case, used, [(k, t) for k, t in tangent_outputs if t is not None]))
        result.findings.extend(fresh.findings(self.name))
