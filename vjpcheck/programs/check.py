"""Check one drawn program: PyTorch vs JAX vs finite differences of the NumPy lowering."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from .._engine.check import check_vjp
from .._engine.recording import silenced
from .._engine.verdict import Verdict
from .generate import ProgramCase

#: every program is checked by these: PyTorch's backward and forward mode, JAX's VJP, and
#: finite differences of the NumPy float64 lowering (independent of both frameworks)
PROGRAM_ORACLES = ("finite_differences", "torch.backward", "torch.forward", "jax.vjp")


def check_program(case: ProgramCase, oracles: Sequence[str] = PROGRAM_ORACLES, seed: int = 0, device: str = "cpu", transforms: Sequence[str] = (), compile_backend: Any = None) -> Verdict:
    """The verdict of :func:`vjpcheck.check_vjp` on the PyTorch lowering, with the JAX
    lowering as its twin and the NumPy lowering as the finite-difference reference.
    ``device="cuda"`` puts the inputs on the GPU (JAX's too, when it has one); the
    CPU-vs-CUDA oracle ``torch.cpu`` then joins. ``transforms`` (``compile``, ``vmap``, …)
    add their oracles in both frameworks; ``compile_backend`` replaces Inductor."""
    program = case.program
    if device != "cpu":
        oracles = list(oracles) + ["torch.cpu"]
    args = [dataclasses.replace(a, device=device).to("torch") for a in case.inputs]
    with silenced():  # the callers (runner, vjpcheck run) record programs themselves
        verdict = check_vjp(
            program.lower("torch"),
            *args,
            v=dataclasses.replace(case.cotangent, device=device).to("torch"),
            twin=program.lower("jax"),
            reference=program.lower("numpy"),
            oracles=list(oracles),
            seed=seed,
            transforms=tuple(transforms),
            compile_backend=compile_backend,
        )
    verdict.function = program.name()
    verdict.case["program"] = program.to_dict()
    verdict.case["source"] = program.source()
    return verdict
