"""The program IR: a DAG of registered ops over numbered values, lowered to any backend.

Values ``0 .. len(inputs)-1`` are the inputs; node ``k`` defines value ``len(inputs) + k``.
A program is plain data (JSON round-trips exactly), so a failing one can be stored in a
report, printed as readable pseudo-code and rebuilt in a reproducer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import ops  # noqa: F401  (registers the ops)
from .registry import OPS, Op


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    dtype: str  # float64 | complex128


@dataclass(frozen=True)
class Node:
    op: str
    args: tuple[int, ...]
    attrs: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def spec(self) -> Op:
        return OPS[self.op]


@dataclass
class Program:
    inputs: list[InputSpec]
    nodes: list[Node]
    output: int = -1  # a value id; -1: the last node

    def __post_init__(self):
        if self.output < 0:
            self.output = len(self.inputs) + len(self.nodes) - 1
        for k, node in enumerate(self.nodes):
            if node.op not in OPS:
                raise ValueError(f"node {k}: unknown op {node.op!r}")
            if any(not 0 <= a < len(self.inputs) + k for a in node.args):
                raise ValueError(f"node {k} ({node.op}) uses a value defined later: {node.args}")
            if len(node.args) != OPS[node.op].arity:
                raise ValueError(f"node {k}: {node.op} takes {OPS[node.op].arity} operand(s), got {len(node.args)}")

    # ---- evaluation -------------------------------------------------------------------
    def evaluate(self, backend: str, *args) -> Any:
        values = list(args)
        if len(values) != len(self.inputs):
            raise TypeError(f"program takes {len(self.inputs)} input(s), got {len(values)}")
        for node in self.nodes:
            values.append(node.spec(backend, *[values[a] for a in node.args], **node.attrs))
        return values[self.output]

    def lower(self, backend: str) -> Callable:
        """A plain function of the inputs, for ``backend`` in numpy / torch / jax."""
        program = self

        def fn(*args):
            return program.evaluate(backend, *args)

        fn.__name__ = fn.__qualname__ = f"program_{backend}"
        fn.__module__ = "vjpcheck.programs"
        fn.__doc__ = self.source()
        fn.__vjpcheck_recipe__ = (
            ["from vjpcheck.programs import Program", f"program = Program.from_json({self.to_json()!r})"],
            f"program.lower({backend!r})",
        )
        return fn

    # ---- presentation -----------------------------------------------------------------
    @property
    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def name(self) -> str:
        return "→".join(self.ops) or "identity"

    def source(self) -> str:
        """Readable pseudo-code, one line per node."""
        names = [f"x{i}" for i in range(len(self.inputs))] + [f"t{k}" for k in range(len(self.nodes))]
        sig = ", ".join(f"{names[i]}: {s.dtype}{list(s.shape)}" for i, s in enumerate(self.inputs))
        lines = [f"def program({sig}):"]
        for k, node in enumerate(self.nodes):
            attrs = ", ".join(f"{key}={_short(value)}" for key, value in node.attrs.items())
            call = ", ".join([names[a] for a in node.args] + ([attrs] if attrs else []))
            lines.append(f"    {names[len(self.inputs) + k]} = {node.op}({call})")
        lines.append(f"    return {names[self.output]}")
        return "\n".join(lines)

    __str__ = source

    # ---- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "inputs": [{"shape": list(s.shape), "dtype": s.dtype} for s in self.inputs],
            "nodes": [{"op": n.op, "args": list(n.args), "attrs": {k: _encode(v) for k, v in n.attrs.items()}} for n in self.nodes],
            "output": self.output,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> "Program":
        inputs = [InputSpec(tuple(s["shape"]), s["dtype"]) for s in data["inputs"]]
        nodes = [Node(n["op"], tuple(n["args"]), {k: _decode(v) for k, v in n["attrs"].items()}) for n in data["nodes"]]
        return cls(inputs, nodes, data.get("output", -1))

    @classmethod
    def from_json(cls, text: str) -> "Program":
        return cls.from_dict(json.loads(text))


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "array" in value:
        return np.asarray(value["array"], dtype=value["dtype"]).reshape(value["shape"])
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_decode(v) for v in value["tuple"])
    return value


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, separator=",", threshold=12).replace("\n", "")
        return f"{text}"
    return repr(value)
