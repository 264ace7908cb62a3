"""Reproducers are scripts that run when pasted and give the same verdict."""

import os
import subprocess
import sys
import textwrap

import torch

import planted_torch
import vjpcheck

CORPUS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "corpus")


def _run_script(tmp_path, text):
    script = tmp_path / "repro.py"
    script.write_text(text)
    env = dict(os.environ, PYTHONPATH=CORPUS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)


def test_reproducer_reproduces_layout_dependent_bug(tmp_path):
    x = planted_torch._transposed(3, 4)
    verdict = vjpcheck.check_vjp(planted_torch.SquareAssumesContiguousInput.apply, x)
    assert verdict.status == "mismatch"
    assert "strides=(1, 3)" in verdict.reproducer
    done = _run_script(tmp_path, verdict.reproducer)
    assert done.returncode == 0, done.stderr
    assert "MISMATCH" in done.stdout


def test_reproducer_with_integer_args_and_expanded_cotangent(tmp_path):
    idx = torch.tensor([0, 2, 2])
    v = torch.tensor([[1.5], [2.0], [-1.0]], dtype=torch.float64).expand(3, 2)
    verdict = vjpcheck.check_vjp(planted_torch.take_rows_bug, torch.randn(4, 2, dtype=torch.float64), idx, v=v)
    assert verdict.status == "mismatch", verdict.explain()
    done = _run_script(tmp_path, verdict.reproducer)
    assert done.returncode == 0, done.stderr
    assert "MISMATCH" in done.stdout


def test_reproducer_for_jax_custom_vjp(tmp_path):
    import planted_jax

    verdict = vjpcheck.check_vjp(planted_jax.sin_wrong_scale, *planted_jax.PLANTED[5].make_args())
    assert verdict.status == "mismatch"
    done = _run_script(tmp_path, verdict.reproducer)
    assert done.returncode == 0, done.stderr
    assert "MISMATCH" in done.stdout


def test_make_tensor_rebuilds_layouts():
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    for view in (base.mT, base[:, ::2], base[1:, 1:], base[:1].expand(5, 4)):
        rebuilt = vjpcheck.make_tensor(view.tolist(), dtype="float64", strides=view.stride(), offset=view.storage_offset())
        assert torch.equal(rebuilt, view) and rebuilt.stride() == view.stride()


def test_reproducer_for_local_function_includes_source():
    def local_fn(x):
        return torch.sin(x) * 2

    verdict = vjpcheck.check_vjp(local_fn, torch.ones(2, dtype=torch.float64))
    text = textwrap.dedent(verdict.reproducer)
    assert "def local_fn(x):" in text and "return torch.sin(x) * 2" in text


def test_reproducer_keeps_every_option_that_shaped_the_verdict(tmp_path):
    """Seen only by the primal oracle: the reproducer must ask for it again (and for atol,
    and the size limits), or the pasted script would not show the mismatch."""
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    options = dict(oracles=["torch.backward"], primal="auto", atol=1e-12, fd_max_coords=100, jacobian_max_rows=50)
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, x, **options)
    assert verdict.status == "mismatch"
    for text in ("primal='auto'", "atol=1e-12", "fd_max_coords=100", "jacobian_max_rows=50"):
        assert text in verdict.reproducer
    done = _run_script(tmp_path, verdict.reproducer)
    assert done.returncode == 0, done.stderr
    assert "MISMATCH" in done.stdout


def test_reproducer_names_callables_it_cannot_write_out():
    import jax.numpy as jnp

    verdict = vjpcheck.check_vjp(torch.sin, torch.ones(2, dtype=torch.float64), twin=jnp.sin)
    assert "twin=" in verdict.reproducer and "jax.numpy" in verdict.reproducer
