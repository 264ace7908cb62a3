"""The function as finite differences see it: float64 values in, a flat output vector out.

:func:`build_evaluator` returns an :class:`Evaluator` whose :meth:`~Evaluator.many`
evaluates a whole set of perturbed points at once. For PyTorch (``torch.func.vmap``) and
JAX (``jax.vmap``, compiled) the points are stacked along a new leading batch dimension
and evaluated in one call per chunk; a function that cannot be batched (in-place writes
into unbatched tensors, data-dependent control flow, ``.item()``, an ``autograd.Function``
without a vmap rule, a NumPy reference) is evaluated point by point instead. Batched
values are checked against an unbatched evaluation of the base point before they are
trusted.
"""

from __future__ import annotations

import re
import textwrap

import warnings
from typing import Callable, Sequence

import numpy as np

from ..._engine.case import Case, flatten_outputs
from ..._engine.numeric import is_differentiable_dtype, rounding_unit

#: largest number of array elements (inputs + outputs) one batched call may hold: about
#: 8 MB of float64 on the CPU (measured fastest: the statistics stay in cache), 128 MB on a GPU
BATCH_ELEMENTS = 1 << 20
BATCH_ELEMENTS_GPU = 1 << 24
#: a batched evaluation of the base point must match the plain one to this (relative) level
BATCH_AGREEMENT = 1e-12
#: where batches are padded (JAX compiles once per batch size), a smaller batch is padded up
#: to a size already compiled while that holds at most this many elements: evaluating a few
#: thousand extra entries costs microseconds, a compilation 20–40 ms
PAD_TO_COMPILED = 1 << 16


class Evaluator:
    """``f(values) -> flat output`` plus :meth:`many` for stacked points.

    ``unit`` is the (ε, tiny) of the precision the evaluation runs in; ``mode`` says which
    evaluation is used ("reference" for float64/complex128, else why not); ``batched``
    tells whether :meth:`many` stacks points (else it loops); ``fallback`` why not.
    """

    def __init__(self, single: Callable, unit, mode: str, batch: Callable | None, base_point, out_dtype, pad: bool = False, device: str = "cpu", base_value: np.ndarray | None = None):
        self.single = single
        self.base_value = base_value  # f at ``base_point``, when building the evaluator computed it
        self.device = device  # where batched evaluations run (a GPU for CUDA cases)
        self.unit = unit
        self.mode = mode
        self._batch = batch
        self.batched = batch is not None
        self.fallback = "" if batch is not None else "no batched evaluation for this function"
        self._base_point = [np.asarray(x) for x in base_point]
        self._sizes = [x.size for x in self._base_point]
        self.out_dtype = out_dtype
        self.pad = pad  # pad batches to a power of two (JAX compiles once per batch size)
        self._padded_sizes: set[int] = set()  # batch sizes already evaluated (compiled)
        self._validated = False
        self.calls = 0  # framework calls made (a batch counts once)

    def __call__(self, values: Sequence[np.ndarray]) -> np.ndarray:
        self.calls += 1
        return np.asarray(self.single(values)).astype(self.out_dtype, copy=False)

    def chunk(self, out_size: int) -> int:
        """How many points one batched call may take."""
        per_point = sum(self._sizes) + max(out_size, 1)
        budget = BATCH_ELEMENTS_GPU if self.batched and self.device != "cpu" else BATCH_ELEMENTS
        return max(1, budget // per_point)

    def many(self, stacked: Sequence[np.ndarray], base: np.ndarray):
        """Evaluate B points given stacked, one array of shape (B, *arg.shape) per
        differentiated argument; returns shape (B, m): a NumPy array, or a torch tensor
        where PyTorch evaluated the batch (on the case's device). ``base`` is f at the
        unperturbed point, used once to validate the batched path: the base point rides
        in the first batch, whose row for it must give ``base`` (no call of its own)."""
        count = int(stacked[0].shape[0]) if stacked else 0
        if count == 0:
            return np.zeros((0, base.size), dtype=self.out_dtype)
        if self._batch is not None:
            try:
                size = self.chunk(base.size)
                rows, start = [], 0
                if not self._validated:
                    start = min(size - 1, count)
                    first = [np.concatenate([s[:start], np.asarray(b, dtype=s.dtype)[None]]) for s, b in zip(stacked, self._base_point)]
                    out = self._call_batch(first, start + 1)
                    self._check_base(out[start], base)
                    rows.append(out[:start])
                rows += [self._call_batch([s[i : i + size] for s in stacked], min(size, count - i)) for i in range(start, count, size)]
                rows = [r for r in rows if r.shape[0]]  # a first batch of the base point alone adds no row
                if len(rows) == 1:
                    return rows[0]
                if isinstance(rows[0], np.ndarray):
                    return np.concatenate(rows)
                import torch

                return torch.cat(rows)
            except Exception as exc:  # cannot be batched: fall back to a loop, say why
                self._batch, self.batched = None, False
                self.fallback = _fallback_note(exc)
        return np.stack([self([s[i] for s in stacked]) for i in range(count)])

    def _call_batch(self, stacked: list[np.ndarray], count: int) -> np.ndarray:
        self.calls += 1
        if self.pad:
            target = self._padded_size(count)
            if target > count:
                stacked = [np.concatenate([s, np.repeat(s[:1], target - count, axis=0)]) for s in stacked]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self._batch(stacked)
        if not isinstance(out, np.ndarray) and str(out.device) == "cpu":
            out = out.numpy()  # CPU tensors: NumPy is the faster for the statistics (measured)
        if isinstance(out, np.ndarray):  # GPU tensors stay where they are, in the target dtype
            out = out.astype(self.out_dtype, copy=False)
        out = out[:count]
        if out.shape[0] != count:
            raise ValueError(f"the batched call returned {out.shape[0]} rows for {count} points")
        return out.reshape(count, -1)

    def _padded_size(self, count: int) -> int:
        """The batch size ``count`` points are evaluated as: a power of two, or the smallest
        size already compiled above it when that is cheap (:data:`PAD_TO_COMPILED`)."""
        size = 1 << (count - 1).bit_length()
        per_point = sum(self._sizes) or 1
        cheap = [s for s in self._padded_sizes if s >= size and s * per_point <= PAD_TO_COMPILED]
        if cheap:
            size = min(cheap)
        self._padded_sizes.add(size)
        return size

    def _check_base(self, probe, base: np.ndarray) -> None:
        """The base point's row of a batch (``probe``) must give the plain values."""
        if not isinstance(probe, np.ndarray):
            probe = probe.cpu().numpy()
        same = np.isnan(probe) == np.isnan(base)
        with np.errstate(invalid="ignore"):
            scale = float(np.nanmax(np.abs(base), initial=0.0))
            close = np.abs(probe - base) <= BATCH_AGREEMENT * scale + 1e3 * self.unit[1]
            close |= np.isnan(probe) & np.isnan(base)
            close |= np.isinf(base) & (probe == base)
        if probe.shape != base.shape or not np.all(same & close):
            raise ValueError("batched values differ from unbatched ones at the base point")
        self._validated = True


def build_evaluator(case: Case, reference: Callable | None = None, batch: bool = True) -> Evaluator:
    """The evaluator finite differences use for ``case``.

    float64/complex128 on the CPU when the function accepts it; otherwise the case's own
    dtype and device (with that dtype's ε). ``reference``: a NumPy implementation,
    evaluated point by point.
    """
    if reference is not None:
        ev = Evaluator(_numpy_single(case, reference), rounding_unit("float64"), "reference", None, case.primals, np.complex128)
        ev.fallback = "a NumPy reference is evaluated point by point"
        return ev
    out_dtype = _output_dtype(case)
    single, batched, unit, mode, base_value = _framework_evaluators(case, out_dtype)
    backend = case.backend
    ev = Evaluator(
        single, unit, mode, batched if batch else None, case.primals, out_dtype,
        pad=backend.pads_batches, device=backend.fd_device(case.device), base_value=base_value,
    )
    if not batch:
        ev.fallback = "batching switched off"
    return ev


def _output_dtype(case: Case):
    complex_out = any(i.dtype.startswith("complex") for i, d in zip(case.output_infos, case.output_differentiable) if d)
    return np.complex128 if complex_out else np.float64


def _framework_evaluators(case: Case, out_dtype):
    backend = case.backend
    diff = case.output_differentiable

    def flat(outputs):
        # to_numpy returns a fresh array: one output needs no second copy
        parts = [backend.to_numpy(o).reshape(-1) for o, d in zip(outputs, diff) if d]
        if not parts:
            return np.zeros(0, out_dtype)
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(out_dtype, copy=False)

    # widened copies of the other array arguments; the differentiated ones are replaced by
    # each point's values (a copy of them would only hold memory: 80 MB at 1e7 entries)
    ref_args = [backend.to_reference(a) if info is not None and i not in case.wrt else a for i, (a, info) in enumerate(zip(case.args, case.arg_infos))]
    call, batched = backend.fd_calls(case, ref_args, out_dtype)

    def reference(values):
        with backend.evaluation_context(wide=True):
            wrt = [backend.reference_input(v, case.args[i]) for v, i in zip(values, case.wrt)]
            return flat(call(case.substitute(ref_args, wrt)))

    if backend.base_from_case and _already_reference(case):
        return reference, batched, rounding_unit("float64"), "reference", flat(case.output_values)
    try:
        out = reference(case.primals)
        expected = sum(int(np.prod(i.shape, dtype=np.int64)) for i, d in zip(case.output_infos, diff) if d)
        if out.size != expected:
            raise ValueError("output size changed in float64")
        return reference, batched, rounding_unit("float64"), "reference", out
    except Exception as exc:  # fall back to the case's own precision
        reason = f"finite differences ran in the case's dtype: float64 evaluation failed ({type(exc).__name__}: {exc})"[:300]

    native_args = case.fresh_args()
    dtypes = [case.arg_infos[i].dtype for i in case.wrt]
    devices = [case.arg_infos[i].device for i in case.wrt]
    unit = max((rounding_unit(d) for d in dtypes), key=lambda u: u[0])  # the least precise

    def native(values):
        with backend.evaluation_context(wide=False):
            wrt = [backend.from_numpy(v, dt, dev) for v, dt, dev in zip(values, dtypes, devices)]
            return flat(case.call(case.substitute(native_args, wrt)))

    return native, None, unit, reason, None


def _already_reference(case: Case) -> bool:
    """Every floating array of the case (arguments and outputs) is float64/complex128 on
    the CPU: its forward values are the float64 base evaluation itself."""
    infos = [i for i in list(case.arg_infos) + list(case.output_infos) if i is not None]
    return case.device == "cpu" and len(case.output_values) == len(case.output_infos) and all(
        i.dtype in ("float64", "complex128") or not is_differentiable_dtype(i.dtype) for i in infos
    )


def _numpy_single(case: Case, reference: Callable):
    """Evaluate a NumPy implementation in float64/complex128 (the ``reference=`` option)."""
    diff = case.output_differentiable
    args = case.numpy_args()

    def evaluate(values):
        with np.errstate(all="ignore"):
            outputs = flatten_outputs(reference(*case.substitute(args, [np.array(v, copy=True) for v in values])))
        if len(outputs) != len(diff):
            raise ValueError(f"reference returned {len(outputs)} output(s), the function {len(diff)}")
        return np.concatenate([np.asarray(o).reshape(-1) for o, d in zip(outputs, diff) if d]).astype(np.complex128)

    return evaluate




def _fallback_note(exc: Exception) -> str:
    """Why finite differences went point by point, with the fix when there is one."""
    text = " ".join(str(exc).split())
    match = re.search(r"vmap over (\w+), but it does not have vmap support", text)
    if match:
        return (
            f"evaluated point by point (slower): {match.group(1)} has no vmap rule; give it "
            "setup_context and generate_vmap_rule = True for the batched fast path"
        )
    if "batched values differ from unbatched ones" in text:
        return "evaluated point by point: the batched call computes something else at the base point (the function depends on its input's memory layout, or on the batch)"
    if "must override the setup_context staticmethod" in text:
        return (
            "evaluated point by point (slower): the autograd.Function has no setup_context; with setup_context "
            "and generate_vmap_rule = True finite differences run batched"
        )
    return f"batched evaluation failed ({type(exc).__name__}: {textwrap.shorten(text, 160, placeholder=' …')}); evaluated point by point"
