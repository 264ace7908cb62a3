"""Forward mode (``jax.jvp``): ⟨v, J u⟩ for random tangents u."""

from __future__ import annotations

import jax

from ..numeric import abs_inner, real_inner
from ..records import OracleResult, Projection
from .base import FreshInputs, Oracle, OracleContext, draw_tangents
from .jax_common import kept_outputs, precision, wrt_function


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
        with precision(case):
            keep = kept_outputs(case)
            fresh = FreshInputs(case)  # jax arrays are immutable: one private copy serves all
            f = wrt_function(case, fresh.args, keep)
            primals = [fresh.args[i] for i in case.wrt]

            def jvp(p, t):
                return jax.jvp(f, tuple(p), tuple(t))[1]

            jitted = jax.jit(jvp)
            for p in range(ctx.projections):
                tangents, used = draw_tangents(case, ctx, p)
                try:
                    t_out = jitted(primals, tangents)
                except Exception:
                    t_out = jvp(primals, tangents)  # not traceable: eagerly (its error propagates)
                value = sum(real_inner(case.v[k], case.backend.to_numpy(t)) for k, t in zip(keep, t_out))
                scale = sum(abs_inner(case.v[k], case.backend.to_numpy(t)) for k, t in zip(keep, t_out))
                result.projections.append(Projection(tangents=used, value=float(value), scale=float(scale)))
            result.findings.extend(fresh.findings(self.name))
