"""Forward mode as an oracle: random tangents u (kept off non-smooth entries) and the
projection ⟨v, J u⟩ that every vector oracle's ⟨vᵀJ, u⟩ is compared with."""

from __future__ import annotations

import numpy as np

from .._engine.case import Case
from .._engine.numeric import abs_inner, random_like, real_inner
from .._engine.results import Projection
from .base import OracleContext


def draw_tangents(case: Case, ctx: OracleContext, projection: int) -> tuple[list, list[np.ndarray]]:
    """Random tangents u for forward mode (zero at non-smooth entries): framework arrays
    in the inputs' dtypes and devices, and their canonical values as actually used."""
    rng = ctx.rng(1000 + projection)
    tangents, used = [], []
    for k, i in enumerate(case.wrt):
        info = case.arg_infos[i]
        u = random_like(rng, info.shape, info.dtype.startswith("complex"))
        if ctx.nonsmooth is not None:
            u = np.where(ctx.nonsmooth[k], 0, u)
        t = case.backend.from_numpy(u, info.dtype, info.device)
        tangents.append(t)
        used.append(case.backend.to_numpy(t))
    return tangents, used


def projection(case: Case, used: list[np.ndarray], output_tangents) -> Projection:
    """⟨v, J u⟩ (and Σ|v|·|J u|) from ``(output index, tangent array)`` pairs; outputs
    that do not depend on the inputs are simply absent."""
    value = scale = 0.0
    for k, tangent in output_tangents:
        t = case.backend.to_numpy(tangent)
        value += real_inner(case.v[k], t)
        scale += abs_inner(case.v[k], t)
    return Projection(tangents=used, value=float(value), scale=float(scale))
