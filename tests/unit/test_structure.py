"""Pytree and keyword calls (vjpcheck._engine.structure) and structured outputs: leaf
names, what is differentiated, what passes through, and the errors for bad input."""

from __future__ import annotations

import collections
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import vjpcheck

X = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)


def _names(verdict):
    return [a["name"] for a in verdict.case["args"]], [a["differentiated"] for a in verdict.case["args"]]


def test_a_plain_call_keeps_its_argument_names_and_function():
    verdict = vjpcheck.check_vjp(torch.mul, X, X.flip(0))
    assert _names(verdict) == (["arg0", "arg1"], [True, True])
    assert verdict.function == "mul" or verdict.function.endswith("mul")


def test_leaves_are_named_as_the_call_reads():
    Pair = collections.namedtuple("Pair", "w b")

    def f(p, rest, *, scale):
        return p.w * rest[0]["u"] * scale + p.b

    verdict = vjpcheck.check_vjp(f, Pair(X, X + 1), [{"u": X * 2}], kwargs={"scale": torch.tensor(3.0, dtype=torch.float64)})
    assert verdict.status == "pass", verdict.explain()
    assert _names(verdict) == (["arg0.w", "arg0.b", "arg1[0]['u']", "scale"], [True] * 4)


def test_wrt_names_positions_and_keywords_and_integer_leaves_pass_through():
    def f(p, idx, *, w):
        return p["x"][idx] * w

    verdict = vjpcheck.check_vjp(f, {"x": X}, torch.tensor([0, 0, 2]), kwargs={"w": X.sum()}, wrt=["w"])
    assert verdict.status == "pass", verdict.explain()
    assert _names(verdict) == (["arg0['x']", "arg1", "w"], [False, False, True])


def test_non_array_leaves_are_constants_and_jax_dataclass_modules_are_flattened():
    @jax.tree_util.register_dataclass
    @dataclasses.dataclass
    class Layer:
        w: jax.Array
        activation: str = dataclasses.field(metadata={"static": True}, default="tanh")

    def f(layer, x, options):
        y = layer.w @ x
        return jnp.tanh(y) if layer.activation == "tanh" and options[1] == 2 else y

    with jax.enable_x64(True):
        layer = Layer(jnp.asarray(np.arange(6.0).reshape(2, 3) / 6))
        x = jnp.asarray([0.5, -1.0, 0.25])
        verdict = vjpcheck.check_vjp(f, layer, x, ("mode", 2))
    assert verdict.status == "pass", verdict.explain()
    assert _names(verdict)[0] == ["arg0.w", "arg1"]


def test_structured_outputs_are_checked_leaf_by_leaf_and_named():
    @dataclasses.dataclass
    class Solution:
        value: torch.Tensor
        aux: dict

    verdict = vjpcheck.check_vjp(lambda t: Solution(t.sin(), {"norm": t.norm(), "none": None}), X)
    assert verdict.status == "pass", verdict.explain()
    assert [o["name"] for o in verdict.case["outputs"]] == ["out.value", "out.aux['norm']"]
    again = vjpcheck.check_vjp(lambda t: {"b": t.cos(), "a": t.exp()}, X, v={"a": torch.ones(3, dtype=torch.float64), "b": torch.zeros(3, dtype=torch.float64)})
    assert [o["name"] for o in again.case["outputs"]] == ["out['a']", "out['b']"]
    assert np.allclose(again.case["cotangents"][0]["values"], 1.0)  # v given as a dict, matched by key


def test_a_wrong_leaf_is_named_in_the_message_and_the_worst_entries():
    class Halved(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 1.5

    verdict = vjpcheck.check_vjp(lambda p: p["a"].sin() + Halved.apply(p["b"]), {"a": X, "b": X})
    assert verdict.status == "mismatch"
    text = verdict.explain()
    assert "arg0['b'][" in text and "arg0['a'][" not in text.split("worst entries")[1], text


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: vjpcheck.check_vjp(torch.sin, X, kwargs=[("a", X)]), TypeError, "kwargs must be a dict"),
        (lambda: vjpcheck.check_vjp(lambda x: x, X, static=3), ValueError, r"static=3: 3 is neither a position"),
        (lambda: vjpcheck.check_vjp(lambda x, *, k: x * k, X, kwargs={"k": X}, static="q"), ValueError, "'q' is neither"),
        (lambda: vjpcheck.check_vjp(lambda x, *, k: x * k, X, kwargs={"k": X}, wrt="k", static="k"), ValueError, "name the same argument"),
        (lambda: vjpcheck.check_vjp(lambda x, *, k: x * k, X, kwargs={"k": torch.tensor([1])}, wrt="k"), ValueError, "k holds no floating-point"),
        (lambda: vjpcheck.check_vjp(lambda x: x, X, static=1.5), TypeError, "static must be a position"),
    ],
    ids=["kwargs-not-dict", "static-out-of-range", "static-unknown-keyword", "wrt-and-static", "wrt-no-float", "static-float"],
)
def test_bad_structure_options_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_an_unregistered_dataclass_holding_arrays_is_refused_by_name():
    @dataclasses.dataclass
    class Params:
        w: torch.Tensor

    with pytest.raises(TypeError, match=r"arg0: a .*Params holding arrays is not a pytree node of torch.*register_dataclass"):
        vjpcheck.check_vjp(lambda p: p.w.sin(), Params(X))


def test_a_jax_structured_call_compiles_once_per_structure():
    """Equal structured calls share JAX's compiled methods (they are keyed by function)."""
    from vjpcheck._engine.structure import flatten_call
    from vjpcheck.frameworks import backend_named

    backend = backend_named("jax")
    x = jnp.ones(3)
    fn = lambda p: p["a"] * 2  # noqa: E731
    first = flatten_call(fn, ({"a": x},), None, None, None, backend)[0]
    second = flatten_call(fn, ({"a": x + 1},), None, None, None, backend)[0]
    other = flatten_call(fn, ({"a": x, "b": x},), None, None, None, backend)[0]
    assert first == second and hash(first) == hash(second) and first != other


def test_the_reproducer_writes_named_tuples_by_their_class_and_refuses_unimportable_ones():
    import collections

    import structured

    step = structured.Step(X, X * 2)
    verdict = vjpcheck.check_vjp(lambda s, *, k: s.params * s.residual * k, step, kwargs={"k": X})
    assert "from structured import Step" in verdict.reproducer
    assert "Step(params=leaf0, residual=leaf1)" in verdict.reproducer and "kwargs={'k': leaf2}" in verdict.reproducer
    Local = collections.namedtuple("Local", "a b")
    local = vjpcheck.check_vjp(lambda t: t.a * t.b, Local(X, X))
    assert "arg0 = NotImplemented" in local.reproducer and "supply arg0 above" in local.reproducer
