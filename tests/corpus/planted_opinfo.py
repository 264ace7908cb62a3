"""OpInfos with planted backward bugs (and a correct twin) for ``vjpcheck opinfo``'s tests.

``installed(*ops)`` adds them to the database vjpcheck reads, for in-process runs
(``--workers 1``)."""

from __future__ import annotations

import contextlib

from planted_torch import SinRight, SinWrongScale
from torch.testing import make_tensor


def _samples(op, device, dtype, requires_grad, **kwargs):
    from torch.testing._internal.opinfo.core import SampleInput

    for shape in ((5,), (2, 3), ()):
        yield SampleInput(make_tensor(shape, device=device, dtype=dtype, requires_grad=requires_grad, low=-2, high=2))


def opinfo(name: str, fn, **more):
    from torch.testing._internal.common_dtype import floating_types
    from torch.testing._internal.opinfo.core import OpInfo

    return OpInfo(name, op=fn, dtypes=floating_types(), sample_inputs_func=_samples, supports_autograd=True,
                  supports_forward_ad=False, supports_gradgrad=False, **more)


def planted_ops() -> dict:
    """name → OpInfo: a wrong backward, the same declared as an expected failure, a right one."""
    import unittest

    from torch.testing._internal.opinfo.core import DecorateInfo

    return {
        "planted_sin_twice": opinfo("planted_sin_twice", SinWrongScale.apply),
        "planted_sin_twice_xfail": opinfo("planted_sin_twice_xfail", SinWrongScale.apply,
                                          decorators=(DecorateInfo(unittest.expectedFailure, "TestBwdGradients", "test_fn_grad"),)),
        "planted_sin_right": opinfo("planted_sin_right", SinRight.apply),
    }


@contextlib.contextmanager
def installed(monkeypatch, *names: str):
    """The database with the named planted OpInfos added."""
    from vjpcheck.opinfo import database

    ops = planted_ops()
    extended = database.op_db() + tuple(ops[n] for n in names)
    monkeypatch.setattr(database, "op_db", lambda: extended)
    yield
