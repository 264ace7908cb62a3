"""Built-in self-check: correct functions in PyTorch and JAX over random concrete cases.

Each catalogue entry is one mathematical function written twice (PyTorch and JAX). A case
draws shapes, a value regime (normal, tie/zero-heavy, wide magnitudes), a dtype, a memory
layout and a cotangent, then runs :func:`vjpcheck.check_vjp` on the PyTorch version with
the JAX version as its twin, so every case compares PyTorch, JAX and finite differences.
The functions are correct, so every mismatch or error is either a framework bug or a false
alarm of vjpcheck; the run reports both counts.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Entry:
    name: str
    torch_fn: Callable
    jax_fn: Callable
    shapes: Callable[[np.random.Generator], list[tuple[int, ...]]]
    complex_ok: bool = False
    real_ok: bool = True
    positive: bool = False  # inputs drawn > 0 (log, sqrt domains)


def _mn(rng):
    return (int(rng.integers(1, 5)), int(rng.integers(1, 5)))


def _unary(rng):
    return [_mn(rng)]


def _binary_broadcast(rng):
    m, n = _mn(rng)
    return [(m, n), (n,) if rng.random() < 0.5 else (1, n)]


def _same2(rng):
    s = _mn(rng)
    return [s, s]


def _matmul(rng):
    m, k = _mn(rng)
    return [(m, k), (k, int(rng.integers(1, 5)))]


def _square(rng):
    n = int(rng.integers(1, 4))
    return [(n, n)]


def catalogue() -> list[Entry]:
    import jax
    import jax.numpy as jnp
    import torch

    def spd_t(a):
        return a @ a.mT + a.shape[-1] * torch.eye(a.shape[-1], dtype=a.dtype)

    def spd_j(a):
        return a @ a.T + a.shape[-1] * jnp.eye(a.shape[-1], dtype=a.dtype)

    return [
        Entry("sin", torch.sin, jnp.sin, _unary, complex_ok=True),
        Entry("tanh", torch.tanh, jnp.tanh, _unary, complex_ok=True),
        Entry("exp", torch.exp, jnp.exp, _unary, complex_ok=True),
        Entry("sigmoid", torch.sigmoid, jax.nn.sigmoid, _unary),
        Entry("softplus", torch.nn.functional.softplus, jax.nn.softplus, _unary),
        Entry("erf", torch.erf, jax.scipy.special.erf, _unary),
        Entry("atan", torch.atan, jnp.arctan, _unary),
        Entry("log", torch.log, jnp.log, _unary, positive=True),
        Entry("sqrt", torch.sqrt, jnp.sqrt, _unary, positive=True),
        Entry("relu", torch.relu, jax.nn.relu, _unary),
        Entry("abs", torch.abs, jnp.abs, _unary, complex_ok=True),
        Entry("x_abs_x", lambda x: x * x.abs(), lambda x: x * jnp.abs(x), _unary),
        Entry("clamp", lambda x: torch.clamp(x, -0.5, 0.5), lambda x: jnp.clip(x, -0.5, 0.5), _unary),
        Entry("floor_mix", lambda x: torch.floor(x) + x * x, lambda x: jnp.floor(x) + x * x, _unary),
        Entry("sum_dim", lambda x: x.sum(-1), lambda x: x.sum(-1), _unary, complex_ok=True),
        Entry("mean_dim0", lambda x: x.mean(0), lambda x: x.mean(0), _unary, complex_ok=True),
        Entry("amax", lambda x: torch.amax(x, -1), lambda x: jnp.max(x, -1), _unary),
        Entry("logsumexp", lambda x: torch.logsumexp(x, -1), lambda x: jax.scipy.special.logsumexp(x, -1), _unary),
        Entry("var", lambda x: torch.var(x, -1, unbiased=False), lambda x: jnp.var(x, -1), _unary),
        Entry("prod", lambda x: torch.prod(x, -1), lambda x: jnp.prod(x, -1), _unary, complex_ok=True),
        Entry("cumsum", lambda x: torch.cumsum(x, -1), lambda x: jnp.cumsum(x, -1), _unary, complex_ok=True),
        Entry("cumprod", lambda x: torch.cumprod(x, -1), lambda x: jnp.cumprod(x, -1), _unary),
        Entry("sort", lambda x: torch.sort(x, -1).values, lambda x: jnp.sort(x, -1), _unary),
        Entry("softmax", lambda x: torch.softmax(x, -1), lambda x: jax.nn.softmax(x, -1), _unary),
        Entry("log_softmax", lambda x: torch.log_softmax(x, 0), lambda x: jax.nn.log_softmax(x, 0), _unary),
        Entry("norm", lambda x: torch.linalg.vector_norm(x), lambda x: jnp.linalg.norm(x.reshape(-1)), _unary, complex_ok=True),
        Entry("mul_broadcast", lambda x, y: x * y, lambda x, y: x * y, _binary_broadcast, complex_ok=True),
        Entry("div_broadcast", lambda x, y: x / (y * y + 1), lambda x, y: x / (y * y + 1), _binary_broadcast),
        Entry("maximum", torch.maximum, jnp.maximum, _same2),
        Entry("where", lambda x, y: torch.where(x > 0, x * y, y), lambda x, y: jnp.where(x > 0, x * y, y), _same2),
        Entry("matmul", lambda a, b: a @ b, lambda a, b: a @ b, _matmul, complex_ok=True),
        Entry("tanh_matmul", lambda a, b: torch.tanh(a @ b), lambda a, b: jnp.tanh(a @ b), _matmul),
        Entry("conj_mul", lambda z, w: z.conj() * w, lambda z, w: jnp.conj(z) * w, _same2, complex_ok=True, real_ok=False),
        Entry("solve_spd", lambda a: torch.linalg.solve(spd_t(a), a), lambda a: jnp.linalg.solve(spd_j(a), a), _square),
        Entry("slogdet_spd", lambda a: torch.linalg.slogdet(spd_t(a))[1], lambda a: jnp.linalg.slogdet(spd_j(a))[1], _square),
        Entry("cholesky_spd", lambda a: torch.linalg.cholesky(spd_t(a)), lambda a: jnp.linalg.cholesky(spd_j(a)), _square),
        Entry("tuple_out", lambda x: (x.sin(), x.sum()), lambda x: (jnp.sin(x), x.sum()), _unary),
    ]


TIE_VALUES = np.array([0.0, 0.0, 1.0, -1.0, 0.5, -0.5, 2.0])


def draw_values(rng: np.random.Generator, shape, regime: str, positive: bool, complex_: bool) -> np.ndarray:
    if regime == "ties":
        x = rng.choice(TIE_VALUES, size=shape)
    elif regime == "wide":
        x = np.exp(rng.uniform(np.log(1e-3), np.log(30.0), size=shape)) * rng.choice([-1.0, 1.0], size=shape)
    elif regime == "mixed":
        x = rng.standard_normal(shape)
        flat = x.reshape(-1)
        for k in range(flat.size):
            if rng.random() < 0.3:
                flat[k] = 0.0 if rng.random() < 0.5 else flat[int(rng.integers(0, flat.size))]
        x = flat.reshape(shape)
    else:
        x = rng.standard_normal(shape)
    if positive:
        x = np.abs(x) + 0.1
    if complex_:
        x = x + 1j * (rng.choice(TIE_VALUES, size=shape) if regime == "ties" else rng.standard_normal(shape))
    return np.asarray(x)


def with_layout(t, layout: str):
    """The same values in another memory layout (PyTorch)."""
    import torch

    if layout == "transposed" and t.dim() >= 2:
        return t.mT.contiguous().mT
    if layout == "strided" and t.dim() >= 1:
        wide = torch.zeros(t.shape[:-1] + (2 * t.shape[-1],), dtype=t.dtype)
        wide[..., ::2] = t
        return wide[..., ::2]
    if layout == "offset":
        flat = torch.zeros(t.numel() + 3, dtype=t.dtype)
        flat[3:] = t.reshape(-1)
        return flat[3:].view(t.shape)
    return t


def run_selfcheck(cases: int = 300, seed: int = 0, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run ``cases`` random cases; return counts and the records of every non-pass verdict."""
    import torch

    from .api import check_vjp
    from .verdict import reason_key

    entries = catalogue()
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    by_entry: dict[str, Counter] = {}
    skip_reasons: Counter = Counter()
    records = []
    start = time.perf_counter()
    for i in range(cases):
        entry = entries[int(rng.integers(0, len(entries)))]
        complex_ = entry.complex_ok and (not entry.real_ok or rng.random() < 0.25)
        dtype = "complex128" if complex_ else ("float32" if rng.random() < 0.2 else "float64")
        regime = str(rng.choice(["normal", "ties", "mixed", "wide"], p=[0.4, 0.25, 0.2, 0.15]))
        shapes = entry.shapes(rng)
        args = []
        for shape in shapes:
            values = draw_values(rng, shape, regime, entry.positive, complex_)
            t = torch.tensor(values, dtype=getattr(torch, dtype))
            args.append(with_layout(t, str(rng.choice(["contiguous", "transposed", "strided", "offset"]))))
        verdict = check_vjp(entry.torch_fn, *args, twin=entry.jax_fn, seed=int(rng.integers(0, 2**31)))
        status = verdict.overall_status
        counts[status] += 1
        by_entry.setdefault(entry.name, Counter())[status] += 1
        if status == "skipped":
            for reason in verdict.reasons:
                skip_reasons[reason_key(reason)] += 1
        if status in ("mismatch", "error"):
            record = verdict.to_dict()
            record["selfcheck"] = {"entry": entry.name, "regime": regime, "dtype": dtype, "case_index": i}
            records.append(record)
        if progress:
            progress(i + 1, cases)
        if (i + 1) % 250 == 0:  # compiled executables of per-case closures add up in long runs
            import jax

            jax.clear_caches()
    return {
        "cases": cases,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "counts": dict(counts),
        "by_function": {k: dict(v) for k, v in sorted(by_entry.items())},
        "skip_reasons": dict(skip_reasons.most_common()),
        "failures": records,
    }
