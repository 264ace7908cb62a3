"""One OpInfo sample as a function of its differentiable tensors.

A sample holds an input, positional and keyword arguments (tensors nested in lists and
dicts included) and, optionally, ``output_process_fn_grad``. The tensors the sample marks
``requires_grad`` become the function's arguments; everything else is held fixed, as
PyTorch's own gradcheck tests do. PyTorch seeds each sample's generator itself (by its
position), so a sample is the one PyTorch's test suite checks, and :func:`load_sample`
rebuilds it from its coordinates (op, device, dtype, index): reproducers use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .database import find, full_name


@dataclass
class OpSample:
    """Sample ``index`` of an OpInfo for one device and dtype, ready for ``check_vjp``."""

    op: str  # the OpInfo's full name
    device: str
    dtype: str
    index: int
    fn: Callable
    inputs: tuple  # the differentiable tensors, detached

    @property
    def label(self) -> str:
        return f"{self.op} [{self.dtype} sample {self.index}]"


def samples(op, device: str, dtype, count: int) -> Iterator[OpSample]:
    """The first ``count`` samples of ``op`` for ``device`` and ``dtype`` (a torch dtype),
    without touching the caller's random state (PyTorch reseeds it per sample)."""
    import torch

    drawn = []
    with torch.random.fork_rng(devices=[torch.device(device).index or 0] if torch.device(device).type == "cuda" else []):
        for k, sample in enumerate(op.sample_inputs(device, dtype, requires_grad=True)):
            if k >= count:
                break
            drawn.append(sample)
    for k, sample in enumerate(drawn):
        yield _as_op_sample(op, sample, device, dtype, k)


def load_sample(name: str, device: str, dtype: str, index: int) -> OpSample:
    """Sample ``index`` of the OpInfo ``name``, as :func:`samples` drew it."""
    import torch

    op = find(name)
    for sample in samples(op, device, getattr(torch, dtype), index + 1):
        if sample.index == index:
            return sample
    raise IndexError(f"{name} has fewer than {index + 1} samples for {device} {dtype}")


def sample_function(name: str, device: str, dtype: str, index: int) -> Callable:
    """The function of :func:`load_sample` (reproducers call it)."""
    return load_sample(name, device, dtype, index).fn


def _as_op_sample(op, sample, device: str, dtype, index: int) -> OpSample:
    from torch.utils import _pytree as pytree

    leaves, spec = pytree.tree_flatten((sample.input, tuple(sample.args), dict(sample.kwargs)))
    positions = [i for i, leaf in enumerate(leaves) if _differentiable(leaf)]
    operator = op.get_op()
    process = sample.output_process_fn_grad

    def fn(*tensors: Any) -> Any:
        filled = list(leaves)
        for i, t in zip(positions, tensors):
            filled[i] = t
        first, args, kwargs = pytree.tree_unflatten(filled, spec)
        out = op.gradcheck_wrapper(operator, first, *args, **kwargs)
        return process(out) if process is not None else out

    name = full_name(op)
    dtype_name = str(dtype).removeprefix("torch.")
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "opinfo"
    fn.__vjpcheck_recipe__ = (  # reproducers rebuild the function from its coordinates
        ["from vjpcheck.opinfo import sample_function"],
        f"sample_function({name!r}, {device!r}, {dtype_name!r}, index={index})",
    )
    inputs = tuple(leaves[i].detach() for i in positions)
    return OpSample(name, device, dtype_name, index, fn, inputs)


def _differentiable(leaf: Any) -> bool:
    import torch

    return isinstance(leaf, torch.Tensor) and leaf.requires_grad
