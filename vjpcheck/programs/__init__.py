"""Random differentiable programs over a backend-neutral op registry (PyTorch, JAX, NumPy).

``OPS`` is the registry, :class:`Program` the IR, :func:`op_cases` and :func:`programs`
the Hypothesis strategies (one op alone / composed DAGs), :func:`check_program` the check
of one drawn case (PyTorch vs JAX vs finite differences of the NumPy lowering).
"""

from .generate import ProgramCase, op_cases, programs
from .program import InputSpec, Node, Program
from .registry import DOMAINS, OPS, Op

__all__ = ["OPS", "DOMAINS", "Op", "Program", "InputSpec", "Node", "ProgramCase", "op_cases", "programs"]
