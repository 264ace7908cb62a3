"""CUDA paths: AD oracles on the GPU, the finite-difference reference on the CPU."""

import pytest
import torch

import planted_torch
import vjpcheck
from devices import requires_cuda, requires_jax_gpu

pytest_plugins = ["pytester"]


@requires_cuda
def test_cuda_case_passes_and_stays_on_device():
    x = torch.randn(3, 4, dtype=torch.float64, device="cuda")
    verdict = vjpcheck.check_vjp(lambda a: torch.softmax(a, -1) @ a.mT, x)
    assert verdict.status == "pass", verdict.explain()
    assert verdict.case["args"][0]["device"].startswith("cuda")


@requires_cuda
def test_cuda_float32_with_tf32_matmul():
    x = torch.randn(16, 16, device="cuda")
    y = torch.randn(16, 16, device="cuda")
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        verdict = vjpcheck.check_vjp(lambda a, b: torch.tanh(a @ b), x, y)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    assert verdict.status == "pass", verdict.explain()  # TF32's tolerance, not float32's


@requires_cuda
def test_cuda_planted_bug_caught():
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, torch.randn(5, dtype=torch.float64, device="cuda"))
    assert verdict.status == "mismatch"


@requires_cuda
def test_cuda_wrong_device_gradient():
    class CpuGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).cpu()

    verdict = vjpcheck.check_vjp(CpuGrad.apply, torch.ones(3, dtype=torch.float64, device="cuda"))
    assert verdict.status == "error"
    assert {"wrong-device", "oracle-error"} & verdict.finding_kinds()


def test_cuda_absence_is_a_clean_skip():
    """Without CUDA the module still imports and the other tests report 'skipped'."""
    assert isinstance(torch.cuda.is_available(), bool)


@requires_cuda
def test_cpu_vs_cuda_oracle_joins_cuda_cases():
    x = torch.randn(4, 5, dtype=torch.float64, device="cuda")
    verdict = vjpcheck.check_vjp(lambda a: torch.logsumexp(a, 1) * a.sum(0).mean(), x)
    assert verdict.status == "pass", verdict.explain()
    cpu = next(o for o in verdict.oracles if o.name == "torch.cpu")
    assert cpu.status == "ok"
    assert any(c.got == "torch.cpu" or c.expected == "torch.cpu" for c in verdict.comparisons)


class _WrongOnCuda(torch.autograd.Function):
    """A device-dependent backward: right on the CPU, off by 1e-3 on a GPU."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.exp(x) * (1.001 if x.is_cuda else 1.0)


@requires_cuda
def test_device_dependent_bug_is_caught_by_the_cpu_comparison():
    x = torch.randn(6, dtype=torch.float64, device="cuda")
    verdict = vjpcheck.check_vjp(_WrongOnCuda.apply, x)
    assert verdict.status == "mismatch"
    failed = {(c.expected, c.got) for c in verdict.comparisons if not c.passed}
    assert any("torch.cpu" in pair for pair in failed)
    assert "torch.cpu" not in verdict.suspects()
    cpu_verdict = vjpcheck.check_vjp(_WrongOnCuda.apply, x.cpu())
    assert cpu_verdict.status == "pass"


@requires_cuda
def test_float32_tolerance_without_tf32_is_float32s():
    from vjpcheck._engine.case import build_case
    from vjpcheck._engine.tolerance import RTOL, RTOL_TF32, case_rtol

    case = build_case(torch.sin, (torch.randn(3, device="cuda"),))
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        assert case_rtol(case) == RTOL["float32"]
        torch.backends.cudnn.allow_tf32 = True
        assert case_rtol(case) == RTOL_TF32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old[0], old[1]
        torch.set_float32_matmul_precision(old[2])


@requires_cuda
def test_cuda_conv_float32_passes_under_tf32():
    x = torch.randn(2, 3, 8, 8, device="cuda")
    w = torch.randn(4, 3, 3, 3, device="cuda")
    verdict = vjpcheck.check_vjp(lambda a, b: torch.nn.functional.conv2d(a, b, padding=1).tanh(), x, w)
    assert verdict.status == "pass", verdict.explain()


@requires_cuda
def test_verify_draws_cuda_and_finds_a_planted_bug_there():
    from vjpcheck.strategies import tensor

    summary = vjpcheck.verify(lambda a: torch.cumsum(a, -1) * a, tensor("m,n", device=["cuda"]), max_examples=15)
    assert summary.counts["mismatch"] == 0
    with pytest.raises(vjpcheck.VJPMismatch) as info:
        vjpcheck.verify(planted_torch.CumsumWrongAxis.apply, tensor("m,n", dtype="float64", device=["cuda"]), max_examples=30)
    assert info.value.verdict.case["args"][0]["device"].startswith("cuda")


@requires_cuda
def test_probe_mode_on_cuda_large_input():
    x = torch.randn(200_000, dtype=torch.float64, device="cuda")
    verdict = vjpcheck.check_vjp(lambda a: torch.cumsum(torch.sin(a) * a, 0), x, oracles=["finite_differences", "torch.backward", "torch.cpu"])
    assert verdict.status == "pass", verdict.explain()
    assert verdict.oracles[0].probe


@requires_jax_gpu
def test_jax_on_gpu():
    import jax
    import jax.numpy as jnp

    gpu = jax.devices("gpu")[0]
    x = jax.device_put(jnp.linspace(-1.0, 1.0, 12, dtype=jnp.float32).reshape(3, 4), gpu)
    verdict = vjpcheck.check_vjp(lambda a: jnp.tanh(a @ a.T).sum(0), x)
    assert verdict.status == "pass", verdict.explain()
    assert verdict.case["args"][0]["device"].startswith("cuda")


def test_cpu_cases_do_not_run_the_device_comparison():
    from vjpcheck.oracles import default_oracles

    assert "torch.cpu" not in default_oracles("torch", "cpu")
    assert "torch.cpu" in default_oracles("torch", "cuda:0")
    verdict = vjpcheck.check_vjp(torch.sin, torch.ones(2, dtype=torch.float64), oracles=["finite_differences", "torch.backward", "torch.cpu"])
    cpu = next(o for o in verdict.oracles if o.name == "torch.cpu")
    assert cpu.status == "unavailable" and "CPU already" in cpu.message
    assert verdict.status == "pass"


@requires_cuda
def test_random_programs_on_cuda():
    """The built-in programs with every lowering on the GPU (JAX's too, when it has one),
    compared with finite differences of NumPy and with the same backward on the CPU."""
    from vjpcheck.programs import runner as program_run

    chunks = program_run.plan("composed", 40, seed=5, device="cuda")
    result = program_run.run_chunk(chunks[0])
    statuses = [r["status"] for r in result.records]
    assert len(statuses) == 40 and "unexplained" not in statuses, result.failures


def test_programs_device_flag_without_cuda_is_a_usage_error(capsys, tmp_path):
    from vjpcheck.cli import main

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["programs", "--device", "cuda", "--programs", "1", "--mode", "composed", "--report", str(tmp_path / "p.json")]) == 2
    assert "no CUDA device" in capsys.readouterr().err


@requires_cuda
def test_plugin_on_cuda_reports_the_device(pytester, monkeypatch):
    import json

    from sample_project import CONFTEST, TESTS, fresh_session

    fresh_session(monkeypatch)

    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_rules=TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "vjpcheck", "-p", "no:cacheprovider", "-n", "2",
        "--vjpcheck-devices", "cuda", "--vjpcheck-seed", "0", "--vjpcheck-report", "r.html", timeout=600,
    )
    assert result.ret == 1, result.stdout.str()[-3000:]
    report = json.loads((pytester.path / "r.json").read_text())
    failing = [r for r in report["records"] if r["status"] == "mismatch"]
    assert failing and failing[0]["device"].startswith("cuda")
    assert {r["device"] for r in report["records"] if r["kind"] == "verify"} <= {"cuda:0"}


@requires_cuda
def test_run_command_on_cuda(tmp_path):
    import json

    from vjpcheck.cli import main

    report = str(tmp_path / "run.html")
    code = main(["run", "--devices", "cuda", "--examples-per-op", "1", "--programs", "10", "--ops", "sin,matmul,softmax", "--workers", "2", "--report", report])
    data = json.load(open(report[:-5] + ".json"))
    assert code == 0, data["totals"]
    assert {r["device"] for r in data["records"]} == {"cuda"}


@requires_cuda
def test_cuda_gradients_under_compile_and_vmap():
    """Issue 16: Inductor emits Triton kernels on CUDA; the compiled and batched backward
    agree with eager and finite differences on a correct function, on the device."""
    x = torch.randn(6, 5, dtype=torch.float32, device="cuda")
    verdict = vjpcheck.check_vjp(lambda a: torch.softmax(a.cumsum(-1), -1) * a.tanh(), x, transforms=["compile", "vmap"])
    assert verdict.status == "pass", verdict.explain()
    ran = {o.name for o in verdict.oracles if o.ok}
    assert {"torch.compile", "torch.compile[aot_eager]", "torch.vmap"} <= ran, verdict.explain()


@requires_cuda
def test_cuda_planted_compiler_bug_is_caught():
    import planted_compilers

    a, b = torch.randn(3, 1, dtype=torch.float64, device="cuda"), torch.randn(3, 4, dtype=torch.float64, device="cuda")
    verdict = vjpcheck.check_vjp(lambda x, y: torch.sin(x * y), a, b, transforms="compile", compile_backend=planted_compilers.broadcast_mean)
    assert verdict.suspects() == ["torch.compile[broadcast_mean]"], verdict.explain()
