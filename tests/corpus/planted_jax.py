"""Wrong ``jax.custom_vjp`` rules planted on purpose, each with its correct twin."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from planted_torch import Planted


def _a(*shape, complex_=False, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape)
    if complex_:
        values = values + 1j * rng.standard_normal(shape)
    with jax.enable_x64(True):
        return jnp.asarray(values)


def custom(fwd_value, bwd):
    """A custom_vjp function whose forward is ``fwd_value`` and backward ``bwd(args, g)``."""

    @jax.custom_vjp
    def f(*args):
        return fwd_value(*args)

    def f_fwd(*args):
        return fwd_value(*args), args

    f.defvjp(f_fwd, bwd)
    return f


def _rev_cumsum(g, axis):
    return jnp.flip(jnp.cumsum(jnp.flip(g, axis), axis), axis)


cumsum_wrong_axis = custom(lambda x: jnp.cumsum(x, 1), lambda r, g: (_rev_cumsum(g, 0),))
cumsum_right = custom(lambda x: jnp.cumsum(x, 1), lambda r, g: (_rev_cumsum(g, 1),))

# JAX's convention is the plain transpose: for y = z·w the rule is (g·w, g·z); conjugating
# here is the JAX-side mistake (the mirror image of PyTorch's missing conjugate).
cmul_extra_conj = custom(lambda z, w: z * w, lambda r, g: (g * jnp.conj(r[1]), g * jnp.conj(r[0])))
cmul_right = custom(lambda z, w: z * w, lambda r, g: (g * r[1], g * r[0]))

bias_mean = custom(lambda x, b: x + b, lambda r, g: (g, g.mean(0)))
bias_right = custom(lambda x, b: x + b, lambda r, g: (g, g.sum(0)))
bias_unreduced = custom(lambda x, b: x + b, lambda r, g: (g, g))

matmul_no_transpose = custom(lambda a, b: a @ b, lambda r, g: (g @ r[1], r[0] @ g))
matmul_right = custom(lambda a, b: a @ b, lambda r, g: (g @ r[1].T, r[0].T @ g))

sin_wrong_scale = custom(jnp.sin, lambda r, g: (2 * jnp.cos(r[0]) * g,))
sin_right = custom(jnp.sin, lambda r, g: (jnp.cos(r[0]) * g,))

xabsx_nan = custom(lambda x: x * jnp.abs(x), lambda r, g: (2 * r[0] * r[0] / jnp.abs(r[0]) * g,))
xabsx_right = custom(lambda x: x * jnp.abs(x), lambda r, g: (2 * jnp.abs(r[0]) * g,))

cube_stopped = custom(lambda x: x**3, lambda r, g: (3 * jax.lax.stop_gradient(r[0]) ** 2 * g,))
cube_right = custom(lambda x: x**3, lambda r, g: (3 * r[0] ** 2 * g,))


def _rowsum_square_only_bwd(r, g):
    n, m = r[0].shape
    if n == m:
        return (jnp.broadcast_to(g[:, None], (n, m)),)
    return (jnp.tile(g, m)[: n * m].reshape(n, m),)


rowsum_square_only = custom(lambda x: x.sum(1), _rowsum_square_only_bwd)
rowsum_right = custom(lambda x: x.sum(1), lambda r, g: (jnp.broadcast_to(g[:, None], r[0].shape),))

# wrong only at an exact zero: logsumexp-free "safe" softplus whose rule drops x == 0
softplus_zero_bug = custom(
    lambda x: jnp.logaddexp(x, 0.0), lambda r, g: (jnp.where(r[0] == 0, 0.0, jax.nn.sigmoid(r[0])) * g,)
)
softplus_right = custom(lambda x: jnp.logaddexp(x, 0.0), lambda r, g: (jax.nn.sigmoid(r[0]) * g,))

PLANTED = [
    Planted("jax wrong axis (cumsum)", cumsum_wrong_axis, cumsum_right, lambda: (_a(3, 4),), "mismatch"),
    Planted("jax extra conjugate (complex mul)", cmul_extra_conj, cmul_right, lambda: (_a(2, 3, complex_=True), _a(2, 3, complex_=True, seed=1)), "mismatch"),
    Planted("jax wrong broadcast reduction (mean)", bias_mean, bias_right, lambda: (_a(3, 4), _a(4, seed=1)), "mismatch"),
    Planted("jax missing broadcast reduction", bias_unreduced, bias_right, lambda: (_a(3, 4), _a(4, seed=1)), "wrong-shape"),
    Planted("jax transposed matmul gradient", matmul_no_transpose, matmul_right, lambda: (_a(3, 3), _a(3, 3, seed=1)), "mismatch"),
    Planted("jax wrong scale (sin)", sin_wrong_scale, sin_right, lambda: (_a(5),), "mismatch"),
    Planted("jax NaN at an exact zero", xabsx_nan, xabsx_right, lambda: (jnp.asarray(np.array([-1.5, 0.0, 2.0])),), "non-finite"),
    Planted("jax wrong only at second order", cube_stopped, cube_right, lambda: (_a(4),), "mismatch", {"order": 2}),
    Planted("jax wrong only for non-square input", rowsum_square_only, rowsum_right, lambda: (_a(2, 3),), "mismatch"),
    Planted("jax wrong only at an exact zero (smooth point)", softplus_zero_bug, softplus_right, lambda: (_a(3) * 0 + jnp.asarray([0.0, 1.0, -2.0]),), "mismatch"),
]
