"""The oracle interface and the bookkeeping every oracle shares.

An oracle computes vᵀJ for a case by one method and returns an :class:`OracleResult` in
canonical form. It never raises: exceptions become ``status="error"`` with an
``oracle-error`` finding, or ``status="unavailable"`` when the method simply does not
apply (e.g. ``torch.func`` on an old-style ``autograd.Function``).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import numpy as np

from .._engine.case import Case
from .._engine.options import DEFAULTS, CheckOptions
from .._engine.numeric import abs_inner, random_like, real_inner
from .._engine.results import Finding, OracleResult, Projection


class OracleUnavailable(Exception):
    """This method cannot be applied to this case (not a finding)."""


@dataclass
class OracleContext:
    """One check's options, and what earlier oracles learnt (finite differences' mask of
    non-smooth input entries, which forward mode's tangents avoid)."""

    options: CheckOptions = DEFAULTS
    projections: int = 2  # forward-mode tangents per forward oracle
    nonsmooth: list[np.ndarray] | None = None  # set by finite differences

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.options.seed, salt])


class Oracle:
    """Base class: subclasses set the class attributes and implement :meth:`compute`."""

    name: str = ""
    framework: str | None = None  # None: works for any framework
    rule: str = ""  # the derivative rule it exercises (agreement expected even at kinks)
    kind: str = "vector"  # vector (returns vᵀJ) | projection (returns ⟨v, J u⟩)
    applies_to_order2: bool = True

    def compute(self, case: Case, ctx: OracleContext, result: OracleResult) -> None:
        raise NotImplementedError

    def require_traced(self, case: Case) -> None:
        """Before differentiating a primal with this method (``PrimalAD``): raise
        :class:`OracleUnavailable` when its outputs are not traced by this AD at all."""

    def unsupported(self, exc: BaseException) -> str | None:
        """A reason when ``exc`` means 'method not applicable' rather than 'bug found'."""
        return None

    def run(self, case: Case, ctx: OracleContext) -> OracleResult:
        result = OracleResult(name=self.name, rule=self.rule or self.name)
        start = time.perf_counter()
        try:
            self.compute(case, ctx, result)
        except OracleUnavailable as exc:
            result.status, result.message = "unavailable", str(exc)
        except Exception as exc:
            reason = self.unsupported(exc)
            if reason:
                result.status, result.message = "unavailable", reason
            else:
                result.status = "error"
                result.message = f"{type(exc).__name__}: {exc}"
                result.findings.append(
                    Finding(
                        kind=classify_error(exc),
                        oracle=self.name,
                        message=f"{self.name} raised {type(exc).__name__}: {first_line(exc)}",
                        details={"traceback": "".join(traceback.format_exception(exc, limit=8))},
                    )
                )
        result.seconds = time.perf_counter() - start
        if result.grads is not None and result.status == "ok":
            result.findings.extend(shape_findings(case, result))
            if any(f.kind == "wrong-shape" for f in result.findings):
                result.status, result.grads = "error", None
        return result


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def classify_error(exc: BaseException) -> str:
    """Framework shape/dtype/device complaints about a backward's output get their own kinds."""
    text = str(exc).lower()
    if "expected" in text and "device" in text and "grad" in text:
        return "wrong-device"
    if ("shape" in text or "size" in text) and ("grad" in text or "bwd" in text or "vjp" in text or "cotangent" in text):
        return "wrong-shape"
    if "dtype" in text and ("grad" in text or "bwd" in text or "vjp" in text):
        return "wrong-dtype"
    return "oracle-error"


def shape_findings(case: Case, result: OracleResult) -> list[Finding]:
    out = []
    for k, (g, info) in enumerate(zip(result.grads, case.wrt_infos)):
        if tuple(np.shape(g)) != tuple(info.shape):
            out.append(
                Finding(
                    kind="wrong-shape",
                    oracle=result.name,
                    message=(
                        f"{result.name}: gradient for argument {case.wrt[k]} has shape "
                        f"{tuple(np.shape(g))}, expected {tuple(info.shape)}"
                    ),
                )
            )
    return out


class FreshInputs:
    """An oracle's private copies of the arguments and cotangents, checked afterwards.

    A backward that writes into its incoming gradient, or a forward/backward that modifies
    an input, shows up as a difference between these copies and the case's snapshots.
    """

    def __init__(self, case: Case):
        self.case = case
        self.args = case.fresh_args()
        self.cotangents = case.fresh_cotangents()

    def findings(self, oracle: str) -> list[Finding]:
        case, backend = self.case, self.case.backend
        found = []
        for i, (a, before) in enumerate(zip(self.args, case.arg_values)):
            if before is None:
                continue
            after = backend.to_numpy(a)
            if not same_values(before, after):
                found.append(
                    Finding(
                        kind="mutated-input",
                        oracle=oracle,
                        message=f"{oracle}: argument {i} was modified in place while computing the VJP",
                        details={"max_change": _max_change(before, after)},
                    )
                )
        for k, (c, before) in enumerate(zip(self.cotangents, case.v)):
            if c is None or before is None:
                continue
            after = backend.to_numpy(c)
            if not same_values(before, after):
                found.append(
                    Finding(
                        kind="mutated-cotangent",
                        oracle=oracle,
                        message=(
                            f"{oracle}: the cotangent for output {k} was modified in place "
                            "(a backward wrote into its incoming gradient; other branches that "
                            "share it would receive corrupted gradients)"
                        ),
                        details={"max_change": _max_change(before, after)},
                    )
                )
        return found


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and values (NaN equal to NaN): the snapshot test for mutations."""
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _max_change(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("nan")
    with np.errstate(invalid="ignore"):
        return float(np.nanmax(np.abs(a - b))) if a.size else 0.0


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


def draw_tangents(case: Case, ctx: OracleContext, projection: int) -> tuple[list, list[np.ndarray]]:
    """Random tangents u for forward mode (zero at non-smooth entries): framework arrays
    in the inputs' dtypes and devices, and their canonical values as actually used."""
    rng = ctx.rng(1000 + projection)
    tangents, used = [], []
    for k, i in enumerate(case.wrt):
        info = case.arg_infos[i]
        u = random_like(rng, info.shape, info.dtype.startswith("complex"))
        if ctx.nonsmooth is not None:
            u = np.where(ctx.nonsmooth[k], 0, u)
        t = case.backend.from_numpy(u, info.dtype, info.device)
        tangents.append(t)
        used.append(case.backend.to_numpy(t))
    return tangents, used


def projection(case: Case, used: list[np.ndarray], output_tangents) -> Projection:
    """⟨v, J u⟩ (and Σ|v|·|J u|) from ``(output index, tangent array)`` pairs; outputs
    that do not depend on the inputs are simply absent."""
    value = scale = 0.0
    for k, tangent in output_tangents:
        t = case.backend.to_numpy(tangent)
        value += real_inner(case.v[k], t)
        scale += abs_inner(case.v[k], t)
    return Projection(tangents=used, value=float(value), scale=float(scale))
