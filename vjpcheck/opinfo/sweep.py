"""Every sample of one OpInfo checked at first (and second) order, each outcome classified.

The oracles are vjpcheck's defaults for PyTorch, less forward-mode AD where the OpInfo
declares it unsupported or expected to fail (said in the outcome's notes). A discrepancy
is ``known`` when PyTorch's OpInfo marks the matching gradient test as an expected failure
or a skip (its reason quoted), or when an ``opinfo`` entry of ``known_differences.toml``
covers it; otherwise it stays a ``mismatch``/``error``. ``check_vjp`` refusing a sample
(a ``TypeError``/``ValueError`` for input it documents as unsupported) is a skip with that
message; any other exception is an ``error`` of vjpcheck itself (``escaped``), never hidden.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from typing import Sequence

from .._engine import recording
from .._engine.results import Status, is_failing
from .._engine.verdict import Verdict
from ..programs.known import KnownDifference, culprits
from . import database
from .samples import OpSample, samples

#: the message prefix of an exception that escaped check_vjp (a vjpcheck bug)
ESCAPED = "vjpcheck raised"


@dataclass
class Outcome:
    """One sample at one order."""

    op: str
    dtype: str
    order: int
    index: int
    status: Status
    reason: str = ""  # why it is skipped/inconclusive/known, or what escaped
    known: str | None = None
    verdict: Verdict | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    escaped: bool = False  # an exception escaped check_vjp


def check_op(op, device: str, dtypes: Sequence[str], counts: dict[str, int], order: int, timeout: float | None, known: Sequence[KnownDifference] = ()) -> list[Outcome]:
    """Check ``op``'s samples for each dtype it supports in backward on ``device``."""
    import torch

    name = database.full_name(op)
    supported = {str(d).removeprefix("torch.") for d in op.supported_backward_dtypes(torch.device(device).type)}
    outcomes: list[Outcome] = []
    for dtype_name in dtypes:
        if dtype_name not in supported:
            continue
        dtype = getattr(torch, dtype_name)
        try:
            drawn = list(samples(op, device, dtype, counts[dtype_name]))
        except Exception as exc:  # PyTorch's sample generator itself failed: nothing to check
            outcomes.append(Outcome(name, dtype_name, 1, -1, Status.SKIPPED, f"OpInfo could not generate samples: {type(exc).__name__}: {exc}"[:300]))
            continue
        for sample in drawn:
            outcomes += check_sample(op, sample, order, timeout, known)
    return outcomes


def check_sample(op, sample: OpSample, order: int, timeout: float | None, known: Sequence[KnownDifference] = ()) -> list[Outcome]:
    """The outcomes of one sample: first order, and second order when asked for (a skip
    with the OpInfo's reason when it declares no second-order support)."""
    dtype = getattr(__import__("torch"), sample.dtype)
    orders = [1] + ([2] if order >= 2 else [])
    out = []
    for k in orders:
        if k == 2 and not op.supports_gradgrad:
            out.append(Outcome(sample.op, sample.dtype, 2, sample.index, Status.SKIPPED, "the OpInfo declares supports_gradgrad=False"))
            continue
        out.append(_check_order(op, sample, k, dtype, timeout, known))
    return out


def _check_order(op, sample: OpSample, order: int, dtype, timeout: float | None, known: Sequence[KnownDifference]) -> Outcome:
    from .. import check_vjp
    from ..oracles import default_oracles

    notes = []
    oracles = default_oracles("torch", sample.device, thorough=True)  # a framework's acceptance sweep: every method
    unusable = database.forward_mode_unusable(op, order, sample.device, dtype)
    if unusable:
        oracles.remove("torch.forward")
        notes.append(f"torch.forward left out: {unusable}")
    start = time.perf_counter()
    base = Outcome(sample.op, sample.dtype, order, sample.index, Status.PASS, notes=notes)
    try:
        with recording.silenced():  # the sweep records its classified outcomes itself
            verdict = check_vjp(sample.fn, *sample.inputs, framework="torch", oracles=oracles, order=order, timeout=timeout)
    except (TypeError, ValueError) as exc:  # documented refusals of unsupported input
        return dataclasses.replace(base, status=Status.SKIPPED, reason=f"vjpcheck cannot check this sample: {exc}"[:400], seconds=time.perf_counter() - start)
    except Exception as exc:  # an exception escaping check_vjp is vjpcheck's own bug
        text = "".join(traceback.format_exception(exc))
        return dataclasses.replace(base, status=Status.ERROR, reason=f"{ESCAPED} {type(exc).__name__}: {exc}"[:400], notes=notes + [text], escaped=True, seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if order == 2 and verdict.children:
        verdict = dataclasses.replace(verdict.children[0], reproducer=verdict.reproducer)
    outcome = dataclasses.replace(base, status=Status(verdict.status), verdict=verdict, seconds=seconds, reason=(verdict.reasons or [""])[0])
    if is_failing(outcome.status):
        _explain(op, outcome, verdict, sample.device, dtype, known)
    return outcome


def _explain(op, outcome: Outcome, verdict: Verdict, device: str, dtype, known: Sequence[KnownDifference]) -> None:
    """A failing outcome becomes ``known`` when PyTorch or known_differences.toml covers it."""
    marked = database.expectations(op, database.BACKWARD_TESTS[outcome.order], torch_device_type(device), dtype)
    if marked:
        outcome.status, outcome.known, outcome.reason = Status.KNOWN, f"opinfo:{marked[0].test}", marked[0].describe()
        return
    suspects = sorted(culprits(verdict))
    entry = next((e for e in known if e.scope == "opinfo" and e.matches_opinfo(outcome.op, outcome.dtype, outcome.order, suspects)), None)
    if entry is not None:
        outcome.status, outcome.known, outcome.reason = Status.KNOWN, entry.id, entry.reason


def torch_device_type(device: str) -> str:
    """``cuda`` for ``cuda:1``: OpInfo decorators are keyed by device type."""
    return device.split(":")[0]
