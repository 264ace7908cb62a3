"""Helpers shared by the JAX oracles."""

from __future__ import annotations

import contextlib

import jax.numpy as jnp

from ..case import Case
from ..frameworks.jax_backend import x64


def precision(case: Case):
    """x64 on for cases with 64-bit arrays (locally; the global setting is untouched)."""
    wide = any(
        info is not None and info.dtype in ("float64", "complex128", "int64", "uint64")
        for info in list(case.arg_infos) + list(case.output_infos)
    )
    return x64() if wide else contextlib.nullcontext()


def wrt_function(case: Case, args: list, keep: list[int]):
    """f(*primals) → tuple of the differentiable outputs, other arguments fixed."""

    def f(*primals):
        outs = case.call(case.substitute(args, primals))
        return tuple(outs[k] for k in keep)

    return f


def kept_outputs(case: Case) -> list[int]:
    return [k for k, d in enumerate(case.output_differentiable) if d]


def conj(x):
    return jnp.conj(x) if jnp.iscomplexobj(x) else x


def call_jitted(fn, *args):
    """``jax.jit(fn)(*args)``: one compilation per shape instead of one per primitive.

    Functions that cannot be traced (Python control flow on values, side effects that
    need concrete arrays) run eagerly instead; if they fail there too, that error, the
    one a user would see, propagates.
    """
    import jax

    try:
        return jax.jit(fn)(*args)
    except Exception:
        return fn(*args)
