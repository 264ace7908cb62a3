"""CUDA paths: AD oracles on the GPU, the finite-difference reference on the CPU."""

import torch

import planted_torch
import vjpcheck
from conftest import requires_cuda


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
    assert verdict.status in ("pass", "mismatch")  # TF32 tolerance is issue 6's; must not crash


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
