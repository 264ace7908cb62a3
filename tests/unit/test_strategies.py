"""Strategies validate their arguments when they are built (one table of bad calls)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from vjpcheck.strategies import cotangent, dtypes, index, tensor

BAD_CALLS = [
    (lambda: tensor("n", dtype="flaot32"), ValueError, r"dtype: unknown dtype\(s\) \['flaot32'\]"),
    (lambda: tensor("n", dtype=[]), TypeError, "dtype must be a dtype name"),
    (lambda: tensor("n", layouts=["contig"]), ValueError, r"layouts: unknown name\(s\) \['contig'\]"),
    (lambda: tensor("n", layouts=[]), ValueError, "layouts must name at least one"),
    (lambda: tensor("n", min_side=3, max_side=2), ValueError, "need min_side <= max_side"),
    (lambda: tensor("n", min_side=-1), ValueError, "min_side must be a non-negative int"),
    (lambda: tensor("n", max_side=True), TypeError, "max_side must be an int"),
    (lambda: tensor("n", framework="tf"), ValueError, "framework must be 'torch' or 'jax'"),
    (lambda: tensor("n", transform="spd"), TypeError, "transform must be callable"),
    (lambda: tensor("n", device=["tpu"]), ValueError, r"device: unknown name\(s\) \['tpu'\]"),
    (lambda: tensor("n,?"), ValueError, "neither a size nor a dimension name"),
    (lambda: index("k", high=-1), ValueError, "high must be a non-negative int"),
    (lambda: index("k", high="n m"), ValueError, "high must be a dimension name"),
    (lambda: cotangent((2,), "float64", kinds=["dens"]), ValueError, r"kinds: unknown name\(s\) \['dens'\]"),
    (lambda: cotangent((2,), "real"), ValueError, "dtype must be one dtype name"),
    (lambda: cotangent((2, -1), "float64"), ValueError, "shape must be a non-negative int"),
    (lambda: dtypes("reel"), ValueError, r"family: unknown dtype\(s\) \['reel'\]"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS, ids=[m for _, _, m in BAD_CALLS])
def test_bad_arguments_fail_when_the_strategy_is_built(call, error, message):
    with pytest.raises(error, match=message):
        call()


@settings(max_examples=10, database=None)
@given(tensor("2,n", dtype=["float32", "complex64"]), cotangent((3,), "float32"))
def test_good_arguments_draw(drawn, v):
    assert drawn.dtype in ("float32", "complex64") and drawn.values.shape[0] == 2
    assert v.values.shape == (3,) and v.dtype == "float32"
