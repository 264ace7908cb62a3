"""AD of the primal: a custom rule's forward differentiated by the framework's own AD.

For ``MyFunction.apply`` (``torch.autograd.Function``) the forward is called directly
(with a stand-in ``ctx`` for old-style functions) on inputs that require grad; for
``jax.custom_vjp`` / ``jax.custom_jvp`` the undecorated primal ``fn.fun`` is used. Either
way the built-in AD, not the custom rule, computes vᵀJ: an oracle independent of the rule
that works where finite differences are weak (large inputs, float32 precision bugs).
If the forward is not differentiable by the framework (NumPy inside, ``no_grad``), the
oracle reports ``unavailable``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from .._engine.case import Case
from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable


class PrimalAD(Oracle):
    """Built-in reverse-mode AD of ``primal`` (the same math as the function under test)."""

    kind = "vector"

    def __init__(self, framework: str, primal: Callable, role: str = "primal"):
        self.framework = framework
        self.name = f"{framework}.{role}"  # "gradient_of": the declared gradient's function
        self.rule = f"{framework}-{role}"
        self.primal = primal

    def compute(self, case: Case, ctx: OracleContext, result: OracleResult) -> None:
        primal_case = dataclasses.replace(case, fn=self.primal)
        from . import make_oracles

        inner = make_oracles([case.backend.builtin_vjp_oracle], case.framework)[0]
        inner.require_traced(primal_case)
        sub = inner.run(primal_case, ctx)
        if sub.status == "error":
            raise OracleUnavailable(f"the {self.name.split('.', 1)[1]} could not be differentiated by built-in AD: {sub.message[:200]}")
        result.status, result.grads, result.findings = sub.status, sub.grads, []
        result.message = sub.message
