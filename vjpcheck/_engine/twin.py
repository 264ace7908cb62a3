"""Independent implementations of the same function: a twin in the other framework and a
NumPy reference. Both must compute the same forward values as the function under test,
or their gradients cannot be expected to agree."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..frameworks import backend_named
from .case import Case, build_case, flatten_outputs
from .numeric import rounding_unit
from .results import Finding
from .tolerance import case_rtol


def twin_case(case: Case, twin: Callable) -> Case:
    """The case re-expressed for ``twin`` in the other framework (same values, same v)."""
    other = backend_named(case.backend.twin_framework)
    device = other.shared_device(case.device)
    args = [other.from_numpy(values, info.dtype, device) if info is not None else a for a, info, values in zip(case.args, case.arg_infos, case.arg_values)]
    cot = [other.from_numpy(v if v is not None else np.zeros(i.shape), i.dtype, device) for v, i in zip(case.v, case.output_infos)]
    cot_arg = cot[0] if case.single_output else tuple(cot)
    return build_case(twin, tuple(args), v=cot_arg, wrt=case.wrt, framework=other.name, seed=case.seed)


def reference_outputs(case: Case, reference: Callable) -> list[np.ndarray] | str:
    """The NumPy reference's forward values on the case's arguments (a message if it raised)."""
    try:
        with np.errstate(all="ignore"):
            return [np.asarray(o) for o in flatten_outputs(reference(*case.numpy_args()))]
    except Exception as exc:  # the user's reference: a finding, not a crash
        return f"the reference raised {type(exc).__name__}: {exc}"


def compare_forward_values(case: Case, other: list[np.ndarray] | str, who: str) -> list[Finding]:
    """Findings where the twin's or the reference's forward values differ from the case's."""
    if isinstance(other, str):
        return [Finding(kind="oracle-error", oracle=f"{who}.forward", message=other)]
    a, b = case.output_values, other
    if len(a) != len(b):
        return [Finding(kind="mismatch", oracle=f"{who}.forward", message=f"{len(a)} outputs vs the {who}'s {len(b)}")]
    tol = max(case_rtol(case), 1e-12) * 10
    # absolute floor: the inputs' magnitude (an output that cancels to ~0, e.g. the variance
    # of a constant, differs by rounding noise far below any real disagreement)
    input_scale = max((float(np.max(np.abs(x), initial=0.0)) for x in case.primals), default=0.0)
    underflow = 16 * max(rounding_unit(d)[1] for d in case.dtypes)  # subnormal results (silu(2e-308))
    out = []
    for k, (ya, yb) in enumerate(zip(a, b)):
        if ya.shape != yb.shape:
            out.append(Finding(kind="mismatch", oracle=f"{who}.forward", message=f"output {k}: shape {ya.shape} vs {who} {yb.shape}"))
        elif not np.allclose(ya, yb, rtol=tol, atol=tol * max(float(np.max(np.abs(ya), initial=0.0)), input_scale) + underflow, equal_nan=True):
            out.append(Finding(kind="mismatch", oracle=f"{who}.forward", message=f"output {k}: forward values differ from the {who}'s (max diff {np.max(np.abs(ya - yb)):.3g})"))
    return out
