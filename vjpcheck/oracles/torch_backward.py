"""``y.backward(v)`` then ``x.grad``: the way users compute gradients.

Also audits every custom ``autograd.Function`` node on the way: PyTorch silently sums a
gradient that is expandable to the input's shape and casts a wrong dtype, so the raw
outputs of each custom backward are re-read through a node hook and compared with what
the engine accepted.
"""

from __future__ import annotations

import torch

from .._engine.results import Finding, OracleResult
from .base import Oracle, OracleContext
from ..frameworks import backend_named
from .torch_common import canonical_grads, forward


class TorchBackward(Oracle):
    name = "torch.backward"
    framework = "torch"
    rule = "torch-reverse"

    def compute(self, case, ctx: OracleContext, result: OracleResult) -> None:
        fresh, xs, ys, vs = forward(case)
        handles = _audit_custom_nodes(ys, result)
        try:
            if len(ys) == 1:
                ys[0].backward(vs[0])
            elif ys:
                torch.autograd.backward(ys, grad_tensors=vs)
        finally:
            for h in handles:
                h.remove()
        result.grads = canonical_grads(case, [x.grad for x in xs], result)
        result.findings.extend(fresh.findings(self.name))


def _audit_custom_nodes(ys, result: OracleResult) -> list:
    handles = []
    backend = backend_named("torch")
    for node in backend.custom_function_nodes(ys):
        cls = backend.forward_class_name(node)

        def hook(grad_inputs, grad_outputs, node=node, cls=cls):
            try:
                with torch.no_grad():
                    raw = node.apply(*[g.clone() if g is not None else None for g in grad_outputs])
            except Exception:
                return None  # the real call succeeded; an audit failure is not a finding
            raw = raw if isinstance(raw, tuple) else (raw,)
            for k, (r, g) in enumerate(zip(raw, grad_inputs)):
                if r is None or g is None or not isinstance(r, torch.Tensor):
                    continue
                if r.shape != g.shape:
                    result.findings.append(
                        Finding(
                            kind="wrong-shape",
                            oracle=result.name,
                            message=(
                                f"custom backward of {cls} returned a gradient of shape {tuple(r.shape)} "
                                f"for its input {k}, whose shape is {tuple(g.shape)}; PyTorch silently "
                                "sum-reduced it (JAX would reject it)"
                            ),
                        )
                    )
                elif r.dtype != g.dtype:
                    result.findings.append(
                        Finding(
                            kind="wrong-dtype",
                            oracle=result.name,
                            message=(
                                f"custom backward of {cls} returned a {r.dtype} gradient for its input {k}, "
                                f"which is {g.dtype}; PyTorch silently cast it"
                            ),
                        )
                    )
            return None

        handles.append(node.register_hook(hook))
    return handles
