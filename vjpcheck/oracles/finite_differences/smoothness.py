"""Why a coordinate is left out (kink, jump, no convergence, out of domain), and the joint
test along random directions that catches points where every partial looks smooth."""

from __future__ import annotations

import numpy as np

from .stats import KINK_RATIO, OK, OUT_OF_DOMAIN, SIGNS, chunk_stats

REASONS = {
    "kink": "non-smooth (one-sided slopes differ: a kink, tie or clamp edge)",
    "jump": "not Lipschitz (a jump like floor/sign, or an infinite slope like sqrt(|x|) at 0)",
    "no-convergence": "finite differences do not converge (non-smooth, or a derivative too small for any step to resolve)",
    "out-of-domain": "out of domain (the function is not finite within the step)",
    "noisy": "not resolved: the function's noise (an iterative solver's tolerance) makes finite differences' error as large as the gradient",
}


JOINT_DIRECTIONS = 2


def joint_smoothness(problem, arg_of, index_of, comp_of, steps_used, status, estimates, errors, scales, ctx) -> str:
    """Test differentiability along random joint directions d (smooth coordinates only).

    Partial derivatives can all exist where f is not differentiable: the median of equal
    entries has every partial 0 but slope 1 along (1, …, 1). A differentiable f has no kink
    along d and a directional derivative equal to Σ d_k ∂f/∂x_k. Each coordinate moves by
    the step its own column converged at (``steps_used``), so the joint test looks as
    closely as the partials did. Returns a reason, or "".
    """
    rng = ctx.rng(77)
    x0 = problem.x0
    smooth = status == OK
    if not np.any(smooth):
        return ""
    directions = []
    for _ in range(JOINT_DIRECTIONS):
        coefficient = np.where(smooth, steps_used * rng.standard_normal(status.size), 0.0)
        steps = [np.zeros(p.shape, dtype=p.dtype) for p in x0]
        for a, p in enumerate(x0):
            sel = arg_of == a
            flat = steps[a].reshape(-1)
            np.add.at(flat, index_of[sel], coefficient[sel] * np.where(comp_of[sel] == 1, 1j, 1) if np.iscomplexobj(p) else coefficient[sel])
        directions.append((coefficient, steps))
    # all 2 × 4 points in one batch, in chunk_stats' layout: blocks of (+1, −1, +½, −½)·d
    stacked = [
        np.stack([x0[a] + t * steps[a] for t in SIGNS for _, steps in directions]).reshape((4 * JOINT_DIRECTIONS,) + x0[a].shape)
        for a in range(len(x0))
    ]
    st = chunk_stats(problem, problem.evaluator.many(stacked, problem.f0), np.ones(JOINT_DIRECTIONS))
    for j, (coefficient, _) in enumerate(directions):
        if st["status"][j] == OUT_OF_DOMAIN:
            continue  # left the domain: no verdict from this direction
        predicted = float(coefficient @ estimates)
        predicted_err = float(np.abs(coefficient) @ errors)
        predicted_scale = float(np.abs(coefficient) @ scales)
        significant = 1e-9 * (st["scale"][j] + predicted_scale) + 4 * st["noise2"][j]
        if st["gap2"][j] > KINK_RATIO * st["gap1"][j] + significant:
            return "not differentiable jointly (one-sided slopes differ along a random direction: ties across entries?)"
        if abs(st["g"][j] - predicted) > 2 * (st["err"][j] + predicted_err) + significant:
            return (
                "not differentiable jointly (the slope along a random direction is not the sum of the "
                "partial derivatives: ties across entries, e.g. a median or sort of equal values?)"
            )
    return ""


# ---- probe mode: random directions ----------------------------------------------------
