"""The same backward on the CPU: the CPU-vs-CUDA comparison for cases on a GPU.

The inputs and the cotangent are copied to the CPU in the case's own dtype and pulled back
with ``torch.autograd.grad``. A GPU kernel whose backward disagrees with its CPU twin
beyond the dtype's tolerance (TF32 included, see ``vjpcheck._engine.tolerance``) is a finding. Its
rule differs from ``torch.backward``'s: devices may break ties differently at kinks.
"""

from __future__ import annotations

import torch

from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable
from .torch_common import differentiable_pairs


class TorchCpu(Oracle):
    name = "torch.cpu"
    framework = "torch"
    rule = "torch-cpu"

    def unsupported(self, exc):
        text = str(exc)
        if isinstance(exc, RuntimeError) and "device" in text and ("same device" in text or "Expected" in text):
            return "the function keeps tensors on its own device (closure or constant): " + text.strip().splitlines()[0][:200]
        return None

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        if not case.device.startswith("cuda"):
            raise OracleUnavailable("the case is on the CPU already")
        args = []
        xs = []
        for i, (a, info) in enumerate(zip(case.args, case.arg_infos)):
            if info is None:
                args.append(a)
                continue
            copy = a.detach().to("cpu", copy=True)
            if i in case.wrt:
                copy.requires_grad_(True)
                xs.append(copy)
            args.append(copy)
        cotangents = [None if c is None else c.detach().to("cpu", copy=True) for c in case.cotangents]
        ys, vs = differentiable_pairs(case, case.call(args), cotangents)
        grads = torch.autograd.grad(ys, xs, grad_outputs=vs, allow_unused=True) if ys else [None] * len(xs)
        result.grads = [
            case.backend.to_numpy(g) if g is not None else case.backend.to_numpy(torch.zeros_like(x)) for g, x in zip(grads, xs)
        ]
        result.message = "CPU copies in the case's dtype (layouts made contiguous)"
