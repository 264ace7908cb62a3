import pytest


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


requires_cuda = pytest.mark.skipif(not cuda_available(), reason="no CUDA device on this machine")


def jax_gpu_available() -> bool:
    try:
        import jax

        return bool(jax.devices("gpu"))
    except Exception:  # no GPU backend installed or no device: JAX raises RuntimeError
        return False


requires_jax_gpu = pytest.mark.skipif(not jax_gpu_available(), reason="no GPU device visible to JAX on this machine")
