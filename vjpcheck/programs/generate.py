"""Hypothesis strategies for random programs: one op alone (catalogue) or composed DAGs.

Composition is domain-aware by construction: every candidate node is evaluated on the
concrete NumPy values while drawing, and kept only when its operands lie in the op's
domain, away from its kinks, and its output is finite and moderate. So every intermediate
of a drawn program is valid, and Hypothesis shrinks programs to fewer ops (the op count
and the operand choices shrink toward a short chain) and to smaller shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from .. import strategies as vst
from .program import InputSpec, Node, Program
from .registry import DOMAINS, MAX_MAGNITUDE, OPS, NotApplicable, Op, draw_first, shape_strategy

#: layouts of program inputs (PyTorch; JAX and NumPy get the values)
INPUT_LAYOUTS = ("contiguous", "transposed", "strided", "expanded", "offset")
MAX_SIZE = 64  # entries per value: keeps finite differences and linear algebra quick


@dataclass
class ProgramCase:
    """A program with concrete inputs (values and PyTorch layouts) and a cotangent."""

    program: Program
    inputs: list[vst.DrawnArray]
    cotangent: vst.DrawnArray

    def __repr__(self) -> str:
        args = ", ".join(repr(a) for a in self.inputs)
        return f"ProgramCase({self.program.name()}; inputs {args}; v {self.cotangent!r})\n{self.program.source()}"


def _draw_values(draw, shape, dtype: str, domain: str) -> vst.DrawnArray:
    dom = DOMAINS[domain]
    drawn = draw(
        vst.tensor(
            list(shape) if shape else "",
            dtype=dtype,
            domain=vst.bounded(dom.lo, dom.hi),
            layouts=INPUT_LAYOUTS,
            transform=dom.transform,
            device=["cpu"],
        )
    )
    if not dom.holds(drawn.values):
        raise NotApplicable(f"drawn values outside {domain}")
    return drawn


def _evaluate(op: Op, values: list[np.ndarray], attrs: dict, expected_shape) -> np.ndarray:
    reason = op.accepts(values, attrs)
    if reason:
        raise NotApplicable(reason)
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(op("numpy", *values, **attrs))
        except (ValueError, np.linalg.LinAlgError, IndexError) as exc:
            raise NotApplicable(f"numpy lowering refused: {exc}") from exc
    if tuple(out.shape) != tuple(expected_shape):
        raise AssertionError(f"op {op.name}: the shape rule says {tuple(expected_shape)}, NumPy gives {out.shape} (attrs {attrs})")
    if not np.all(np.isfinite(out)) or (out.size and float(np.max(np.abs(out))) > MAX_MAGNITUDE):
        raise NotApplicable("output not finite or too large")
    return out


def _size_ok(shape) -> bool:
    return int(np.prod(shape, dtype=np.int64)) <= MAX_SIZE


@st.composite
def op_cases(draw, op: str | Op, dtype: str | None = None) -> ProgramCase:
    """One op alone on fresh inputs drawn in its domain (the catalogue mode).

    The dtype is drawn among float64, float32 (the same op at the lower precision: PyTorch
    and JAX each round their own way, finite differences stay in float64) and complex128,
    as the op allows; ``dtype`` fixes it. Shrinks towards float64.
    """
    spec = OPS[op] if isinstance(op, str) else op
    if dtype is None:
        kinds = (["float64", "float32"] if spec.real_ok else []) + (["complex128"] if spec.complex_ok else [])
        dtype = draw(st.sampled_from(kinds))
    try:
        shapes = spec.operands(draw, draw_first(spec, draw))
        if spec.makes_complex:
            dtype = "float64"
        inputs = [_draw_values(draw, s, dtype, d) for s, d in zip(shapes, spec.domains)]
        attrs = spec.attrs(draw, shapes)
        out_shape = spec.shape(shapes, attrs)
        if not all(_size_ok(s) for s in list(shapes) + [out_shape]):
            raise NotApplicable("too large")
        out = _evaluate(spec, [a.values for a in inputs], attrs, out_shape)
    except NotApplicable:
        reject()
    program = Program([InputSpec(tuple(a.values.shape), a.dtype) for a in inputs], [Node(spec.name, tuple(range(spec.arity)), attrs)])
    return ProgramCase(program, inputs, draw(vst.cotangent(out.shape, _dtype_of(out, dtype))))


def _dtype_of(values: np.ndarray, precision: str = "float64") -> str:
    """The dtype of ``values`` (computed in float64/complex128) at the inputs' precision."""
    if precision in ("float32", "complex64"):
        return "complex64" if np.iscomplexobj(values) else "float32"
    return "complex128" if np.iscomplexobj(values) else "float64"


@st.composite
def programs(
    draw,
    max_ops: int = 5,
    ops: Sequence[str] | None = None,
    complex_rate: float = 0.15,
    attempts: int = 12,
) -> ProgramCase:
    """A random DAG of up to ``max_ops`` ops; operands are earlier values (fan-out) or new inputs.

    Args:
        max_ops: most nodes in the program.
        ops: op names to draw from (default: all registered).
        complex_rate: chance that the first input is complex128.
        attempts: candidate (op, operands) draws per node before the program stops growing.
    """
    names = sorted(ops) if ops is not None else sorted(OPS)
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"ops: unknown op(s) {unknown}")
    dtype = "complex128" if draw(st.floats(0, 1)) < complex_rate else "float64"
    first = draw(shape_strategy(0, 3, 0, 4))
    inputs = [_draw_values(draw, first, dtype, "any")]
    # values are referred to symbolically while drawing: ("in", i) or ("node", k)
    pool: list[tuple[tuple[str, int], np.ndarray]] = [(("in", 0), inputs[0].values)]
    drafts: list[tuple[str, list[tuple[str, int]], dict]] = []
    n_ops = draw(st.integers(1, max_ops))
    for _ in range(n_ops):
        for _attempt in range(attempts):
            back = draw(st.integers(0, len(pool) - 1))  # counted from the newest: shrinks to a chain
            ref, x = pool[len(pool) - 1 - back]
            is_complex = np.iscomplexobj(x)
            candidates = [n for n in names if (OPS[n].complex_ok if is_complex else OPS[n].real_ok) and not (is_complex and OPS[n].makes_complex)]
            if not candidates:
                break
            spec = OPS[draw(st.sampled_from(candidates))]
            try:
                refs, new_inputs, attrs, out = _grow(draw, spec, ref, x, pool, len(inputs))
            except NotApplicable:
                continue
            inputs.extend(new_inputs)
            pool.extend(((("in", len(inputs) - len(new_inputs) + j), d.values) for j, d in enumerate(new_inputs)))
            drafts.append((spec.name, refs, attrs))
            pool.append((("node", len(drafts) - 1), out))
            break
    if not drafts:
        reject()
    n_in = len(inputs)
    number = {("in", i): i for i in range(n_in)} | {("node", k): n_in + k for k in range(len(drafts))}
    nodes = [Node(name, tuple(number[r] for r in refs), attrs) for name, refs, attrs in drafts]
    program = Program([InputSpec(tuple(a.values.shape), a.dtype) for a in inputs], nodes)
    out = pool[-1][1]
    return ProgramCase(program, inputs, draw(vst.cotangent(out.shape, _dtype_of(out))))


def _grow(draw, spec: Op, ref, x: np.ndarray, pool, n_inputs: int):
    """One candidate node on value ``x``: (operand refs, new inputs, attrs, output values)."""
    shapes = spec.operands(draw, tuple(x.shape))
    refs, operand_values, new_inputs = [ref], [x], []
    for k, shape in enumerate(shapes[1:], start=1):
        dtype = "float64" if spec.makes_complex else _dtype_of(x)
        same = [(r, v) for r, v in pool if v.shape == tuple(shape) and _dtype_of(v) == dtype]
        if same and draw(st.booleans()):  # fan-out: one value used twice
            r, v = same[draw(st.integers(0, len(same) - 1))]
            refs.append(r)
            operand_values.append(v)
        else:
            drawn = _draw_values(draw, shape, dtype, spec.domains[k])
            refs.append(("in", n_inputs + len(new_inputs)))
            new_inputs.append(drawn)
            operand_values.append(drawn.values)
    attrs = spec.attrs(draw, shapes)
    out_shape = spec.shape(shapes, attrs)
    if not _size_ok(out_shape):
        raise NotApplicable("too large")
    out = _evaluate(spec, operand_values, attrs, out_shape)
    return refs, new_inputs, attrs, out
