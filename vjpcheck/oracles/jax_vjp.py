"""``jax.vjp``, converted to the canonical convention with ``conj(vjp(conj(v)))``."""

from __future__ import annotations

import jax

from .._engine.results import OracleResult
from .base import Oracle, OracleContext
from .inputs import FreshInputs
from .jax_common import conj, kept_outputs, other_arrays, precision, run_compiled, stable_jit


def pullback_builder(keep: list[int]):
    """``build`` for :func:`stable_jit`: ``(primals, others, cotangents) ↦ vᵀJ`` of the
    kept outputs, in the canonical (conjugated) convention."""

    def build(call_with):
        def pullback(primals, others, cotangents):
            def f(*p):
                outs = call_with(p, others)
                return tuple(outs[k] for k in keep)

            _, vjp_fn = jax.vjp(f, *primals)
            return [conj(g) for g in vjp_fn(tuple(conj(c) for c in cotangents))]

        return pullback

    return build


class JaxVjp(Oracle):
    """``jax.vjp`` under ``jax.jit`` (compiled once per signature; eager where the function
    cannot be traced)."""

    name = "jax.vjp"
    framework = "jax"
    rule = "jax-reverse"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        with precision(case):
            fresh = FreshInputs(case)
            keep = kept_outputs(case)
            jitted, eager = stable_jit(case, "vjp", pullback_builder(keep))
            primals = [fresh.args[i] for i in case.wrt]
            cts = [fresh.cotangents[k] for k in keep]
            grads = self.pullback(jitted, eager, primals, other_arrays(case, fresh.args), cts)
            result.grads = [case.backend.to_numpy(g) for g in grads]
            result.findings.extend(fresh.findings(self.name))

    def pullback(self, jitted, eager, *args):
        return run_compiled((jitted, eager), *args)
