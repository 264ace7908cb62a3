"""Oracle registry: each oracle computes vᵀJ by one method (see ``base.Oracle``)."""

from __future__ import annotations

from .._engine.options import ALL_ORACLES as ALL
from .base import Oracle, OracleContext, OracleUnavailable
from .transforms import TRANSFORM_ORACLES

__all__ = ["Oracle", "OracleContext", "OracleUnavailable", "ORACLE_NAMES", "ALL", "make_oracles", "default_oracles"]

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
    # transforms (``transforms=``): opt-in, never in the default or thorough sets
    "torch.compile": ("transforms.torch_compile", "TorchCompile"),
    "torch.compile[aot_eager]": ("transforms.torch_compile", "TorchCompileAotEager"),
    "torch.compile[torch.func.vjp]": ("transforms.torch_compile", "TorchCompileFuncVjp"),
    "torch.vmap": ("transforms.torch_vmap", "TorchVmap"),
    "jax.eager": ("transforms.jax_eager", "JaxEager"),
    "jax.vmap": ("transforms.jax_vmap", "JaxVmap"),
}
ORACLE_NAMES = tuple(_REGISTRY)


def _load(name: str) -> Oracle:
    import importlib

    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()


#: oracles that only apply to cases on an accelerator
DEVICE_ORACLES = ("torch.cpu",)
#: the same backward formula reached through other entry points: in the thorough set only
#: (``torch.func.vjp``'s first call also imports ``torch._dynamo``: 1.4 s per process)
ENTRY_POINT_ORACLES = ("torch.autograd.grad", "torch.func.vjp")
#: explicit Jacobians cost one backward pass per (realified) output entry: the default set
#: has them up to this many entries, where they cost less than finite differences; the
#: thorough set up to ``jacobian_max_rows``
CHEAP_JACOBIAN_ROWS = 16
JACOBIAN_ORACLES = ("torch.jacobian", "jax.jacobian")
#: JAX compiles every method once per input shape (20–40 ms on a CPU, more than all of its
#: runs at small sizes): the explicit Jacobian, the same rule as ``jax.vjp``, is thorough-only
COMPILED_JACOBIANS = ("jax.jacobian",)


#: forward mode and explicit Jacobians of an empty Jacobian can only say "zero", which
#: finite differences state exactly without evaluating f: the default set leaves them out
#: there (for JAX each would compile once more per drawn shape)
FORWARD_ORACLES = ("torch.forward", "jax.forward")


def default_oracles(framework: str, device: str = "cpu", thorough: bool = False, output_entries: int | None = None, input_entries: int | None = None) -> list[str]:
    """The oracle names a check runs when ``oracles=`` is not given.

    Finite differences first (they set the smoothness mask), then the framework's methods
    with distinct costs or rules: the reverse pass, forward mode, and PyTorch's explicit
    Jacobian while ``output_entries`` ≤ :data:`CHEAP_JACOBIAN_ROWS` (or unknown); the CPU-vs-device
    comparison for cases on a GPU. Where the Jacobian is empty (``output_entries`` or
    ``input_entries`` is 0), only the reverse methods. ``thorough`` (``oracles="all"``):
    every method of the framework itself (transforms join only through ``transforms=``).
    """
    names = [n for n in ORACLE_NAMES if n.startswith(framework + ".") and n not in TRANSFORM_ORACLES]
    if device == "cpu":
        names = [n for n in names if n not in DEVICE_ORACLES]
    if not thorough:
        names = [n for n in names if n not in ENTRY_POINT_ORACLES and n not in COMPILED_JACOBIANS]
        if output_entries is not None and output_entries > CHEAP_JACOBIAN_ROWS:
            names = [n for n in names if n not in JACOBIAN_ORACLES]
        if output_entries == 0 or input_entries == 0:
            names = [n for n in names if n not in JACOBIAN_ORACLES + FORWARD_ORACLES]
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
