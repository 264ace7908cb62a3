"""``jax.vmap`` of ``jax.vjp`` (under ``jax.jit``): JAX's batching rules for the backward,
each batch entry against its VJP computed alone (see :mod:`.batching`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..base import Oracle, OracleContext
from ..inputs import FreshInputs
from ..jax_common import kept_outputs, other_arrays, precision, run_compiled, stable_jit
from ..jax_vjp import pullback_builder
from .batching import BATCH, batch_findings, sign_flips


class JaxVmap(Oracle):
    name = "jax.vmap"
    framework = "jax"
    rule = "jax-reverse@vmap"
    applies_to_order2 = False

    def compute(self, case, ctx: OracleContext, result) -> None:
        with precision(case):
            fresh = FreshInputs(case)
            keep = kept_outputs(case)
            build = pullback_builder(keep)

            def batched_build(call_with):
                return jax.vmap(build(call_with), in_axes=(0, None, 0))

            primals = [fresh.args[i] for i in case.wrt]
            others = other_arrays(case, fresh.args)
            cotangents = [fresh.cotangents[k] for k in keep]
            flips = sign_flips(case, keep, ctx.rng(0x7A3))
            entries = [cotangents] + [[c * jnp.asarray(s, dtype=c.dtype) for c, s in zip(cotangents, signs)] for signs in flips]
            batched = run_compiled(
                stable_jit(case, "vmap-vjp", batched_build),
                [jnp.stack([p] * BATCH) for p in primals],
                others,
                [jnp.stack([e[j] for e in entries]) for j in range(len(keep))],
            )
            to_numpy = case.backend.to_numpy
            per_entry = [[to_numpy(g[b]) for g in batched] for b in range(BATCH)]
            result.grads = per_entry[0]
            single = stable_jit(case, "vjp", build)
            alone = [[to_numpy(g) for g in run_compiled(single, primals, others, e)] for e in entries[1:]]
            result.findings.extend(batch_findings(self.name, self.rule, case, ctx.options, per_entry[1:], alone))
            result.findings.extend(fresh.findings(self.name))
