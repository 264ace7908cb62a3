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
from typing import Any, Callable

from .._engine.case import Case
from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable


class _CtxStandIn:
    """Enough of ``FunctionCtx`` for a forward to run outside ``apply``."""

    def __init__(self, n_inputs: int):
        self.needs_input_grad = (True,) * n_inputs
        self.saved_tensors = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        pass

    def mark_non_differentiable(self, *args):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = value


def primal_of(fn: Any) -> Callable | None:
    """The forward of a custom rule, to be differentiated by built-in AD (or None)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and getattr(fn, "__name__", "") == "apply":
        try:
            import torch
        except ImportError:  # pragma: no cover
            return None
        if issubclass(owner, torch.autograd.Function):
            new_style = owner.setup_context is not torch.autograd.Function.setup_context

            def torch_primal(*args):
                if new_style:
                    return owner.forward(*args)
                return owner.forward(_CtxStandIn(len(args)), *args)

            torch_primal.__qualname__ = torch_primal.__name__ = f"{owner.__qualname__}.forward"
            return torch_primal
    inner = getattr(fn, "fun", None)
    if inner is not None and type(fn).__name__ in ("custom_vjp", "custom_jvp"):
        return inner
    return None


class PrimalAD(Oracle):
    """Built-in reverse-mode AD of ``primal`` (the same math as the function under test)."""

    kind = "vector"

    def __init__(self, framework: str, primal: Callable):
        self.framework = framework
        self.name = f"{framework}.primal"
        self.rule = f"{framework}-primal"
        self.primal = primal

    def compute(self, case: Case, ctx: OracleContext, result: OracleResult) -> None:
        primal_case = dataclasses.replace(case, fn=self.primal)
        if case.framework == "torch":
            from .torch_autograd_grad import TorchAutogradGrad

            inner = TorchAutogradGrad()
            self._require_differentiable_torch(primal_case)
        else:
            from .jax_vjp import JaxVjp

            inner = JaxVjp()
        sub = inner.run(primal_case, ctx)
        if sub.status == "error":
            raise OracleUnavailable(f"the primal could not be differentiated by built-in AD: {sub.message[:200]}")
        result.status, result.grads, result.findings = sub.status, sub.grads, []
        result.message = sub.message

    @staticmethod
    def _require_differentiable_torch(case: Case) -> None:
        from .torch_common import forward

        _, _, ys, _ = forward(case)  # only outputs that require grad are kept
        if not ys:
            raise OracleUnavailable("the primal's output does not depend on its inputs through autograd (NumPy or no_grad inside)")
