"""How noisy the function's own values are at the base point: the yardstick for oracles
that share one derivative rule.

Two AD methods of one rule (reverse mode and the explicit Jacobian, say) differ only by
rounding, of the size ε·T of the intermediate terms their backward sums. Where the forward
itself cancels (``(x - x.mean()).sum()**2``: the values are rounding noise) T is invisible
from the outputs and from their finite-difference slopes, and a tolerance built on those
fails two correct methods against each other. The forward shows it, though: moved by a few
units in the last place, its values move by far more than ε·|f|. Evaluated at such
perturbations (a few ulps, random signs; in the manner of Moré & Wild's ECnoise), the
change ``Σ|v|·|f(x') − f(x)|`` divided by the inputs' size is a derivative-sized floor:
about ε·|v|·|J| where the function is well conditioned (far below any tolerance), and the
rounding the backward carries where it is not.
"""

from __future__ import annotations

import math

import numpy as np

from ..._engine.numeric import split_like
from .stats import Problem, as_numpy

ULPS = 4.0  # relative size of the perturbation, in units of the evaluation's ε
PATTERNS = 2  # independent sign patterns; the larger change counts
SAFETY = 16.0  # rounding errors are random: the floor covers a few times the change seen


def forward_noise_floor(problem: Problem, jacobian: np.ndarray | None) -> list[np.ndarray]:
    """Per differentiated entry k: ``SAFETY · Σ_j |v_j|·Δ_j / max|x over j's inputs|`` over
    the outputs j that depend on k (the finite-difference Jacobian's nonzeros), with Δ_j
    the largest change of output j over the sign patterns. Without that Jacobian (complex
    or large cases), and for entries no output was seen to depend on, one number:
    ``SAFETY · Σ_j |v_j|·Δ_j / max|x|``."""
    shapes = [p.shape for p in problem.x0]
    zeros = [np.zeros(shape) for shape in shapes]
    x = np.concatenate([np.abs(np.ravel(p)) for p in problem.x0]) if problem.x0 else np.zeros(0)
    if x.size == 0 or not np.all(np.isfinite(x)) or not np.any(x > 0):
        return zeros
    change = np.where(problem.live, _changes(problem) * problem.weights, 0.0)  # per output
    if not np.all(np.isfinite(change)):
        return zeros
    floor = np.full(x.size, SAFETY * float(np.sum(change)) / float(np.max(x)))
    if jacobian is not None and jacobian.shape == (change.size, x.size):
        depends = jacobian != 0
        size = np.max(np.where(depends, x[None, :], 0.0), axis=1, initial=0.0)  # per output
        per_output = np.divide(change, size, out=np.zeros_like(change), where=size > 0)
        seen = depends.any(axis=0)  # entries no output was seen to depend on keep the global floor
        floor[seen] = SAFETY * (per_output @ depends)[seen]
    return split_like(floor, shapes)


def _changes(problem: Problem) -> np.ndarray:
    """max over the sign patterns r of |f(x·(1 + ULPS·ε·r)) − f(x)|, per output."""
    rng = np.random.default_rng(0x5EED)
    eps = problem.evaluator.unit[0]  # the evaluation's rounding, not a declared solver noise
    stacked = []
    for p in problem.x0:
        signs = rng.choice([-1.0, 1.0], size=(PATTERNS,) + p.shape)
        if np.iscomplexobj(p):
            signs = signs + 1j * rng.choice([-1.0, 1.0], size=(PATTERNS,) + p.shape)
        stacked.append(p[None] * (1 + ULPS * eps * signs))
    F = as_numpy(problem.evaluator.many(stacked, problem.f0))
    return np.max(np.abs(F - problem.f0[None, :]), axis=0)  # FiniteDifferences.compute ignores FP warnings


# ---- noise of a solver: the values' own irregularity at the finite-difference scale ----
NOISE_POINTS = 9  # equally spaced points along one random direction, per span
NOISE_ORDERS = (3, 4, 5, 6)  # difference orders where a smooth function's part is negligible
#: the points span ±(this many base finite-difference steps): the step itself, and wider,
#: where a solver that stops early near the point (few iterations for a small input) shows
NOISE_SPANS = (1.0, 32.0)
NOISE_FACTOR = 1e3  # noise this many times the rounding of the values: the function is noisy
NOISE_SPREAD = 0.1  # median / largest third difference along the line: irregular everywhere
NOISE_FLAT = 16.0  # largest / smallest normalised spread over the orders: the same level at each


def solver_noise(problem: Problem) -> float:
    """The absolute noise of the function's values at the base point, 0 when it is no more
    than their rounding: Moré & Wild's ECnoise on one random direction. At equally spaced
    points along it, the k-th differences of a smooth function vanish fast with k, while
    those of noise σ keep a spread of σ·√C(2k, k). Where the normalised spreads of orders
    3–6 are about equal (flat: not a smooth part falling with the order) and the third
    differences are irregular all along the line (not one kink), their smallest, weighted
    by |v|, is the level (the larger of two spans, see :data:`NOISE_SPANS`). An iterative solver stopped at a tolerance (a fixed point, a
    bisection) makes values noisy at about that tolerance, and differences of them at
    step h err by noise/h."""
    from .stats import BASE_STEP, MIN_SCALE

    if not problem.x0 or not np.any(problem.live):
        return 0.0
    rng = np.random.default_rng(0xEC0)
    offsets = (np.arange(NOISE_POINTS) - (NOISE_POINTS - 1) / 2) / ((NOISE_POINTS - 1) / 2)  # −1 … 1
    along = np.concatenate([offsets * span for span in NOISE_SPANS])
    stacked = []
    for p in problem.x0:
        u = rng.standard_normal(p.shape) * np.maximum(np.abs(p), MIN_SCALE) * BASE_STEP
        if np.iscomplexobj(p):
            u = u + 1j * rng.standard_normal(p.shape) * np.maximum(np.abs(p), MIN_SCALE) * BASE_STEP
        stacked.append(p[None] + along.reshape((-1,) + (1,) * p.ndim) * u[None])
    F = as_numpy(problem.evaluator.many(stacked, problem.f0))
    if not np.all(np.isfinite(F[:, problem.live])):
        return 0.0
    w = problem.weights
    noise = 0.0
    for block in np.split(F, len(NOISE_SPANS)):
        levels, D = [], block
        for order in range(1, max(NOISE_ORDERS) + 1):
            D = np.diff(D, axis=0)
            if order == min(NOISE_ORDERS):
                # noise is irregular everywhere along the line; a kink or a jump in the span
                # (relu at 0) makes a few large differences beside negligible ones: not noise
                spread = np.median(np.abs(D), axis=0) >= NOISE_SPREAD * np.max(np.abs(D), axis=0)
            if order in NOISE_ORDERS:
                gamma = math.factorial(order) ** 2 / math.factorial(2 * order)
                levels.append(np.sqrt(gamma * np.mean(np.abs(D) ** 2, axis=0)))
        levels = np.array(levels)
        # noise is flat across orders; a smooth part falls by the spacing at each order
        flat = np.max(levels, axis=0) <= NOISE_FLAT * np.min(levels, axis=0)
        noise = max(noise, float(np.sum(np.where(spread & flat, w * np.min(levels, axis=0), 0.0))))
    rounding = float(np.sum(w * (problem.evaluator.unit[0] * np.max(np.abs(F), axis=0) + problem.evaluator.unit[1])))
    if not noise > NOISE_FACTOR * rounding:
        return 0.0
    return noise / float(np.sum(w))
