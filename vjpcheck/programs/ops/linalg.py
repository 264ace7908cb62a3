"""Linear algebra on the last two dims (batch dims allowed).

Ops whose math reads only part of a matrix (cholesky, eigh: one triangle) are defined on
the Hermitian part ``(A + Aᴴ)/2``, written out in every lowering, so that their gradient is
one well-defined thing in every framework instead of a convention.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..registry import NotApplicable, Op, lowering, register, shape_strategy


def _mT(xp, a):
    return a.mT if xp.name == "torch" else xp.m.swapaxes(a, -1, -2)


def _hermitian(xp, a):
    return (a + xp.m.conj(_mT(xp, a))) / 2


def _square_first(min_side: int = 0):
    return lambda: st.tuples(shape_strategy(0, 1, 1, 3), st.integers(min_side, 4)).map(lambda t: tuple(t[0]) + (t[1], t[1]))


def _need_square(shape):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise NotApplicable("needs square matrices")


def _square_operands(draw, shape):
    _need_square(shape)
    return [tuple(shape)]


def _matrix_operands(draw, shape):
    if len(shape) < 2:
        raise NotApplicable("needs matrices")
    return [tuple(shape)]


def _tall_operands(draw, shape):
    if len(shape) < 2 or shape[-2] < shape[-1]:
        raise NotApplicable("needs m >= n")
    return [tuple(shape)]


def _batch_and_drop(k):
    return lambda shapes, attrs: tuple(shapes[0][:-k])


# ---- matmul / solve ---------------------------------------------------------------------------------
def _matmul_operands(draw, shape):
    if len(shape) < 2:
        raise NotApplicable("matmul needs matrices")
    batch = list(shape[:-2])
    other_batch = [1 if draw(st.booleans()) else b for b in batch][draw(st.integers(0, len(batch))) :]
    return [tuple(shape), tuple(other_batch) + (shape[-1], draw(st.integers(0, 4)))]


def _matmul_shape(shapes, attrs):
    a, b = shapes
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        raise NotApplicable("matmul: inner sizes differ")
    return tuple(np.broadcast_shapes(a[:-2], b[:-2])) + (a[-2], b[-1])


def _solve_operands(draw, shape):
    _need_square(shape)
    return [tuple(shape), tuple(shape[:-1]) + (draw(st.integers(0, 3)),)]


def _solve_shape(shapes, attrs):
    a, b = shapes
    if len(a) < 2 or a[-1] != a[-2] or tuple(b[:-1]) != tuple(a[:-1]):
        raise NotApplicable("solve: shapes do not match")
    return tuple(b)


def _solve_triangular(xp, a, b):
    if xp.name == "torch":
        return xp.linalg.solve_triangular(a, b, upper=False)
    if xp.name == "numpy":
        return np.linalg.solve(np.tril(a), b) if a.size else np.zeros(b.shape, np.result_type(a, b))
    return xp.scipy_linalg.solve_triangular(a, b, lower=True)


def _slogdet(xp, a):
    if xp.name == "numpy":
        return np.linalg.slogdet(a)[1]
    return xp.linalg.slogdet(a)[1]


def _qr(xp, a, part):
    """The unique reduced QR with a positive diagonal of R (LAPACK leaves the signs to
    its Householder choices, which differ between libraries at a zero pivot)."""
    q, r = xp.linalg.qr(a)
    s = xp.m.sign(xp.m.diagonal(r, 0, -2, -1))
    s = xp.m.where(s == 0, 1.0, s)
    return q * s[..., None, :] if part == "q" else r * s[..., :, None]


def _qr_shape(shapes, attrs):
    *batch, m, n = shapes[0]
    return tuple(batch) + ((m, n) if attrs["part"] == "q" else (n, n))


def _eigh_vectors(xp, a):
    _, v = xp.linalg.eigh(_hermitian(xp, a))
    return xp.m.real(v * xp.m.conj(v))


def _svdvals(xp, a):
    if xp.name == "torch":
        return xp.linalg.svdvals(a)
    return xp.linalg.svd(a, compute_uv=False)


def _matrix_norm(xp, a, ord):
    if xp.name == "torch":
        return xp.linalg.matrix_norm(a, ord=ord)
    return xp.linalg.norm(a, ord=ord, axis=(-2, -1))


def _trace(xp, a):
    if xp.name == "torch":
        return xp.m.diagonal(a, 0, -2, -1).sum(-1)
    return xp.m.trace(a, axis1=-2, axis2=-1)


def _fro_smooth(a, ord):
    return a.size == 0 or float(np.sqrt(np.sum(np.abs(a) ** 2, axis=(-2, -1))).min()) > 0.05


register(
    Op("matmul", "linalg", lowering(lambda xp, a, b: xp.m.matmul(a, b)), arity=2, shape=_matmul_shape, operands=_matmul_operands, complex_ok=True, first=lambda: shape_strategy(2, 3), doc="batched, broadcasting batch dims"),
    Op("solve", "linalg", lowering(lambda xp, a, b: xp.linalg.solve(a, b)), arity=2, shape=_solve_shape, operands=_solve_operands, domains=("nonsingular", "any"), complex_ok=True, first=_square_first()),
    Op("solve_triangular", "linalg", lowering(_solve_triangular), arity=2, shape=_solve_shape, operands=_solve_operands, domains=("triangular", "any"), first=_square_first(), doc="lower triangle of A; the upper triangle is not read"),
    Op("inv", "linalg", lowering(lambda xp, a: xp.linalg.inv(a)), operands=_square_operands, domains=("nonsingular",), complex_ok=True, first=_square_first()),
    Op("det", "linalg", lowering(lambda xp, a: xp.linalg.det(a)), shape=_batch_and_drop(2), operands=_square_operands, domains=("nonsingular",), first=_square_first()),
    Op("slogdet", "linalg", lowering(_slogdet), shape=_batch_and_drop(2), operands=_square_operands, domains=("nonsingular",), first=_square_first(), doc="log |det A|"),
    Op("cholesky", "linalg", lowering(lambda xp, a: xp.linalg.cholesky(_hermitian(xp, a))), operands=_square_operands, domains=("spd",), complex_ok=True, first=_square_first(), doc="cholesky((A + Aᴴ)/2), lower factor"),
    Op("qr", "linalg", lowering(_qr), shape=_qr_shape, operands=_tall_operands, attrs=lambda draw, s: {"part": draw(st.sampled_from(["q", "r"]))}, domains=("full_column_rank",), first=lambda: _square_first()().map(lambda s: s[:-2] + (s[-2] + 1, s[-1])), doc="reduced QR with diag(R) > 0, m >= n; Q or R"),
    Op("eigvalsh", "linalg", lowering(lambda xp, a: xp.linalg.eigvalsh(_hermitian(xp, a))), shape=_batch_and_drop(1), operands=_square_operands, domains=("distinct_eigenvalues",), first=_square_first(), doc="eigenvalues of (A + Aᴴ)/2"),
    Op("eigh_vectors", "linalg", lowering(_eigh_vectors), operands=_square_operands, domains=("distinct_eigenvalues",), first=_square_first(), doc="|V|² of the eigenvectors of (A + Aᴴ)/2 (sign-invariant)"),
    Op("svdvals", "linalg", lowering(_svdvals), shape=lambda s, a: tuple(s[0][:-2]) + (min(s[0][-2:]),), operands=_matrix_operands, domains=("distinct_singular_values",), first=lambda: shape_strategy(2, 3, 1, 4)),
    Op("matrix_norm", "linalg", lowering(_matrix_norm), shape=_batch_and_drop(2), operands=_matrix_operands, attrs=lambda draw, s: {"ord": draw(st.sampled_from(["fro", "nuc"]))}, domains=("distinct_singular_values",), smooth=_fro_smooth, kinks="the zero matrix; nuc: zero or repeated singular values", first=lambda: shape_strategy(2, 3, 1, 4)),
    Op("trace", "linalg", lowering(_trace), shape=_batch_and_drop(2), operands=_square_operands, complex_ok=True, first=_square_first()),
    Op("pinv", "linalg", lowering(lambda xp, a: xp.linalg.pinv(a)), shape=lambda s, a: tuple(s[0][:-2]) + (s[0][-1], s[0][-2]), operands=_tall_operands, domains=("full_column_rank",), first=lambda: _square_first(1)().map(lambda s: s[:-2] + (s[-2] + 1, s[-1]))),
    Op("matrix_power", "linalg", lowering(lambda xp, a, k: xp.linalg.matrix_power(a, k)), operands=_square_operands, attrs=lambda draw, s: {"k": draw(st.sampled_from([2, 3]))}, complex_ok=True, first=_square_first()),
)
