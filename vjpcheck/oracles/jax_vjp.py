"""``jax.vjp``, converted to the canonical convention with ``conj(vjp(conj(v)))``."""

from __future__ import annotations

import jax

from ..records import OracleResult
from .base import FreshInputs, Oracle, OracleContext
from .jax_common import call_jitted, conj, kept_outputs, precision, wrt_function


class JaxVjp(Oracle):
    name = "jax.vjp"
    framework = "jax"
    rule = "jax-reverse"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        with precision(case):
            fresh = FreshInputs(case)
            keep = kept_outputs(case)
            f = wrt_function(case, fresh.args, keep)
            primals = [fresh.args[i] for i in case.wrt]

            def pullback(primals, cotangents):
                _, vjp_fn = jax.vjp(f, *primals)
                return [conj(g) for g in vjp_fn(tuple(conj(c) for c in cotangents))]

            grads = call_jitted(pullback, primals, [fresh.cotangents[k] for k in keep])
            result.grads = [case.backend.to_numpy(g) for g in grads]
            result.findings.extend(fresh.findings(self.name))
