"""Forward mode (``jax.jvp``): ⟨v, J u⟩ for random tangents u."""

from __future__ import annotations

import jax

from .._engine.structure import user_function
from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable
from .forward_mode import draw_tangents, projection
from .inputs import FreshInputs
from .jax_common import kept_outputs, other_arrays, precision, run_compiled, stable_jit


class JaxForward(Oracle):
    name = "jax.forward"
    framework = "jax"
    rule = "jax-forward"
    kind = "projection"

    def unsupported(self, exc):
        text = str(exc)
        if "forward-mode" in text or "custom_vjp" in text:
            return "forward mode not available: " + text.strip().splitlines()[0][:200]
        return None

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        if case.backend.is_custom_vjp(user_function(case.fn)):
            raise OracleUnavailable("forward mode is not defined for a jax.custom_vjp function")
        with precision(case):
            keep = kept_outputs(case)
            fresh = FreshInputs(case, cotangents=False)  # jax arrays are immutable: one private copy serves all
            primals = [fresh.args[i] for i in case.wrt]
            others = other_arrays(case, fresh.args)

            def build(call_with):
                def jvp(p, o, t):
                    def f(*q):
                        outs = call_with(q, o)
                        return tuple(outs[k] for k in keep)

                    return jax.jvp(f, tuple(p), tuple(t))[1]

                return jvp

            compiled = stable_jit(case, "jvp", build)
            for p in range(ctx.projections):
                tangents, used = draw_tangents(case, ctx, p)
                t_out = run_compiled(compiled, primals, others, tangents)
                result.projections.append(projection(case, used, zip(keep, t_out)))
            result.findings.extend(fresh.findings(self.name))
