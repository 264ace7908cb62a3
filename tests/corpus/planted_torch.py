"""Wrong backward rules planted on purpose, each with its correct twin (PyTorch).

Every entry: a buggy callable, a correct callable for the same math, a factory for the
concrete case that exposes the bug, the finding kind vjpcheck must report, and options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

F64 = torch.float64
C128 = torch.complex128


def _t(*shape, dtype=F64, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype.is_complex:
        return torch.randn(*shape, dtype=dtype, generator=g)
    return torch.randn(*shape, dtype=dtype, generator=g)


def _contiguous_view(t: torch.Tensor) -> torch.Tensor:
    """Read t's storage as if it were contiguous: the layout bug planted below."""
    strides = []
    acc = 1
    for s in reversed(t.shape):
        strides.append(acc)
        acc *= s
    return torch.as_strided(t, t.shape, tuple(reversed(strides)), t.storage_offset())


# ---- 1. wrong axis ----------------------------------------------------------------------
class CumsumWrongAxis(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.cumsum(x, dim=1)

    @staticmethod
    def backward(ctx, g):
        return torch.flip(torch.cumsum(torch.flip(g, [0]), 0), [0])  # should be dim 1


class CumsumRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.cumsum(x, dim=1)

    @staticmethod
    def backward(ctx, g):
        return torch.flip(torch.cumsum(torch.flip(g, [1]), 1), [1])


# ---- 2. missing conjugate ----------------------------------------------------------------
class CMulNoConj(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, w):
        ctx.save_for_backward(z, w)
        return z * w

    @staticmethod
    def backward(ctx, g):
        z, w = ctx.saved_tensors
        return g * w, g * z  # should be g * w.conj(), g * z.conj()


class CMulRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, w):
        ctx.save_for_backward(z, w)
        return z * w

    @staticmethod
    def backward(ctx, g):
        z, w = ctx.saved_tensors
        return g * w.conj(), g * z.conj()


# ---- 3. wrong broadcast reduction (mean instead of sum) -----------------------------------
class BiasAddMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g.mean(0)  # should be g.sum(0)


class BiasAddRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g.sum(0)


# ---- 3b. missing broadcast reduction (PyTorch silently sums it) ----------------------------
class BiasAddUnreduced(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g  # b's gradient has x's shape: JAX would reject it, PyTorch sums silently


# ---- 4. transposed matmul gradient --------------------------------------------------------
class MatmulNoTranspose(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b, a @ g  # should be g @ b.T, a.T @ g


class MatmulRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b.mT, a.mT @ g


# ---- 5. wrong scale ------------------------------------------------------------------------
class SinWrongScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * torch.cos(x) * g


class SinRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.cos(x) * g


# ---- 6. writes into the incoming gradient -------------------------------------------------
class DoubleInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return g.mul_(2)  # right value, but the caller's gradient buffer is overwritten


class DoubleRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return g * 2


# ---- 7. crash on a size-1 dimension --------------------------------------------------------
class ProjectSqueezeCrash(torch.autograd.Function):
    """y = x @ w for a fixed w (k × m); backward squeezes g, which breaks when m == 1."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(w)
        return x @ w

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        g = g.squeeze()
        return torch.einsum("nm,km->nk", g, w), None


class ProjectRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(w)
        return x @ w

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return torch.einsum("nm,km->nk", g, w), None


def project_bug(x, w):
    return ProjectSqueezeCrash.apply(x, w)


def project_right(x, w):
    return ProjectRight.apply(x, w)


# ---- 8. NaN at an exact zero ---------------------------------------------------------------
class XAbsXNaN(torch.autograd.Function):
    """y = x·|x| (smooth, y' = 2|x|); backward computes 2·x²/|x|, 0/0 at x = 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x.abs()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * x / x.abs() * g


class XAbsXRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x.abs()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x.abs() * g


# ---- 9. wrong only for non-contiguous inputs ------------------------------------------------
class SquareAssumesContiguousInput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * _contiguous_view(x) * g


class SquareRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


# ---- 10. wrong only for a non-contiguous cotangent -------------------------------------------
class ScaleAssumesContiguousGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return 3 * _contiguous_view(g)


class ScaleRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return 3 * g


# ---- 11. wrong only at second order --------------------------------------------------------
class CubeDetachedBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x.detach() ** 2 * g  # right value, but invisible to double backward


class CubeRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


# ---- 12. wrong only in forward mode --------------------------------------------------------
class ExpWrongJvp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.exp(x)
        ctx.save_for_backward(y)
        ctx.save_for_forward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * g

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return y * t * 1.5


class ExpRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.exp(x)
        ctx.save_for_backward(y)
        ctx.save_for_forward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * g

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return y * t


class ExpSquaringBackward(ExpRight):
    """exp with a backward that overflows where exp does not: g·y²/y is inf once y² passes
    the dtype's largest value (x > 355 in float64), while exp itself is finite up to 709."""

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y) / y


# ---- 13. wrong dtype (silently cast by PyTorch) ------------------------------------------------
class ExpNewStyle(torch.autograd.Function):
    """exp with setup_context: AD of its forward is a second, independent analytic rule."""

    @staticmethod
    def forward(x):
        return torch.exp(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ExpFlushTiny(ExpNewStyle):
    """exp whose backward flushes entries below 1e-15 to zero (relative precision lost where
    the true entry is tiny next to an unrelated large output)."""

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return torch.where(y < 1e-15, 0.0, g * y)


class TanhFloat32Grad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return ((1 - y * y) * g).to(torch.float32)


class TanhRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (1 - y * y) * g


# ---- 14. shape-dependent: wrong only for non-square inputs -------------------------------------
class RowSumSquareOnly(torch.autograd.Function):
    """y = x.sum(1); backward expands g along the wrong axis, right only when n == m."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(1)

    @staticmethod
    def backward(ctx, g):
        n, m = ctx.shape
        if n == m:
            return g[:, None].expand(n, m).clone()
        return g.repeat(m)[: n * m].reshape(n, m)  # interleaves rows: wrong


class RowSumRight(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(1)

    @staticmethod
    def backward(ctx, g):
        n, m = ctx.shape
        return g[:, None].expand(n, m).clone()


@dataclass
class Planted:
    name: str
    buggy: Callable
    correct: Callable
    make_args: Callable[[], tuple]
    kind: str  # the finding kind that must be reported
    options: dict = field(default_factory=dict)
    make_v: Callable | None = None


def _transposed(n, m, seed=0):
    return _t(m, n, seed=seed).mT  # (n, m) with strides (1, n)


PLANTED = [
    Planted("wrong axis (cumsum)", CumsumWrongAxis.apply, CumsumRight.apply, lambda: (_t(3, 4),), "mismatch"),
    Planted("missing conjugate (complex mul)", CMulNoConj.apply, CMulRight.apply, lambda: (_t(2, 3, dtype=C128), _t(2, 3, dtype=C128, seed=1)), "mismatch"),
    Planted("wrong broadcast reduction (mean)", BiasAddMean.apply, BiasAddRight.apply, lambda: (_t(3, 4), _t(4, seed=1)), "mismatch"),
    Planted("missing broadcast reduction", BiasAddUnreduced.apply, BiasAddRight.apply, lambda: (_t(3, 4), _t(4, seed=1)), "wrong-shape"),
    Planted("transposed matmul gradient", MatmulNoTranspose.apply, MatmulRight.apply, lambda: (_t(3, 3), _t(3, 3, seed=1)), "mismatch"),
    Planted("wrong scale (sin)", SinWrongScale.apply, SinRight.apply, lambda: (_t(5),), "mismatch"),
    Planted("writes into incoming gradient", DoubleInPlace.apply, DoubleRight.apply, lambda: (_t(4),), "mutated-cotangent"),
    Planted("crash on a size-1 dimension", project_bug, project_right, lambda: (_t(3, 2), _t(2, 1, seed=1)), "oracle-error", {"wrt": (0,)}),
    Planted("NaN at an exact zero", XAbsXNaN.apply, XAbsXRight.apply, lambda: (torch.tensor([-1.5, 0.0, 2.0], dtype=F64),), "non-finite"),
    Planted("wrong only for non-contiguous input", SquareAssumesContiguousInput.apply, SquareRight.apply, lambda: (_transposed(3, 4),), "mismatch"),
    Planted(
        "wrong only for non-contiguous cotangent",
        ScaleAssumesContiguousGrad.apply,
        ScaleRight.apply,
        lambda: (_t(3, 4),),
        "mismatch",
        make_v=lambda: _transposed(3, 4, seed=5),
    ),
    Planted("wrong only at second order", CubeDetachedBackward.apply, CubeRight.apply, lambda: (_t(4),), "mismatch", {"order": 2}),
    Planted("wrong only in forward mode", ExpWrongJvp.apply, ExpRight.apply, lambda: (_t(4),), "mismatch"),
    Planted("wrong dtype (silently cast)", TanhFloat32Grad.apply, TanhRight.apply, lambda: (_t(4),), "wrong-dtype"),
    Planted("wrong only for non-square input", RowSumSquareOnly.apply, RowSumRight.apply, lambda: (_t(2, 3),), "mismatch"),
]


# ---- used by reproducer tests: index gradient that ignores duplicates --------------------------
class TakeRowsNoAccumulate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, idx):
        ctx.save_for_backward(idx)
        ctx.n = x.shape[0]
        return x[idx]

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        out = torch.zeros((ctx.n,) + tuple(g.shape[1:]), dtype=g.dtype)
        out[idx] = g  # assignment, not accumulation: duplicate indices lose gradient
        return out, None


def take_rows_bug(x, idx):
    return TakeRowsNoAccumulate.apply(x, idx)


# ---- tie-dependent: x² (smooth at ties) whose backward merges equal values ---------------------
class SquareUniqueMerge(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        uniq, inverse = torch.unique(x, return_inverse=True)
        merged = torch.zeros_like(uniq).index_add_(0, inverse.reshape(-1), (2 * x * g).reshape(-1))
        return merged[inverse]  # equal entries receive the sum of each other's gradients


PLANTED.append(
    Planted("tie-dependent (unique-merged gradient)", SquareUniqueMerge.apply, SquareRight.apply, lambda: (torch.tensor([1.0, 2.0, 1.0], dtype=F64),), "mismatch")
)
PLANTED.append(
    Planted("duplicate indices lose gradient", take_rows_bug, lambda x, i: x[i], lambda: (_t(4, 2), torch.tensor([0, 2, 2])), "mismatch")
)
