"""Explicit Jacobians: contracting an (m × n) matrix with v, complex inputs and outputs as
real coordinates, and the size limit above which these oracles do not run."""

from __future__ import annotations

import numpy as np

from .._engine.case import Case
from .base import OracleContext, OracleUnavailable


def contract_jacobian(
    jac_blocks: list[list[np.ndarray]], case: Case
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """vᵀJ from explicit Jacobian blocks ``J[out][arg]`` of shape out.shape + arg.shape.

    Each block is read as an (m × n) matrix (m = out.size, n = arg.size): the flattened
    cotangent times that matrix, reshaped to the argument's shape. For real dtypes the
    matricised Jacobian of all outputs and arguments is also returned, for reports.
    """
    grads = []
    for a, info in enumerate(case.wrt_infos):
        n = int(np.prod(info.shape, dtype=np.int64))
        total = np.zeros(n, dtype=np.float64)
        for o, v in enumerate(case.v):
            if v is None:
                continue
            block = np.asarray(jac_blocks[o][a], dtype=np.float64).reshape(v.size, n)
            with np.errstate(all="ignore"):  # an overflowing vᵀJ is inf, as the other oracles say
                total = total + v.reshape(-1) @ block
        grads.append(total.reshape(info.shape))
    matrix = None
    try:
        rows = []
        for o, v in enumerate(case.v):
            if v is None:
                continue
            rows.append(
                np.concatenate(
                    [np.asarray(jac_blocks[o][a]).reshape(v.size, -1) for a in range(len(case.wrt))], axis=1
                )
            )
        matrix = np.concatenate(rows, axis=0)
    except ValueError:
        matrix = None
    return grads, matrix


def realified_rows_contract(rows: np.ndarray, case: Case) -> list[np.ndarray]:
    """Contract a realified Jacobian (rows: realified outputs, cols: realified inputs).

    Column layout per argument: real inputs contribute n columns, complex inputs 2n
    (real part then imaginary part, interleaved per entry as view_as_real does).
    Row layout per output likewise.
    """
    v_parts = []
    for v in case.v:
        if v is None:
            continue
        v_parts.append(np.stack([v.real, v.imag], -1).reshape(-1) if np.iscomplexobj(v) else v.reshape(-1))
    v_r = np.concatenate(v_parts)
    with np.errstate(all="ignore"):
        flat = v_r @ rows
    grads, pos = [], 0
    for info in case.wrt_infos:
        n = int(np.prod(info.shape, dtype=np.int64))
        if info.dtype.startswith("complex"):
            part = flat[pos : pos + 2 * n].reshape(n, 2)
            grads.append((part[:, 0] + 1j * part[:, 1]).reshape(info.shape))
            pos += 2 * n
        else:
            grads.append(flat[pos : pos + n].reshape(info.shape))
            pos += n
    return grads


def realified_size(infos) -> int:
    return sum(
        int(np.prod(i.shape, dtype=np.int64)) * (2 if i.dtype.startswith("complex") else 1) for i in infos if i is not None
    )


def any_complex(case: Case) -> bool:
    return any(i.dtype.startswith("complex") for i in case.wrt_infos) or any(
        i.dtype.startswith("complex") for i, d in zip(case.output_infos, case.output_differentiable) if d
    )



def require_jacobian_size(case: Case, ctx: OracleContext) -> None:
    """Explicit Jacobians cost one backward per output entry: refuse the too large and the empty."""
    rows = realified_size([i for i, d in zip(case.output_infos, case.output_differentiable) if d])
    if rows > ctx.options.jacobian_max_rows:
        raise OracleUnavailable(f"{rows} output entries: above jacobian_max_rows={ctx.options.jacobian_max_rows}")
    if rows == 0 or realified_size(case.wrt_infos) == 0:
        raise OracleUnavailable("empty input or output: there is no Jacobian entry to build")
