"""``torch.func.vmap`` over ``torch.func.vjp``: PyTorch's batching rules for the backward,
each batch entry against its VJP computed alone (see :mod:`.batching`)."""

from __future__ import annotations

import torch

from ..base import Oracle, OracleContext
from ..torch_common import canonical_grads, functional_pullback, functorch_unsupported, prepare
from .batching import BATCH, batch_findings, sign_flips


class TorchVmap(Oracle):
    name = "torch.vmap"
    framework = "torch"
    rule = "torch-reverse@vmap"
    applies_to_order2 = False  # the order-2 map calls torch.autograd.grad inside

    def unsupported(self, exc):
        return functorch_unsupported(exc)

    def compute(self, case, ctx: OracleContext, result) -> None:
        fresh, _ = prepare(case)
        keep = [k for k, d in enumerate(case.output_differentiable) if d]

        pullback = functional_pullback(case, fresh.args, keep)
        primals = tuple(fresh.args[i].detach() for i in case.wrt)
        cotangents = [fresh.cotangents[k] for k in keep]
        flips = sign_flips(case, keep, ctx.rng(0x7A3))
        entries = [tuple(cotangents)] + [
            tuple(c * case.backend.from_numpy(s, case.cotangent_infos[k].dtype, str(c.device)) for c, s, k in zip(cotangents, signs, keep))
            for signs in flips
        ]
        batched = torch.func.vmap(pullback)(
            tuple(torch.stack([p] * BATCH) for p in primals),
            tuple(torch.stack([e[j] for e in entries]) for j in range(len(keep))),
        )
        per_entry = [[g[b] for g in batched] for b in range(BATCH)]
        result.grads = canonical_grads(case, per_entry[0], result)
        alone = [canonical_grads(case, pullback(primals, e), result) for e in entries[1:]]
        got = [canonical_grads(case, g, result) for g in per_entry[1:]]
        result.findings.extend(batch_findings(self.name, self.rule, case, ctx.options, got, alone))
        result.findings.extend(fresh.findings(self.name))
