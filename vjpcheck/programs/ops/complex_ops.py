"""Complex ops: real, imag, conj, angle, and building a complex array from two real ones.

Complex multiplication, division, exp, abs, matmul… are the ordinary ops with
``complex_ok``; these are the ones that cross between real and complex.
"""

from __future__ import annotations

import numpy as np

from ..registry import Op, away_from, lowering, register


def _angle_smooth(z):
    """Away from 0 and from the branch cut on the negative real axis."""
    z = np.asarray(z)
    on_cut_side = np.real(z) < 0
    return away_from(np.abs(z)) and away_from(np.where(on_cut_side, np.imag(z), 1.0))


def _complex(xp, a, b):
    if xp.name == "torch":
        return xp.m.complex(a, b)
    if xp.name == "jax":
        return xp.lax.complex(a, b)
    return a + 1j * b


register(
    Op("real", "complex", lowering(lambda xp, z: xp.m.real(z)), complex_ok=True, real_ok=False, makes_real=True),
    Op("imag", "complex", lowering(lambda xp, z: xp.m.imag(z)), complex_ok=True, real_ok=False, makes_real=True),
    Op("conj", "complex", lowering(lambda xp, z: xp.m.conj(z)), complex_ok=True, real_ok=False, doc="a lazy conjugate view in PyTorch"),
    Op("angle", "complex", lowering(lambda xp, z: xp.m.angle(z)), complex_ok=True, real_ok=False, makes_real=True, smooth=_angle_smooth, kinks="0 and the negative real axis"),
    Op("complex", "complex", lowering(_complex), arity=2, operands=lambda draw, s: [tuple(s), tuple(s)], makes_complex=True, doc="a + i·b from two real arrays"),
)
