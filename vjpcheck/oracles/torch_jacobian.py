"""The explicit Jacobian (``torch.autograd.functional.jacobian``) contracted with v.

Each block ``J[out][arg]`` has shape ``out.shape + arg.shape`` (a 1×2 input and 1×2 output
give a 1×2×1×2 block); it is read as an (out.size × arg.size) matrix, multiplied by the
flattened cotangent and reshaped to the argument's shape. Complex cases use the realified
function (``view_as_real``), whose Jacobian is a real matrix over (Re, Im) pairs.
"""

from __future__ import annotations

import numpy as np
import torch

from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable
from .jacobian import any_complex, contract_jacobian, realified_rows_contract, require_jacobian_size
from .torch_common import prepare


class TorchJacobian(Oracle):
    auxiliary = True
    name = "torch.jacobian"
    framework = "torch"
    rule = "torch-reverse"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        require_jacobian_size(case, ctx)
        fresh, xs = prepare(case)
        keep = [k for k, d in enumerate(case.output_differentiable) if d]
        primals = tuple(x.detach() for x in xs)

        if not any_complex(case):

            def f_wrt(*p):
                outs = case.call(case.substitute(fresh.args, p))
                return tuple(outs[k] for k in keep)

            blocks = torch.autograd.functional.jacobian(f_wrt, primals, vectorize=False)
            blocks = [[case.backend.to_numpy(b) for b in per_out] for per_out in blocks]
            result.grads, result.jacobian = contract_jacobian(blocks, case)
        else:
            if any(p.is_complex() and not _whole_storage(p) for p in primals):
                raise OracleUnavailable(
                    "the realified Jacobian (view_as_real) cannot keep a complex input's view layout (strides, "
                    "storage offset, a larger base): it would differentiate another function; the other oracles check it"
                )
            real_primals = tuple(torch.view_as_real(p.resolve_conj()).clone() if p.is_complex() else p for p in primals)

            def f_real(*rp):
                p = [torch.view_as_complex(r.contiguous()) if x.is_complex() else r for r, x in zip(rp, primals)]
                outs = case.call(case.substitute(fresh.args, p))
                flat = []
                for k in keep:
                    y = outs[k]
                    flat.append((torch.view_as_real(y.resolve_conj()) if y.is_complex() else y).reshape(-1))
                return torch.cat(flat) if len(flat) > 1 else flat[0]

            blocks = torch.autograd.functional.jacobian(f_real, real_primals, vectorize=False)
            rows_m = np.concatenate([case.backend.to_numpy(b).reshape(b.shape[0], -1) for b in blocks], axis=1)
            result.grads = realified_rows_contract(rows_m, case)
            result.jacobian = rows_m
        result.findings.extend(fresh.findings(self.name))


def _whole_storage(t: torch.Tensor) -> bool:
    """Contiguous, at offset 0, and all of its storage (nothing a function could read past)."""
    elements = t.untyped_storage().nbytes() // t.element_size()
    return t.is_contiguous() and t.storage_offset() == 0 and elements == t.numel()
