"""Oracle registry: each oracle computes vᵀJ by one method (see ``base.Oracle``)."""

from __future__ import annotations

from .base import Oracle, OracleContext, OracleUnavailable

__all__ = ["Oracle", "OracleContext", "OracleUnavailable", "ORACLE_NAMES", "make_oracles", "default_oracles"]

#: name → (module, class); imported lazily so torch/jax load only when used.
_REGISTRY = {
    "finite_differences": ("finite_differences", "FiniteDifferences"),
    "torch.backward": ("torch_backward", "TorchBackward"),
    "torch.autograd.grad": ("torch_autograd_grad", "TorchAutogradGrad"),
    "torch.func.vjp": ("torch_func_vjp", "TorchFuncVjp"),
    "torch.jacobian": ("torch_jacobian", "TorchJacobian"),
    "torch.forward": ("torch_forward", "TorchForward"),
    "torch.cpu": ("torch_cpu", "TorchCpu"),
    "jax.vjp": ("jax_vjp", "JaxVjp"),
    "jax.jacobian": ("jax_jacobian", "JaxJacobian"),
    "jax.forward": ("jax_forward", "JaxForward"),
}
ORACLE_NAMES = tuple(_REGISTRY)


def _load(name: str) -> Oracle:
    import importlib

    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()


#: oracles that only apply to cases on an accelerator
DEVICE_ORACLES = ("torch.cpu",)


def default_oracles(framework: str, device: str = "cpu") -> list[str]:
    """Finite differences first (it sets the smoothness mask), then every AD oracle, and
    the CPU-vs-device comparison for cases on a GPU."""
    names = [n for n in ORACLE_NAMES if n.startswith(framework + ".")]
    if device == "cpu":
        names = [n for n in names if n not in DEVICE_ORACLES]
    return ["finite_differences"] + names


def make_oracles(names, framework: str) -> list[Oracle]:
    """Validate ``names`` (an iterable of oracle names) for ``framework`` and build them."""
    names = list(names)
    if not names:
        raise ValueError("oracles must name at least one oracle")
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise ValueError(f"oracles: unknown name(s) {unknown}; known: {list(ORACLE_NAMES)}")
    foreign = [n for n in names if "." in n and not n.startswith(framework + ".")]
    if foreign:
        raise ValueError(f"oracles: {foreign} do not apply to a {framework} function")
    ordered = sorted(dict.fromkeys(names), key=lambda n: (n != "finite_differences", ORACLE_NAMES.index(n)))
    return [_load(n) for n in ordered]
