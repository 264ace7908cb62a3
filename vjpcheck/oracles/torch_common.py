"""Helpers shared by the PyTorch oracles."""

from __future__ import annotations

import numpy as np
import torch

from .._engine.case import Case
from .._engine.results import Finding, OracleResult
from .inputs import FreshInputs


def prepare(case: Case) -> tuple[FreshInputs, list[torch.Tensor]]:
    """Private copies of the inputs, the differentiated ones as fresh leaves."""
    fresh = FreshInputs(case)
    xs = []
    for i in case.wrt:
        fresh.args[i].requires_grad_(True)
        xs.append(fresh.args[i])
    return fresh, xs


def forward(case: Case) -> tuple[FreshInputs, list[torch.Tensor], list, list]:
    """Fresh leaves, one forward: (copies, differentiated leaves, outputs to pull back
    through, their cotangents). The shared start of every reverse-mode torch oracle."""
    fresh, xs = prepare(case)
    ys, vs = differentiable_pairs(case, case.call(fresh.args), fresh.cotangents)
    return fresh, xs, ys, vs


def functional_pullback(case: Case, args: list, keep: list[int]):
    """``(primals, cotangents) ↦ vᵀJ`` through ``torch.func.vjp`` of the case's function
    of its differentiated arguments (the others taken from ``args``), kept outputs only."""

    def f_wrt(*primals):
        outs = case.call(case.substitute(args, primals))
        return tuple(outs[k] for k in keep)

    def pullback(primals, cotangents):
        _, vjp_fn = torch.func.vjp(f_wrt, *primals)
        return vjp_fn(tuple(cotangents))

    return pullback


def differentiable_pairs(case: Case, outputs: list, cotangents: list) -> tuple[list, list]:
    """(outputs, cotangents) for the differentiable outputs that depend on the inputs."""
    ys, vs = [], []
    for y, v, diff in zip(outputs, cotangents, case.output_differentiable):
        if diff and isinstance(y, torch.Tensor) and y.requires_grad:
            ys.append(y)
            vs.append(v)
    return ys, vs


def canonical_grads(case: Case, grads, result: OracleResult) -> list[np.ndarray]:
    """None → zeros; dtype and device checked against the inputs; NumPy out."""
    out = []
    for k, (g, info) in enumerate(zip(grads, case.wrt_infos)):
        if g is None:
            out.append(np.zeros(info.shape, dtype=np.complex128 if info.dtype.startswith("complex") else np.float64))
            continue
        if str(g.device) != info.device:
            result.findings.append(
                Finding(
                    kind="wrong-device",
                    oracle=result.name,
                    message=f"{result.name}: gradient for argument {case.wrt[k]} is on {g.device}, input on {info.device}",
                )
            )
        out.append(case.backend.to_numpy(g))
    return out


FUNCTORCH_UNSUPPORTED = (
    "setup_context",
    "functorch",
    "vmap",
    "torch.func",
    "not supported with",
    "does not support",
)


def functorch_unsupported(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, (RuntimeError, NotImplementedError)) and any(s in text for s in FUNCTORCH_UNSUPPORTED):
        return "torch.func cannot transform this function: " + text.strip().splitlines()[0][:200]
    return None
