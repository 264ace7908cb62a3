"""The explicit ``jax.jacrev`` Jacobian contracted with v (realified for complex cases)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._engine.results import OracleResult
from .base import Oracle, OracleContext
from .inputs import FreshInputs
from .jacobian import any_complex, contract_jacobian, realified_rows_contract, require_jacobian_size
from .jax_common import kept_outputs, other_arrays, precision, run_compiled, stable_jit


class JaxJacobian(Oracle):
    auxiliary = True
    name = "jax.jacobian"
    framework = "jax"
    rule = "jax-reverse"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        require_jacobian_size(case, ctx)
        with precision(case):
            fresh = FreshInputs(case)
            keep = kept_outputs(case)
            primals = [fresh.args[i] for i in case.wrt]
            argnums = tuple(range(len(primals)))
            others = other_arrays(case, fresh.args)
            if not any_complex(case):

                def build(call_with):
                    def jac(p, o):
                        def f(*q):
                            outs = call_with(q, o)
                            return tuple(outs[k] for k in keep)

                        return jax.jacrev(f, argnums=argnums)(*p)

                    return jac

                blocks = run_compiled(stable_jit(case, "jacrev", build), primals, others)
                blocks = [[case.backend.to_numpy(b) for b in per_out] for per_out in blocks]
                result.grads, result.jacobian = contract_jacobian(blocks, case)
            else:
                is_c = tuple(bool(jnp.iscomplexobj(p)) for p in primals)
                real_primals = [jnp.stack([p.real, p.imag], -1) if c else p for p, c in zip(primals, is_c)]

                def build(call_with):
                    def jac(rp_all, o):
                        def f_real(*rp):
                            p = [r[..., 0] + 1j * r[..., 1] if c else r for r, c in zip(rp, is_c)]
                            outs = call_with(p, o)
                            flat = []
                            for k in keep:
                                y = outs[k]
                                flat.append((jnp.stack([y.real, y.imag], -1) if jnp.iscomplexobj(y) else y).reshape(-1))
                            return jnp.concatenate(flat)

                        return jax.jacrev(f_real, argnums=argnums)(*rp_all)

                    return jac

                blocks = run_compiled(stable_jit(case, f"jacrev-realified{is_c}", build), real_primals, others)
                rows_m = np.concatenate([np.asarray(b, dtype=np.float64).reshape(b.shape[0], -1) for b in blocks], axis=1)
                result.grads = realified_rows_contract(rows_m, case)
                result.jacobian = rows_m
            result.findings.extend(fresh.findings(self.name))
