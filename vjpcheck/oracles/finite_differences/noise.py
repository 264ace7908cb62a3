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
