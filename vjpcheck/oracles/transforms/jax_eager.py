"""``jax.vjp`` op by op (``jax.disable_jit``): the referee for ``jax.vjp``, which runs
under ``jax.jit``, where XLA fuses and reorders the whole backward."""

from __future__ import annotations

import jax

from ..jax_vjp import JaxVjp


class JaxEager(JaxVjp):
    name = "jax.eager"
    rule = "jax-reverse@eager"
    applies_to_order2 = False

    def pullback(self, jitted, eager, *args):
        with jax.disable_jit():
            return eager(*args)
