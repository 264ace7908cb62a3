"""The private APIs vjpcheck relies on, one test each: if a release removes one, this fails
loudly here instead of silently degrading a check elsewhere."""

from __future__ import annotations

import torch

from vjpcheck.frameworks import backend_named


def test_torch_function_nodes_expose_their_class():
    """``node._forward_cls``: how the backward audit finds ``autograd.Function`` nodes."""

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    y = Double.apply(torch.ones(2, requires_grad=True)).sin()
    backend = backend_named("torch")
    nodes = backend.custom_function_nodes([y])
    assert [backend.forward_class_name(n) for n in nodes] == ["Double"]


def test_jax_local_traceback_filtering_switch_exists():
    """``jax._src.config.traceback_filtering``: the local (not global) switch."""
    from jax._src.config import traceback_filtering

    import jax

    before = jax.config.jax_traceback_filtering
    with traceback_filtering("off"):
        assert jax.config.jax_traceback_filtering == "off"
    assert jax.config.jax_traceback_filtering == before


def test_hypothesis_reads_the_per_function_digest():
    """``_hypothesis_internal_add_digest``: verify's one inner test serves every function;
    the digest gives each function its own example-database key."""
    from hypothesis.internal.reflection import function_digest

    def inner():
        pass

    plain = function_digest(inner)
    inner._hypothesis_internal_add_digest = b"vjpcheck:f"
    assert function_digest(inner) != plain


def test_torch_pytree_flattens_with_paths_and_unflattens():
    """``torch.utils._pytree``: how pytree arguments of PyTorch functions are flattened
    (``tree_flatten_with_path``, ``keystr``) and rebuilt (``tree_unflatten``)."""
    backend = backend_named("torch")
    leaves, structure = backend.tree_flatten({"w": torch.ones(1), "rest": (torch.zeros(2), 3)})
    assert [name for name, _ in leaves] == ["['rest'][0]", "['rest'][1]", "['w']"] or [name for name, _ in leaves] == ["['w']", "['rest'][0]", "['rest'][1]"]
    rebuilt = backend.tree_unflatten(structure, [leaf for _, leaf in leaves])
    assert set(rebuilt) == {"w", "rest"} and rebuilt["rest"][1] == 3
