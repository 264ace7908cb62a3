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


# ---- nothing untrusted reaches code position -------------------------------------------


def _hostile(marker):
    return f"x\nimport pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n#"


def test_a_hostile_qualname_runs_nothing(tmp_path):
    marker = tmp_path / "injected"

    def f(x):
        return x.sin() * 3

    f.__qualname__ = f.__name__ = _hostile(marker)
    verdict = vjpcheck.check_vjp(f, torch.ones(3, dtype=torch.float64))
    assert all(not line.startswith("import pathlib") for line in verdict.reproducer.splitlines())
    done = _run_script(tmp_path, verdict.reproducer)
    assert not marker.exists(), verdict.reproducer
    assert done.returncode == 1 and "supply fn above" in done.stderr  # a clear stop, not a crash
    assert "Traceback" not in done.stderr


def test_a_hostile_module_name_is_not_imported(tmp_path):
    marker = tmp_path / "injected"

    def f(x):
        return x.cos()

    f.__module__ = "os; import pathlib; pathlib.Path(" + repr(str(marker)) + ").write_text('ran')"
    verdict = vjpcheck.check_vjp(f, torch.ones(3, dtype=torch.float64))
    done = _run_script(tmp_path, verdict.reproducer)
    assert not marker.exists(), verdict.reproducer
    assert done.returncode == 0 and "PASS" in done.stdout  # its source was recovered instead


def test_an_argument_without_a_literal_form_gets_a_placeholder(tmp_path):
    marker = tmp_path / "injected"

    class Config:
        def __repr__(self):
            return f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')"

    def scaled(x, config, k):
        return x.sin() * k

    verdict = vjpcheck.check_vjp(scaled, torch.ones(3, dtype=torch.float64), Config(), 2.5)
    assert "arg2 = 2.5" in verdict.reproducer and "arg1 = NotImplemented" in verdict.reproducer
    done = _run_script(tmp_path, verdict.reproducer)
    assert not marker.exists()
    assert done.returncode == 1 and "supply arg1 above" in done.stderr and "Traceback" not in done.stderr


def test_a_lambda_is_written_from_its_own_text_and_the_script_runs(tmp_path):
    verdict = vjpcheck.check_vjp(lambda x: x.tanh() * 2, torch.ones(3, dtype=torch.float64))
    text = verdict.reproducer
    assert "fn = lambda x: x.tanh() * 2" in text
    done = _run_script(tmp_path, text)
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout


SCALE = 2.0


def test_a_lambda_brings_the_modules_functions_and_constants_it_uses(tmp_path):
    from vjpcheck import maps

    def _symmetric(a):
        return (a + a.mT) / 2

    def check(power):  # a closure over a number, globals: a module, a function, a constant
        eig = lambda a: torch.linalg.eigh(_symmetric(a))[1] * SCALE ** power  # noqa: E731
        return vjpcheck.check_vjp(eig, torch.eye(3, dtype=torch.float64) * torch.tensor([1.0, 2.0, 3.0]), output_map=lambda V: maps.outer(
            V, axis=-2))  # fmt: skip  (a lambda over two lines)

    text = check(1).reproducer
    assert "power = 1" in text and "SCALE = 2.0" in text and "def _symmetric(a):" in text
    assert "from vjpcheck import maps" in text and "output_map_fn = (lambda V: maps.outer(" in text
    done = _run_script(tmp_path, text)
    assert done.returncode == 0, done.stderr
    assert "PASS" in done.stdout


def test_a_lambda_over_an_array_gets_its_source_as_a_comment_and_a_placeholder(tmp_path):
    weights = torch.arange(3.0, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(lambda x: (x.tanh() * weights).sum(), torch.ones(3, dtype=torch.float64))
    text = verdict.reproducer
    assert "# verdict = vjpcheck.check_vjp(lambda x: (x.tanh() * weights)" in text  # the line it came from, not run
    assert "fn = NotImplemented" in text
    done = _run_script(tmp_path, text)
    assert done.returncode == 1 and "supply fn above" in done.stderr


def test_a_class_defined_under_python_c_gets_a_placeholder(tmp_path):
    program = textwrap.dedent("""
        import torch, vjpcheck
        class Double(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return 2 * x
            @staticmethod
            def backward(ctx, g):
                return 3 * g
        print(vjpcheck.check_vjp(Double.apply, torch.ones(2, dtype=torch.float64)).reproducer)
    """)
    made = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert "fn = NotImplemented" in made.stdout and "cannot be imported" in made.stdout
    done = _run_script(tmp_path, made.stdout)
    assert done.returncode == 1 and "supply fn above" in done.stderr


def test_safe_literals_rebuild_values_and_refuse_objects():
    import numpy as np

    from vjpcheck._engine.reproducer import safe_literal

    values = [None, True, 3, -2.5, float("nan"), float("-inf"), 1 + 2j, "a'\n\"b", b"\x00", (1,), [1, (2, 3)], {"k": [1.5]}, slice(1, None, 2), np.float32(0.5), torch.float32]
    namespace = {"np": np, "torch": torch}
    for value in values:
        text = safe_literal(value)
        assert text is not None, value
        again = eval(text, namespace)  # noqa: S307 - the point of the test
        assert type(again) is type(value) and (again == value or (again != again and value != value)), (value, text)
    assert safe_literal(object()) is None and safe_literal([1, object()]) is None


def test_a_large_reproducer_keeps_its_arrays_in_a_side_file_and_still_reproduces(tmp_path, monkeypatch):
    """Large cases: a short script that loads the exact values from an .npz beside it."""
    monkeypatch.setenv("VJPCHECK_REPRODUCER_DIR", str(tmp_path / "reproducers"))
    x = torch.linspace(-3, 3, 1500, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, x)
    assert verdict.status == "mismatch" and len(verdict.reproducer) > 20_000
    path = verdict.reproducer_file()
    script = open(path).read()
    assert len(script) < 3_000 and "base64.b64decode" not in script, script
    assert os.path.exists(path[: -len(".py")] + ".npz")
    env = dict(os.environ, PYTHONPATH=CORPUS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, path], capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "MISMATCH" in done.stdout


def test_the_reproducer_is_built_when_read_from_the_values_the_check_saw():
    """Built lazily (a passing check of 1e7 entries skips 200 MB of text), from the case's
    snapshots: a caller that changes its tensor afterwards does not change the script."""
    import pickle

    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(torch.sin, x)
    assert callable(verdict.__dict__["_reproducer"])  # nothing built yet
    x.mul_(100)
    script = verdict.reproducer
    assert "arg0 = make_tensor([-1.0, -0.5, 0.0, 0.5, 1.0]" in script
    assert verdict.__dict__["_reproducer"] == script  # built once
    assert pickle.loads(pickle.dumps(verdict)).reproducer == script
