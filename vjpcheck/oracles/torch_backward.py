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


def _custom_nodes(roots, limit: int = 10000):
    seen, stack, found = set(), [r.grad_fn for r in roots if r.grad_fn is not None], []
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if hasattr(node, "_forward_cls"):
            found.append(node)
        stack.extend(fn for fn, _ in node.next_functions if fn is not None)
    return found


def _audit_custom_nodes(ys, result: OracleResult) -> list:
    handles = []
    for node in _custom_nodes(ys):
        cls = node._forward_cls.__name__

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
