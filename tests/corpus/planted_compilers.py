"""``torch.compile`` backends and batching rules for tests of the transform oracles.

Each compiler is AOTAutograd (the traced, decomposed forward and backward graphs of
``torch.compile``) with a backward compiler that rewrites one kernel of the backward graph;
the planted ones rewrite it wrongly under one condition, as real compiler bugs do, and
:func:`faithful` compiles the graphs as they are (it must pass wherever eager passes).
"""

from __future__ import annotations

import torch
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd

aten = torch.ops.aten


def _backend(name: str, rewrite):
    def compile_backward(gm: torch.fx.GraphModule, example_inputs):
        rewrite(gm.graph)
        gm.recompile()
        return make_boxed_func(gm.forward)

    backend = aot_autograd(fw_compiler=lambda gm, _: make_boxed_func(gm.forward), bw_compiler=compile_backward)
    backend.__name__ = name
    return backend


def _replace(graph: torch.fx.Graph, target, replacement) -> None:
    for node in graph.nodes:
        if node.op == "call_function" and node.target == target:
            node.target = replacement


faithful = _backend("faithful", lambda graph: None)


def _mean_for_sum(x, dims, keepdim=False, dtype=None):
    """The reduction of a broadcast input's gradient, averaged instead of summed."""
    return aten.mean.dim(x, dims, keepdim, dtype=dtype) if keepdim else aten.sum.dim_IntList(x, dims, keepdim, dtype=dtype)


#: wrong only where the backward reduces a broadcast dimension (an input of size 1 along a
#: dimension the output has longer): the keepdim sums of ``sum_to_size``
broadcast_mean = _backend("broadcast_mean", lambda graph: _replace(graph, aten.sum.dim_IntList, _mean_for_sum))


def _mul_wrong_at_zero(a, b):
    """A product whose kernel special-cases a zero operand and returns the other one."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return aten.mul.Tensor(a, b)
    return torch.where((a == 0) | (b == 0), a + b, a * b)


#: wrong only where a backward product meets an exact zero (a saved input or output)
wrong_at_zero = _backend("wrong_at_zero", lambda graph: _replace(graph, aten.mul.Tensor, _mul_wrong_at_zero))


class ScaleKernel(torch.autograd.Function):
    """``g · w`` as a 'kernel' with its own batching rule; ``flip_batch=True`` plants a rule
    that returns the batch entries in reverse order (right without vmap, and at entry 0 of
    a batch whose entries are equal)."""

    generate_vmap_rule = False
    flip_batch = False

    @staticmethod
    def forward(g, w):
        return g * w

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def vmap(info, in_dims, g, w):
        gd, wd = in_dims
        g = g.movedim(gd, 0) if gd is not None else g.unsqueeze(0).expand(info.batch_size, *g.shape)
        w = w.movedim(wd, 0) if wd is not None else w.unsqueeze(0).expand(info.batch_size, *w.shape)
        out = g * w
        return (out.flip(0) if ScaleKernel.flip_batch else out), 0


class Cube(torch.autograd.Function):
    """x³ whose backward multiplies by 3x² through :class:`ScaleKernel`."""

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ScaleKernel.apply(g, 3 * x * x)

    @staticmethod
    def vmap(info, in_dims, x):
        return Cube.apply(x), in_dims[0]


def cube(x):
    return Cube.apply(x)
