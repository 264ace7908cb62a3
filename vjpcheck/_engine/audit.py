"""Nothing touched: the caller's arguments and cotangents are audited after every oracle.

A backward may write into its incoming gradient, a forward into its input. Oracles work on
copies (``FreshInputs``); this audit checks the caller's own objects against the snapshot
taken when the case was built, restores them, and reports who changed them.
"""

from __future__ import annotations

from ..oracles.inputs import same_values
from .case import Case
from .results import Finding


def caller_unchanged(case: Case, oracle: str) -> list[Finding]:
    """Findings for every caller array that changed while ``oracle`` ran (each restored)."""
    found = []
    for i, (a, info, before) in enumerate(zip(case.args, case.arg_infos, case.arg_values)):
        if info is not None and _changed_then_restored(case, a, before):
            found.append(Finding(kind="mutated-input", oracle=oracle, message=f"the caller's argument {i} changed while {oracle} ran (restored)"))
    for k, (c, before) in enumerate(zip(case.cotangents, case.v)):
        if c is not None and _changed_then_restored(case, c, before):
            found.append(Finding(kind="mutated-cotangent", oracle=oracle, message=f"the caller's cotangent {k} changed while {oracle} ran (restored)"))
    return found


def _changed_then_restored(case: Case, obj, before) -> bool:
    if same_values(case.backend.to_numpy(obj), before):
        return False
    case.backend.restore(obj, before)
    return True
