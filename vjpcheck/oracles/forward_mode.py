"""Forward mode as an oracle: random tangents u (kept off non-smooth entries) and the
projection ⟨v, J u⟩ that every vector oracle's ⟨vᵀJ, u⟩ is compared with."""

from __future__ import annotations

import numpy as np

from .._engine.case import Case
from .._engine.numeric import Directions, abs_inner, real_inner
from .._engine.results import Projection
from .base import OracleContext


def draw_tangents(case: Case, ctx: OracleContext, projection: int) -> tuple[list, Directions | list[np.ndarray]]:
    """Random tangents u for forward mode (zero at non-smooth entries): framework arrays
    in the inputs' dtypes and devices, and their canonical values as actually used (a
    :class:`Directions` that regenerates them, except in half precision)."""
    infos = [case.arg_infos[i] for i in case.wrt]
    directions = Directions(
        entropy=ctx.entropy(1000 + projection),
        shapes=tuple(tuple(i.shape) for i in infos),
        complex_=tuple(i.dtype.startswith("complex") for i in infos),
        dtypes=tuple(i.dtype for i in infos),
        masks=tuple(ctx.nonsmooth) if ctx.nonsmooth is not None else None,
    )
    tangents = [case.backend.from_numpy(u, i.dtype, i.device) for u, i in zip(directions.arrays(), infos)]
    if Directions.regenerable(directions.dtypes):
        return tangents, directions
    return tangents, [case.backend.to_numpy(t) for t in tangents]


def projection(case: Case, used: Directions | list[np.ndarray], output_tangents) -> Projection:
    """⟨v, J u⟩ (and Σ|v|·|J u|) from ``(output index, tangent array)`` pairs; outputs
    that do not depend on the inputs are simply absent."""
    value = scale = 0.0
    for k, tangent in output_tangents:
        t = case.backend.to_numpy(tangent)
        value += real_inner(case.v[k], t)
        scale += abs_inner(case.v[k], t)
    return Projection(tangents=used, value=float(value), scale=float(scale))
