"""Stand-ins for third-party libraries with custom gradients (roma, lineax, …): modules
that import one framework and are called by name from a lambda."""

from __future__ import annotations

import sys
import types


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(source, module.__dict__)  # noqa: S102 - fixed test source
    sys.modules[name] = module
    return module


rotations = _module(
    "vjpcheck_fake_rotations",
    "import torch\n\ndef procrustes(M):\n    U, _, Vh = torch.linalg.svd(M)\n    return U @ Vh\n",
)
_ops = _module("vjpcheck_fake_solvers.ops", "import jax.numpy as jnp\n\ndef smooth(a):\n    return jnp.tanh(a) * a\n")
solvers = _module("vjpcheck_fake_solvers", "")
solvers.ops, solvers.smooth = _ops, _ops.smooth
both = _module("vjpcheck_fake_both", "import torch\nimport jax\n\ndef f(x):\n    return x\n")
