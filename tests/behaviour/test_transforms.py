"""Gradients under transforms: planted compiler and batching-rule bugs are caught with
minimal cases, faithful compilers pass, and a transform that cannot apply says why."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import planted_compilers as pc
import vjpcheck
from vjpcheck.oracles.transforms import torch_compile
from vjpcheck.strategies import tensor


def _f64(*shape):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(sum(shape) + 7))


def broadcast_product(x, y):
    return torch.sin(x * y)


def product(x, y):
    return torch.mul(x, y)


CORRECT = {
    "broadcast": (broadcast_product, ("n, 1", "n, m")),
    "matmul": (lambda a, b: torch.tanh(a @ b), ("n, k", "k, m")),
    "cumsum-softmax": (lambda x: torch.softmax(x.cumsum(-1), -1), ("n, m",)),
    "reduction": (lambda x: torch.log1p(x.exp() / x.exp().sum(0, keepdim=True)), ("n, m",)),
}


# ---- planted compiler bugs ---------------------------------------------------------------


def test_a_backward_compiler_that_averages_broadcast_reductions_is_caught_minimally():
    with pytest.raises(vjpcheck.VJPMismatch) as info:
        vjpcheck.verify(broadcast_product, tensor("n, 1", dtype="float64"), tensor("n, m", dtype="float64"),
                        transforms="compile", compile_backend=pc.broadcast_mean, seed=0, max_examples=30)
    verdict = info.value.verdict
    assert verdict.suspects() == ["torch.compile[broadcast_mean]"], verdict.explain()
    results = {o.name: o for o in verdict.oracles}
    assert results["torch.compile[aot_eager]"].ok  # AOTAutograd alone agrees: the backend's bug
    y_shape = verdict.case["args"][1]["shape"]
    assert y_shape[0] <= 1 and y_shape[1] <= 2, verdict.explain()  # minimal: one row, m ≠ 1
    assert "under torch.compile[broadcast_mean]" in str(info.value)
    assert any("the fault is in the backend's lowering" in n for n in verdict.notes), verdict.notes


def test_a_backward_compiler_wrong_only_at_zeros_is_caught_at_a_zero():
    with pytest.raises(vjpcheck.VJPMismatch) as info:
        vjpcheck.verify(product, tensor("n", dtype="float64"), tensor("n", dtype="float64"),
                        transforms="compile", compile_backend=pc.wrong_at_zero, seed=0, max_examples=60)
    verdict = info.value.verdict
    assert verdict.suspects() == ["torch.compile[wrong_at_zero]"], verdict.explain()
    x, y = (np.asarray(a["values"]) for a in verdict.case["args"])
    assert x.size == 1 and (x == 0).any() or (y == 0).any(), verdict.explain()


def test_the_same_bug_is_invisible_without_a_zero():
    x, y = _f64(4) + 3, _f64(4) + 3  # no exact zero anywhere (inputs, saved values)
    assert vjpcheck.check_vjp(product, x, y, transforms="compile", compile_backend=pc.wrong_at_zero).status == "pass"


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_a_faithful_compiler_passes(name):
    fn, shapes = CORRECT[name]
    summary = vjpcheck.verify(fn, *[tensor(s, dtype="float64") for s in shapes], transforms="compile",
                              compile_backend=pc.faithful, seed=1, max_examples=20)
    assert summary.counts.get("mismatch", 0) == summary.counts.get("error", 0) == 0
    assert summary.oracles_run["torch.compile[faithful]"] >= 10, str(summary)


def test_a_planted_compiler_bug_is_caught_in_random_programs_with_a_minimal_program():
    from vjpcheck.programs import runner
    from vjpcheck.programs.generate import programs

    chunk = runner.Chunk("composed", 8, seed=3, max_ops=2, transforms=("compile",))
    result = runner.run_chunk(chunk, strategy=programs(max_ops=2, ops=["mul", "add", "sin"], complex_rate=0.0),
                              compile_backend=pc.broadcast_mean)
    assert result.failures, "the planted compiler bug went unnoticed over 8 programs"
    failure = result.failures[0]
    assert "torch.compile[broadcast_mean]" in failure["culprits"]
    assert "torch.backward" not in failure["culprits"]
    assert len(failure["ops"]) <= 2, failure["verdict"]["case"]["source"]


# ---- planted batching-rule bugs ------------------------------------------------------------


@pytest.fixture
def flipped_batching_rule(monkeypatch):
    monkeypatch.setattr(pc.ScaleKernel, "flip_batch", True)


def test_a_correct_batching_rule_passes():
    verdict = vjpcheck.check_vjp(pc.cube, _f64(5), transforms="vmap")
    assert verdict.status == "pass", verdict.explain()
    assert {o.name: o.status for o in verdict.oracles}["torch.vmap"] == "ok"


def test_a_batching_rule_that_mixes_batch_entries_is_caught(flipped_batching_rule):
    verdict = vjpcheck.check_vjp(pc.cube, _f64(5), transforms="vmap")
    assert verdict.status == "mismatch"
    assert verdict.suspects() == ["torch.vmap"], verdict.explain()
    assert any("batch entry" in f.message and "computed alone" in f.message for f in verdict.findings)
    assert vjpcheck.check_vjp(pc.cube, _f64(5)).status == "pass"  # invisible without vmap


def _scaling(flip: bool):
    """``g · w`` with its own batching rule; ``flip`` plants one that reverses the batch."""

    @jax.custom_batching.custom_vmap
    def scale(g, w):
        return g * w

    @scale.def_vmap
    def rule(axis_size, in_batched, g, w):
        g = g if in_batched[0] else jnp.broadcast_to(g, (axis_size, *g.shape))
        w = w if in_batched[1] else jnp.broadcast_to(w, (axis_size, *w.shape))
        out = g * w
        return (out[::-1] if flip else out), True

    return scale


def _jax_cube(flip: bool):
    """x³ as a custom VJP whose backward multiplies through the batching-ruled kernel."""
    scale = _scaling(flip)

    @jax.custom_vjp
    def cube(x):
        return x**3

    cube.defvjp(lambda x: (x**3, x), lambda x, g: (scale(g, 3 * x * x),))
    return cube


def test_a_jax_batching_rule_that_mixes_batch_entries_is_caught():
    x = jnp.asarray(np.linspace(-1.0, 1.5, 5), dtype=jnp.float32)
    assert vjpcheck.check_vjp(_jax_cube(flip=False), x, transforms="vmap").status == "pass"
    flipped = _jax_cube(flip=True)
    verdict = vjpcheck.check_vjp(flipped, x, transforms="vmap")
    assert verdict.suspects() == ["jax.vmap"], verdict.explain()
    assert vjpcheck.check_vjp(flipped, x).status == "pass"  # invisible without vmap


def test_jax_jit_and_eager_agree_on_a_correct_function():
    x = jnp.asarray(np.linspace(-1.0, 1.5, 6).reshape(2, 3))
    verdict = vjpcheck.check_vjp(lambda x: jnp.cumsum(jnp.tanh(x), 1) ** 2, x, transforms="jit")
    assert verdict.status == "pass", verdict.explain()
    assert {o.name for o in verdict.oracles if o.ok} >= {"jax.vjp", "jax.eager"}


# ---- unavailable, never a failure of the function ------------------------------------------


def test_a_function_dynamo_runs_eagerly_is_unavailable_under_compile():
    fn = torch._dynamo.disable(lambda x: x.sin() * 2)
    verdict = vjpcheck.check_vjp(fn, _f64(3), transforms="compile", compile_backend=pc.faithful)
    assert verdict.status == "pass", verdict.explain()
    result = {o.name: o for o in verdict.oracles}["torch.compile[faithful]"]
    assert result.status == "unavailable" and "eagerly" in result.message


def test_a_function_vmap_cannot_batch_is_unavailable_under_vmap():
    fn = lambda x: x * 2 if x.sum() > 0 else x * 3  # noqa: E731 (data-dependent control flow)
    verdict = vjpcheck.check_vjp(fn, _f64(3), transforms="vmap")
    assert verdict.status == "pass", verdict.explain()
    result = {o.name: o for o in verdict.oracles}["torch.vmap"]
    assert result.status == "unavailable" and result.message


def test_compilations_are_bounded_per_function_and_the_summary_says_what_was_checked(monkeypatch):
    monkeypatch.setattr(torch_compile, "MAX_COMPILATIONS", 2)
    fn = lambda x, y: torch.cos(x * y)  # noqa: E731 (a function of its own: a cache entry of its own)
    summary = vjpcheck.verify(fn, tensor("n, m", dtype="float64"), tensor("n, m", dtype="float64"),
                              transforms="compile", compile_backend=pc.faithful, seed=2, max_examples=25)
    assert summary.counts.get("mismatch", 0) == 0
    assert any("bound per function: 2" in reason for (_, reason) in summary.transform_unavailable)
    assert "torch.compile[faithful]: checked" in str(summary)
    assert len(summary.compile_seconds) <= 4  # two per compile oracle at most


def test_compiled_functions_are_reused_across_examples():
    fn = lambda x: x.exp().cumsum(0)  # noqa: E731
    first = vjpcheck.check_vjp(fn, _f64(4), transforms="compile", compile_backend=pc.faithful)
    again = vjpcheck.check_vjp(fn, _f64(4), transforms="compile", compile_backend=pc.faithful)
    compiled = lambda v: {o.name: o for o in v.oracles}["torch.compile[faithful]"]  # noqa: E731
    assert compiled(first).compile_seconds > 0 and compiled(again).compile_seconds == 0
    assert compiled(again).ok


# ---- the real compiler ---------------------------------------------------------------------


def test_inductor_agrees_on_a_correct_function():
    verdict = vjpcheck.check_vjp(lambda x, y: (x.tanh() * y).cumsum(0).sin(), _f64(5, 3), _f64(5, 3), transforms="compile")
    assert verdict.status == "pass", verdict.explain()
    results = {o.name: o for o in verdict.oracles}
    assert results["torch.compile"].status == "ok", results["torch.compile"].message
    assert results["torch.compile[aot_eager]"].status == "ok"


# ---- options -------------------------------------------------------------------------------


def test_transform_options_are_validated_by_name():
    x = _f64(3)
    with pytest.raises(ValueError, match="transforms: unknown transform 'compiled'"):
        vjpcheck.check_vjp(torch.sin, x, transforms=["compiled"])
    with pytest.raises(TypeError, match="compile_backend="):
        vjpcheck.check_vjp(torch.sin, x, transforms=[pc.faithful])
    with pytest.raises(ValueError, match="add one of them to transforms="):
        vjpcheck.check_vjp(torch.sin, x, compile_backend=pc.faithful)
    with pytest.raises(ValueError, match="'func-compile' has no jax form"):
        vjpcheck.check_vjp(jnp.sin, jnp.ones(3), transforms="func-compile")
    assert vjpcheck.check_vjp(jnp.sin, jnp.ones(3), transforms="all").status == "pass"


def test_the_reproducer_names_the_transforms():
    verdict = vjpcheck.check_vjp(torch.sin, _f64(3), transforms=["vmap"])
    assert "transforms=['vmap']" in verdict.reproducer
