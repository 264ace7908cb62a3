"""Run many random programs: the op catalogue and composed DAGs, with minimal failures.

Hypothesis drives generation. Every example is checked and recorded; an unexplained
discrepancy (not in the known-differences file) is raised so that Hypothesis shrinks it to
a minimal program, then exploration resumes with a fresh seed until the budget is spent.
Work is split into chunks (an op, or a block of composed programs with its own seed) that
worker processes run in parallel; records are plain dicts.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable

from .._engine.results import is_failing
from ..oracles.transforms import compile_statistics, is_transform
from ..frameworks import clear_compiled_caches, limit_threads
from .._engine.verdict import reason_key
from . import known as known_differences
from .check import check_program
from .generate import op_cases, programs
from .registry import OPS

CHUNK = 250  # composed programs per chunk (one Hypothesis run, one seed)
CLEAR_JAX_EVERY = 200  # drop JAX's compiled executables this often (memory)


class _Unexplained(Exception):
    """Raised inside the Hypothesis test so that it shrinks the failing program."""


@dataclass(frozen=True)
class Chunk:
    mode: str  # "catalogue" (one op alone) | "composed"
    examples: int
    seed: int
    op: str | None = None
    max_ops: int = 5
    device: str = "cpu"
    transforms: tuple[str, ...] = ()  # compile, vmap, …: their oracles join every check


@dataclass
class ChunkResult:
    chunk: Chunk
    records: list[dict] = field(default_factory=list)  # one per counted example
    failures: list[dict] = field(default_factory=list)  # minimal unexplained discrepancies
    generation_errors: list[str] = field(default_factory=list)
    known_examples: dict = field(default_factory=dict)  # known id → first verdict (dict) and explanation
    seconds: float = 0.0


def plan(mode: str, examples: int, seed: int = 0, ops: list[str] | None = None, max_ops: int = 5, device: str = "cpu", chunk_size: int = CHUNK, transforms: tuple[str, ...] = ()) -> list[Chunk]:
    """Chunks for ``mode`` "catalogue" (``examples`` per op), "composed" (``examples`` in
    all) or "all" (both), on ``device`` ("cpu" or "cuda"), under ``transforms``."""
    from ..oracles.transforms import normalize_transforms

    transforms = normalize_transforms(list(transforms))
    if mode not in ("catalogue", "composed", "all"):
        raise ValueError(f"mode must be 'catalogue', 'composed' or 'all', got {mode!r}")
    names = sorted(OPS) if ops is None else list(ops)
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"ops: unknown op(s) {unknown}")
    chunks = []
    if mode in ("catalogue", "all"):
        chunks += [Chunk("catalogue", examples, seed, op=name, device=device, transforms=transforms) for name in names]
    if mode in ("composed", "all"):
        full, rest = divmod(examples, chunk_size)
        sizes = [chunk_size] * full + ([rest] if rest else [])
        chunks += [Chunk("composed", n, seed * 100003 + k, max_ops=max_ops, device=device, transforms=transforms) for k, n in enumerate(sizes)]
    return chunks


def run_chunk(chunk: Chunk, strategy=None, compile_backend: Any = None) -> ChunkResult:
    """Explore one chunk until ``chunk.examples`` examples were checked (``strategy``
    overrides the chunk's own, e.g. programs over a subset of ops; ``compile_backend`` the
    ``torch.compile`` backend of the chunk's compile transforms, Inductor by default)."""
    start = time.perf_counter()
    result = ChunkResult(chunk)
    known = known_differences.load()
    if strategy is None:
        strategy = op_cases(chunk.op) if chunk.mode == "catalogue" else programs(max_ops=chunk.max_ops)
    attempt = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # frameworks warn about empty reductions, etc.
        while len(result.records) < chunk.examples and attempt < 20:
            state = {"counting": True, "last": None}
            _explore(strategy, chunk.examples - len(result.records), chunk.seed + attempt, result, state, known, chunk, compile_backend)
            if state["last"] is not None:
                result.failures.append(state["last"])
            elif not state["counting"] or len(result.generation_errors) >= 3:
                break
            attempt += 1
            if state.get("exhausted"):
                break
    result.seconds = time.perf_counter() - start
    return result


def _explore(strategy, budget: int, seed: int, result: ChunkResult, state: dict, known, chunk: Chunk, compile_backend: Any = None) -> None:
    @hypothesis_seed(seed)
    @settings(
        max_examples=budget,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        verbosity=Verbosity.quiet,  # the minimal program goes to the report, not to stdout
    )
    @given(strategy)
    def body(case):
        verdict = check_program(case, seed=seed, device=chunk.device, transforms=chunk.transforms, compile_backend=compile_backend)
        record = _record(verdict, chunk, known)
        if state["counting"]:
            result.records.append(record)
            if record["status"] == "known" and record["known"] not in result.known_examples:
                result.known_examples[record["known"]] = {**record, "verdict": verdict.to_dict(), "explanation": verdict.explain()}
            if len(result.records) % CLEAR_JAX_EVERY == 0:
                clear_compiled_caches()
        if record["status"] == "unexplained":
            state["counting"] = False
            state["last"] = {**record, "verdict": verdict.to_dict(), "explanation": verdict.explain()}
            raise _Unexplained(record["program"])

    try:
        body()
    except _Unexplained:
        pass
    except Unsatisfiable:
        state["exhausted"] = True
    except Exception as exc:  # a registry or generator bug: reported, the run goes on
        result.generation_errors.append(f"{type(exc).__name__}: {exc}"[:2000])
        state["generation_error"] = True
    if state["counting"] and not state.get("generation_error") and len(result.records) < budget:
        state["exhausted"] = True  # Hypothesis ran out of distinct examples


def _record(verdict, chunk: Chunk, known) -> dict:
    program = verdict.case.get("program", {})
    status = verdict.overall_status
    record = {
        "mode": chunk.mode,
        "op": chunk.op,
        "program": verdict.function,
        "ops": [n["op"] for n in program.get("nodes", [])],
        "dtypes": sorted({s["dtype"] for s in program.get("inputs", [])}),
        "seconds": round(verdict.seconds, 4),
        "status": "pass" if status == "pass" else "skipped" if status in ("skipped", "inconclusive") else "unexplained",
    }
    if chunk.transforms:  # what each transform oracle did, and the time of the calls that compiled
        record["transforms"] = {o.name: o.status if o.ok or not o.message else f"{o.status}: {reason_key(o.message)}" for o in verdict.oracles if is_transform(o.name)}
        record["compile_seconds"] = {o.name: round(o.compile_seconds, 4) for o in verdict.oracles if o.compile_seconds}
    if status in ("skipped", "inconclusive"):
        reasons = list(verdict.reasons) + [r for c in verdict.children for r in c.reasons]
        record["reason"] = reason_key(reasons[0]) if reasons else "unknown"
    elif is_failing(status):
        entries = known_differences.explain(verdict, known)
        if entries:
            record.update(status="known", known=",".join(e.id for e in entries), source=verdict.case.get("source", ""))
        else:
            record["culprits"] = sorted(known_differences.culprits(verdict))
    return record


def run(chunks: list[Chunk], workers: int = 1, on_result: Callable[[ChunkResult], None] | None = None) -> Iterator[ChunkResult]:
    """Run ``chunks`` (in ``workers`` processes when > 1), yielding results as they finish."""
    if workers <= 1:
        for chunk in chunks:
            yield run_chunk(chunk)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # torch and JAX do not survive fork well
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(run_chunk, c) for c in chunks]
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            yield future.result()


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    limit_threads(1)


@dataclass
class Summary:
    """Totals of a run of chunks."""

    counts: Counter = field(default_factory=Counter)
    skip_reasons: Counter = field(default_factory=Counter)
    per_op: dict = field(default_factory=dict)  # catalogue op → Counter of statuses
    known: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    generation_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    transforms: Counter = field(default_factory=Counter)  # (oracle, status) → cases
    compile_seconds: dict = field(default_factory=dict)  # oracle → its compile time per case that compiled

    def add(self, result: ChunkResult) -> None:
        for r in result.records:
            for name, status in r.get("transforms", {}).items():
                self.transforms[(name, status)] += 1
            for name, seconds in r.get("compile_seconds", {}).items():
                self.compile_seconds.setdefault(name, []).append(seconds)
            self.counts[(r["mode"], r["status"])] += 1
            if r["status"] == "skipped":
                self.skip_reasons[(r["mode"], r["reason"])] += 1
            if r["status"] == "known":
                self.known.append(r)
            if r["mode"] == "catalogue":
                self.per_op.setdefault(r["op"], Counter())[r["status"]] += 1
        self.failures += result.failures
        self.generation_errors += result.generation_errors

    @property
    def clean(self) -> bool:
        return not self.failures and not self.generation_errors

    def total(self, mode: str | None = None) -> int:
        return sum(n for (m, _), n in self.counts.items() if mode is None or m == mode)

    def to_dict(self) -> dict:
        return {
            "counts": {f"{m}/{s}": n for (m, s), n in sorted(self.counts.items())},
            "skip_reasons": {f"{m}/{r}": n for (m, r), n in self.skip_reasons.most_common()},
            "per_op": {op: dict(c) for op, c in sorted(self.per_op.items())},
            "known": self.known,
            "failures": self.failures,
            "generation_errors": self.generation_errors,
            "transforms": {f"{o}/{s}": n for (o, s), n in sorted(self.transforms.items())},
            "compile_seconds": {name: compile_statistics(times) for name, times in sorted(self.compile_seconds.items())},
            "seconds": round(self.seconds, 1),
            "clean": self.clean,
        }

