"""Every oracle works on its own copies of the case's arrays, and says when the function
or its backward wrote into them (the caller's objects are audited separately, by
``_engine.audit``)."""

from __future__ import annotations

import numpy as np

from .._engine.case import Case
from .._engine.results import Finding


class FreshInputs:
    """An oracle's private copies of the arguments and (unless ``cotangents`` is false)
    the cotangents, checked afterwards.

    A backward that writes into its incoming gradient, or a forward/backward that modifies
    an input, shows up as a difference between these copies and the case's snapshots.
    """

    def __init__(self, case: Case, cotangents: bool = True):
        self.case = case
        self.args = case.fresh_args()
        # forward mode never hands the function a cotangent: no copies to hold (or audit)
        self.cotangents = case.fresh_cotangents() if cotangents else [None] * len(case.cotangents)

    def findings(self, oracle: str) -> list[Finding]:
        case, backend = self.case, self.case.backend
        found = []
        for i, (a, before) in enumerate(zip(self.args, case.arg_values)):
            if before is None:
                continue
            after = backend.to_numpy(a)
            if not same_values(before, after):
                found.append(
                    Finding(
                        kind="mutated-input",
                        oracle=oracle,
                        message=f"{oracle}: argument {i} was modified in place while computing the VJP",
                        details={"max_change": _max_change(before, after)},
                    )
                )
        for k, (c, before) in enumerate(zip(self.cotangents, case.v)):
            if c is None or before is None:
                continue
            after = backend.to_numpy(c)
            if not same_values(before, after):
                found.append(
                    Finding(
                        kind="mutated-cotangent",
                        oracle=oracle,
                        message=(
                            f"{oracle}: the cotangent for output {k} was modified in place "
                            "(a backward wrote into its incoming gradient; other branches that "
                            "share it would receive corrupted gradients)"
                        ),
                        details={"max_change": _max_change(before, after)},
                    )
                )
        return found


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and values (NaN equal to NaN): the snapshot test for mutations."""
    if a.shape != b.shape:
        return False
    # without NaNs the plain comparison decides (10x faster than equal_nan's isnan passes)
    return bool(np.array_equal(a, b)) or bool(np.array_equal(a, b, equal_nan=True))


def _max_change(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("nan")
    with np.errstate(invalid="ignore"):
        return float(np.nanmax(np.abs(a - b))) if a.size else 0.0
