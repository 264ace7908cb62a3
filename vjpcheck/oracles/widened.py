"""The rule under test in float64: the first stage of checking a low-precision case.

In probe mode a float32 (or float16/bfloat16) case cannot be checked against finite
differences directly: the rounding bound of a probe sums over every entry, so an error of
hundreds of times ‖vᵀJ‖ could escape. Instead the same function and rule run on float64
copies of the arguments and cotangent (complex128 for complex64): that result is checked
against the finite-difference probes under float64's bound, and the low-precision result
against it entry by entry under the case dtype's bound.
"""

from __future__ import annotations

from .._engine.case import Case, ForwardError, build_case
from .._engine.results import OracleResult
from .base import Oracle, OracleContext, OracleUnavailable

LOW_PRECISION = {"float32": "float64", "float16": "float64", "bfloat16": "float64", "complex64": "complex128"}


def needs_widening(case: Case) -> bool:
    return any(info.dtype in LOW_PRECISION for info in case.wrt_infos)


class WidenedRule(Oracle):
    """The framework's reverse mode (the rule under test) on float64 copies of the case."""

    kind = "vector"
    applies_to_order2 = False

    def __init__(self, framework: str):
        self.framework = framework
        self.name = f"{framework}.float64"
        self.rule = f"{framework}-widened"

    def compute(self, case: Case, ctx: OracleContext, result: OracleResult) -> None:
        from . import make_oracles

        backend = case.backend
        args = list(case.args)
        for i in case.wrt:
            info = case.arg_infos[i]
            args[i] = backend.from_numpy(case.arg_values[i], LOW_PRECISION.get(info.dtype, info.dtype), info.device)
        cots = [
            None if values is None else backend.from_numpy(values, LOW_PRECISION.get(info.dtype, info.dtype), info.device)
            for values, info in zip(case.v, case.output_infos)
        ]
        v = cots[0] if case.single_output else tuple(cots)
        try:
            wide = build_case(case.fn, tuple(args), v=v, wrt=case.wrt, framework=case.framework, seed=case.seed)
        except (ForwardError, ValueError, TypeError) as exc:
            raise OracleUnavailable(f"the function does not run in float64: {str(exc).splitlines()[0][:200]}") from None
        inner = make_oracles([backend.builtin_vjp_oracle], case.framework)[0]
        sub = inner.run(wide, ctx)
        if not sub.ok:
            raise OracleUnavailable(f"its reverse mode failed in float64: {sub.message[:200]}")
        result.grads, result.wide = sub.grads, True
