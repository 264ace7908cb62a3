"""Constrained values in NumPy: maps from any drawn array onto a constrained set, and tests
of membership. The public strategies (:mod:`vjpcheck.strategies`: ``orthogonal``,
``simplex``, …) draw through the maps; the random programs' value domains
(:mod:`vjpcheck.programs.registry`) test operands with the predicates.

Every map works on the last one or two axes of a batch, accepts size-0 arrays, and is
deterministic, so that Hypothesis shrinks the drawn array and the constrained value
follows.
"""

from __future__ import annotations

import numpy as np

# ---- predicates ---------------------------------------------------------------------------


def hermitian_part(a: np.ndarray) -> np.ndarray:
    """(A + Aᴴ) / 2 over the last two axes."""
    return (a + np.swapaxes(a, -1, -2).conj()) / 2


def condition_below(a: np.ndarray, limit: float = 1e3) -> bool:
    """Every matrix of the batch has a finite 2-norm condition number below ``limit``."""
    if a.size == 0:
        return True
    with np.errstate(all="ignore"):
        c = np.linalg.cond(a)
    return bool(np.all(np.isfinite(c)) and np.all(c < limit))


def distinct(values: np.ndarray, margin: float, axis: int = -1) -> bool:
    """Entries along ``axis`` pairwise more than ``margin`` apart (no ties)."""
    if values.size == 0 or values.shape[axis] < 2:
        return True
    s = np.sort(np.real(values), axis=axis)
    return bool(np.all(np.diff(s, axis=axis) > margin))


# ---- maps onto constrained sets -------------------------------------------------------------
TINY_SCALE = 1e-3


def _need_matrix(values: np.ndarray, what: str, square: bool = False) -> None:
    if values.ndim < 2 or (square and values.shape[-1] != values.shape[-2]):
        kind = "square matrices" if square else "matrices"
        raise ValueError(f"{what} needs {kind} in the last two dims, got shape {values.shape}")


def well_conditioned(values: np.ndarray, max_cond: float = 100.0) -> np.ndarray:
    """The matrix with its singular values raised to at least σ_max / ``max_cond`` (and to
    at least 1e-3 / ``max_cond``: an all-zero matrix becomes a multiple of the identity's
    leading block): full rank, condition number ≤ ``max_cond``, singular vectors kept."""
    _need_matrix(values, "well_conditioned")
    if values.size == 0:
        return values
    u, s, vh = np.linalg.svd(values, full_matrices=False)
    top = np.max(s, axis=-1, keepdims=True)
    # a tiny (or zero) matrix is raised to σ ≥ 1e-3 / max_cond: float32 would round it to 0
    s = np.maximum(s, np.maximum(top, TINY_SCALE) / max_cond)
    return (u * s[..., None, :]) @ vh


def orthonormal_columns(values: np.ndarray) -> np.ndarray:
    """Q of the QR factorisation, signs fixed so that R has a positive diagonal (unique for
    full-rank input; the matrix is first made well conditioned): orthonormal columns
    (unitary for complex input), orthogonal for square matrices. Needs rows ≥ columns."""
    _need_matrix(values, "orthogonal")
    if values.shape[-2] < values.shape[-1]:
        raise ValueError(f"orthogonal needs at least as many rows as columns, got shape {values.shape}")
    if values.size == 0:
        return values
    q, r = np.linalg.qr(well_conditioned(values))
    d = np.diagonal(r, axis1=-2, axis2=-1)
    phase = np.where(np.abs(d) > 0, d / np.where(np.abs(d) > 0, np.abs(d), 1.0), 1.0)
    return q * phase[..., None, :]


def rotation_matrix(values: np.ndarray) -> np.ndarray:
    """An orthogonal matrix with determinant +1 (its last column negated where needed)."""
    _need_matrix(values, "rotation", square=True)
    q = orthonormal_columns(np.real(values))
    if q.size == 0:
        return q
    sign = np.sign(np.linalg.det(q))
    q = q.copy()
    q[..., :, -1] *= np.where(sign < 0, -1.0, 1.0)[..., None]
    return q


def unit_vectors(values: np.ndarray) -> np.ndarray:
    """Each vector along the last axis divided by its norm (a zero vector becomes e₁)."""
    if values.ndim < 1:
        raise ValueError("unit_vector needs at least one dimension (the vectors' axis)")
    if values.shape[-1] == 0:
        return values
    big = np.max(np.abs(values), axis=-1, keepdims=True)
    scaled = values / np.where(big > 0, big, 1.0)  # no overflow or underflow in the norm
    norm = np.linalg.norm(scaled, axis=-1, keepdims=True)
    e1 = np.zeros(values.shape[-1], dtype=values.dtype)
    e1[0] = 1
    return np.where(norm > 0, scaled / np.where(norm > 0, norm, 1.0), e1)


def simplex_points(values: np.ndarray) -> np.ndarray:
    """|x| / Σ|x| along the last axis (a zero vector becomes the uniform one): nonnegative,
    summing to one, with exact zeros where x had them (the simplex's faces, where
    sparsemax-like functions have kinks)."""
    if values.ndim < 1:
        raise ValueError("simplex needs at least one dimension")
    if values.shape[-1] == 0:
        return values
    a = np.abs(np.real(values))
    total = a.sum(axis=-1, keepdims=True)
    return np.where(total > 0, a / np.where(total > 0, total, 1.0), 1.0 / values.shape[-1])


def increasing(values: np.ndarray, min_gap: float = 0.0) -> np.ndarray:
    """Sorted along the last axis; with ``min_gap`` > 0, strictly increasing by at least it
    (no ties)."""
    if values.ndim < 1:
        raise ValueError("sorted_values needs at least one dimension")
    out = np.sort(np.real(values), axis=-1)
    if min_gap > 0 and out.shape[-1] > 1:
        out = out + min_gap * np.arange(out.shape[-1])  # gaps grow by min_gap: ties separate
    return out


def separated(values: np.ndarray, min_gap: float) -> np.ndarray:
    """The values moved apart along the last axis to gaps of at least ``min_gap``, in
    their drawn order (not sorted): no ties, every permutation possible."""
    if values.ndim < 1:
        raise ValueError("distinct needs at least one dimension")
    if values.shape[-1] < 2:
        return np.real(values).copy()
    real = np.real(values)
    order = np.argsort(real, axis=-1, kind="stable")
    spread = increasing(np.take_along_axis(real, order, axis=-1), min_gap)
    out = np.empty_like(spread)
    np.put_along_axis(out, order, spread, axis=-1)
    return out
