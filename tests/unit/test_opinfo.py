"""``vjpcheck.opinfo``: OpInfo samples as check cases, PyTorch's declarations honoured, and
every outcome classified (nothing escapes, nothing is called a pass that was not checked)."""

from __future__ import annotations

import argparse
import unittest

import pytest
import torch

pytest.importorskip("expecttest", reason="vjpcheck opinfo needs expecttest (vjpcheck[opinfo])")

from planted_opinfo import installed  # noqa: E402

from vjpcheck.cli.opinfo import sample_counts  # noqa: E402
from vjpcheck.opinfo import database, sweep  # noqa: E402
from vjpcheck.opinfo.samples import load_sample, samples  # noqa: E402
from vjpcheck.programs import known  # noqa: E402


def outcomes(name: str, dtypes=("float64",), order: int = 1, count: int = 3):
    op = database.find(name)
    return sweep.check_op(op, "cpu", list(dtypes), {d: count for d in dtypes}, order, 60, known.load())


def test_decorator_effects_are_read_from_the_decorators_themselves():
    assert database._effect(unittest.expectedFailure) == ("expected failure", "")
    assert database._effect(unittest.skip("Gradients are incorrect!")) == ("skipped", "Gradients are incorrect!")
    assert database._effect(lambda fn: fn) is None  # e.g. a tolerance override
    assert database._effect(lambda fn: 1 / 0) is None


def test_samples_are_pytorchs_own_and_leave_the_callers_rng_alone():
    op = database.find("sin")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = list(samples(op, "cpu", torch.float64, 2))
    assert torch.equal(torch.get_rng_state(), state)
    pytorchs = [s.input for _, s in zip(range(2), op.sample_inputs("cpu", torch.float64, requires_grad=True))]
    assert first and len(first) == len(pytorchs)
    assert all(torch.equal(a.inputs[0], b.detach()) for a, b in zip(first, pytorchs))
    again = load_sample("sin", "cpu", "float64", index=0)
    assert first[0].inputs[0].numel() > 0 and torch.equal(first[0].inputs[0], again.inputs[0])
    with pytest.raises(IndexError, match="sin has fewer than 9 samples"):
        load_sample("sin", "cpu", "float64", index=8)
    # the function substitutes its arguments for the sample's differentiable tensors
    x = again.inputs[0]
    assert torch.equal(again.fn(x), torch.sin(x))


def test_unknown_op_names_are_a_clear_error():
    with pytest.raises(ValueError, match="no autograd OpInfo named \\['no_such_op'\\]"):
        database.autograd_ops(["sin", "no_such_op"])
    assert {database.full_name(o) for o in database.autograd_ops(["linalg.norm"])} == {"linalg.norm", "linalg.norm.subgradients_at_zero"}


def test_sample_counts():
    assert sample_counts(None, ["float64", "complex128"]) == {"float64": 3, "complex128": 2}
    assert sample_counts("5", ["float64", "complex128"]) == {"float64": 5, "complex128": 5}
    assert sample_counts("complex128:1", ["float64", "complex128"]) == {"float64": 3, "complex128": 1}
    with pytest.raises(argparse.ArgumentTypeError, match="unknown dtype 'int8'"):
        sample_counts("int8:2", ["float64"])


def test_a_planted_backward_bug_is_a_mismatch_and_its_reproducer_rebuilds_the_sample(monkeypatch):
    with installed(monkeypatch, "planted_sin_twice"):
        found = outcomes("planted_sin_twice")
    assert [o.status for o in found] == ["mismatch"] * 3
    reproducer = found[0].verdict.reproducer
    assert "sample_function('planted_sin_twice', 'cpu', 'float64', index=0)" in reproducer


def test_a_failure_the_opinfo_expects_is_known_with_pytorchs_reason(monkeypatch):
    with installed(monkeypatch, "planted_sin_twice_xfail", "planted_sin_right"):
        declared = outcomes("planted_sin_twice_xfail")
        right = outcomes("planted_sin_right", order=2)
    assert {(o.status, o.known) for o in declared} == {("known", "opinfo:TestBwdGradients.test_fn_grad")}
    assert "marks TestBwdGradients.test_fn_grad as expected failure" in declared[0].reason
    # a correct op passes at first order; second order is skipped with the OpInfo's reason
    assert [o.status for o in right if o.order == 1] == ["pass"] * 3
    assert {o.reason for o in right if o.order == 2} == {"the OpInfo declares supports_gradgrad=False"}
    assert all("torch.forward left out: the OpInfo declares supports_forward_ad=False" in o.notes for o in right if o.order == 1)


def test_hardsigmoids_float32_constant_is_a_known_difference():
    """PyTorch's float64 hardsigmoid backward uses 1/6 rounded to float32 (3e-8 relative):
    found, and explained by known_differences.toml, not by a loose tolerance."""
    found = outcomes("nn.functional.hardsigmoid", count=1)
    assert [(o.status, o.known) for o in found] == [("known", "torch-hardsigmoid-float64-backward-float32-constant")]


def test_refusals_are_skips_with_the_message_and_escapes_are_errors(monkeypatch):
    chalf = outcomes("chalf", count=1)
    assert chalf[0].status == "skipped" and "no floating-point or complex output" in chalf[0].reason

    def broken(*args, **kwargs):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr("vjpcheck.check_vjp", broken)
    escaped = outcomes("sin", count=1)
    assert escaped[0].status == "error" and escaped[0].escaped
    assert escaped[0].reason == "vjpcheck raised RuntimeError: an internal bug"


@pytest.mark.parametrize(
    "name",
    [
        "as_strided.partial_views",  # complex input at a storage offset: the realified Jacobian cannot keep it
        "native_layer_norm",  # mean/rstd outputs PyTorch declares non-differentiable
        "tensor_split",  # torch.func cannot trace tensor indices
        "std_mean",  # complex input, real and complex outputs
        "nn.functional.normalize",  # reverse mode vs the explicit Jacobian: 1/|x| − x²/|x|³ cancels
        "nn.functional.multi_head_attention_forward",  # the same at a saturated softmax
    ],
)
def test_opinfo_samples_that_were_false_alarms_pass(name):
    found = outcomes(name, dtypes=("float64", "complex128"), count=3)
    assert found and all(o.status in ("pass", "skipped", "known", "inconclusive") for o in found), [(o.dtype, o.index, o.status, o.reason) for o in found]


def test_second_order_methods_of_one_rule_are_not_held_to_first_orders_bound():
    """householder_product in complex128: reverse mode and the explicit Jacobian of the VJP
    map differ by 2.3e-9 relative (finite differences agree with both)."""
    found = outcomes("linalg.householder_product", dtypes=("complex128",), count=2, order=2)
    assert found and all(o.status in ("pass", "skipped", "known", "inconclusive") for o in found), [(o.dtype, o.index, o.status, o.reason) for o in found]
