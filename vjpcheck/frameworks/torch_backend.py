"""PyTorch backend: tensors in, canonical NumPy out, layouts preserved on copy."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import numpy as np
import torch

from .._engine.numeric import is_complex_dtype
from .base import ArrayInfo, Backend, flatten_outputs, is_single_output, layout_name

_DTYPE_NAMES = {
    torch.float64: "float64",
    torch.float32: "float32",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.complex128: "complex128",
    torch.complex64: "complex64",
}


def torch_dtype(name: str) -> torch.dtype:
    """``"float32"`` → ``torch.float32`` (any dtype torch knows by that name)."""
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown torch dtype {name!r}")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return _DTYPE_NAMES.get(dtype) or str(dtype).replace("torch.", "")


class TorchBackend(Backend):
    name = "torch"
    builtin_vjp_oracle = "torch.autograd.grad"

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, torch.Tensor)

    def info(self, obj: torch.Tensor) -> ArrayInfo:
        shape = tuple(obj.shape)
        strides = tuple(obj.stride())
        offset = int(obj.storage_offset())
        return ArrayInfo(
            shape=shape,
            dtype=dtype_name(obj.dtype),
            device=str(obj.device),
            strides=strides,
            offset=offset,
            layout=layout_name(shape, strides, offset),
        )

    def to_numpy(self, obj: torch.Tensor) -> np.ndarray:
        t = obj.detach()
        if t._is_zerotensor():  # gradients PyTorch knows to be zero (slogdet, sgn at order 2)
            t = torch.zeros(t.shape, dtype=t.dtype, device=t.device)
        if t.is_conj():
            t = t.resolve_conj()
        if t.is_neg():
            t = t.resolve_neg()
        t = t.cpu()
        if t.dtype in (torch.float16, torch.bfloat16, torch.float32):
            return t.to(torch.float64).numpy().copy()
        if t.dtype == torch.complex64:
            return t.to(torch.complex128).numpy().copy()
        if t.dtype == torch.complex32:
            return t.to(torch.complex128).numpy().copy()
        return t.numpy().copy()

    def own_values(self, obj: torch.Tensor) -> np.ndarray:
        t = obj.detach()
        if t.device.type != "cpu" or t.dtype not in (torch.float64, torch.complex128) or t.is_conj() or t.is_neg() or t.layout != torch.strided:
            return self.to_numpy(obj)
        view = t.numpy()
        view.flags.writeable = False
        return view

    def unsupported_input(self, obj: torch.Tensor) -> str | None:
        if obj.layout != torch.strided:
            return f"{obj.layout} tensors are not supported (finite differences and layouts need dense storage): pass x.to_dense()"
        if obj.device.type == "meta":
            return "meta tensors have no values to differentiate: pass a tensor on cpu or cuda"
        if obj.dtype == torch.complex32:
            return "complex32 (ComplexHalf) is not supported (PyTorch's support of it is experimental): pass complex64"
        return None

    def tracked_copy(self, obj: torch.Tensor) -> torch.Tensor:
        copy = self.copy(obj)
        return copy.requires_grad_(True) if copy.is_floating_point() or copy.is_complex() else copy

    def declared_constant(self, outputs: list) -> list[bool]:
        return [isinstance(o, torch.Tensor) and (o.is_floating_point() or o.is_complex()) and not o.requires_grad for o in outputs]

    def copy(self, obj: torch.Tensor) -> torch.Tensor:
        """Clone storage and view, so strides, stride-0 dims and offsets survive."""
        src = obj.detach()
        if src.is_conj():
            src = src.resolve_conj()
        if src.is_neg():
            src = src.resolve_neg()
        storage = src.untyped_storage()
        new = torch.empty(0, dtype=src.dtype, device=src.device)
        new.set_(storage.clone(), src.storage_offset(), src.size(), src.stride())
        return new

    def from_numpy(self, values: np.ndarray, dtype: str, device: str) -> torch.Tensor:
        target = torch_dtype(dtype)
        arr = np.asarray(values)
        if not is_complex_dtype(dtype) and np.iscomplexobj(arr):
            arr = arr.real
        t = torch.from_numpy(np.array(arr, order="C", copy=True))  # keeps 0-d shapes
        return t.to(device=device, dtype=target)

    def from_layout(self, values: np.ndarray, dtype: str, layout: str, device: str, expand_dim: int | None = None) -> torch.Tensor:
        dt, v = torch_dtype(dtype), values
        if layout == "transposed" and v.ndim >= 2:
            return torch.tensor(np.ascontiguousarray(v.T), dtype=dt, device=device).permute(*reversed(range(v.ndim)))
        if layout == "strided" and v.ndim >= 1:
            wide = torch.zeros(v.shape[:-1] + (2 * v.shape[-1],), dtype=dt, device=device)
            wide[..., ::2] = torch.tensor(v, dtype=dt, device=device)
            return wide[..., ::2]
        if layout == "expanded" and expand_dim is not None:
            return torch.tensor(np.take(v, [0], axis=expand_dim), dtype=dt, device=device).expand(*v.shape)
        if layout == "offset":
            flat = torch.zeros(v.size + 3, dtype=dt, device=device)
            flat[3:] = torch.tensor(v.reshape(-1), dtype=dt, device=device)
            return flat[3:].view(v.shape)
        return torch.tensor(v, dtype=dt, device=device)

    def to_reference(self, obj: torch.Tensor) -> torch.Tensor:
        t = obj.detach()
        if t.is_conj():
            t = t.resolve_conj()
        t = t.to("cpu")
        if t.is_complex():
            return t.to(torch.complex128).clone()
        if t.is_floating_point():
            return t.to(torch.float64).clone()
        return t.clone()

    def restore(self, obj: torch.Tensor, values: np.ndarray) -> None:
        with torch.no_grad():
            src = torch.from_numpy(np.asarray(values)).to(device=obj.device, dtype=obj.dtype)
            try:
                obj.copy_(src)
            except RuntimeError:  # overlapping memory (expanded): write the base instead
                pass

    def precision(self, infos):
        return contextlib.nullcontext()

    def tf32_allowed(self) -> bool:
        """cuDNN's or matmul's allow_tf32, or a float32 matmul precision below "highest"."""
        return bool(
            torch.backends.cuda.matmul.allow_tf32
            or torch.get_float32_matmul_precision() != "highest"
            or torch.backends.cudnn.allow_tf32
        )

    def reproducer_imports(self, infos) -> list[str]:
        return ["import torch", "from vjpcheck import make_tensor"]

    def array_expression(self, values_literal: str, info: ArrayInfo) -> str:
        layout = f", strides={tuple(info.strides)}, offset={info.offset}" if info.layout != "contiguous" else ""
        return f"make_tensor({values_literal}, dtype={info.dtype!r}{layout}, device={info.device!r})"

    def output_infos(self, fn: Callable, args: list, infos) -> tuple[list[ArrayInfo | None], bool]:
        raw = fn(*[self.copy(a) if i is not None else a for a, i in zip(args, infos)])
        return [self.info(o) if self.is_array(o) else None for o in flatten_outputs(raw)], is_single_output(raw)

    pytree_registration = "torch.utils._pytree.register_dataclass"

    def tree_flatten(self, tree: Any) -> tuple[list[tuple[str, Any]], Any]:
        """Private API: ``torch.utils._pytree`` is PyTorch's registry (torch.func and
        torch.export use it); tests/unit/test_private_apis.py fails loudly if it goes."""
        from torch.utils import _pytree

        leaves, spec = _pytree.tree_flatten_with_path(tree)
        return [(_pytree.keystr(path), leaf) for path, leaf in leaves], spec

    def tree_unflatten(self, structure: Any, leaves: list) -> Any:
        from torch.utils import _pytree

        return _pytree.tree_unflatten(leaves, structure)

    def custom_function_nodes(self, roots, limit: int = 10000) -> list:
        """The backward nodes of ``torch.autograd.Function`` subclasses in the graph of
        ``roots``, each with ``.forward_class_name``.

        Private API: PyTorch exposes the Function class of a node only as
        ``node._forward_cls`` (tests/unit/test_private_apis.py fails loudly if it goes)."""
        seen, stack, found = set(), [r.grad_fn for r in roots if r.grad_fn is not None], []
        while stack and len(seen) < limit:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if hasattr(node, "_forward_cls"):
                found.append(node)
            stack.extend(fn for fn, _ in node.next_functions if fn is not None)
        return found

    @staticmethod
    def forward_class_name(node) -> str:
        return node._forward_cls.__name__  # private: see custom_function_nodes

    def primal_of(self, fn: Any) -> Callable | None:
        """``MyFunction.apply`` → its forward, called directly (with a stand-in ``ctx`` for
        old-style functions) so that built-in autograd differentiates it."""
        owner = getattr(fn, "__self__", None)
        if not (isinstance(owner, type) and getattr(fn, "__name__", "") == "apply" and issubclass(owner, torch.autograd.Function)):
            return None
        new_style = owner.setup_context is not torch.autograd.Function.setup_context

        def torch_primal(*args):
            return owner.forward(*args) if new_style else owner.forward(_CtxStandIn(len(args)), *args)

        torch_primal.__qualname__ = torch_primal.__name__ = f"{owner.__qualname__}.forward"
        return torch_primal

    def fd_calls(self, case, ref_args: list, out_dtype) -> tuple[Callable, Callable | None]:
        return case.call, self._batched(case, ref_args, out_dtype)

    def _batched(self, case, ref_args, out_dtype):
        """All points in one ``torch.func.vmap`` call, in float64/complex128: on the CPU, or
        on the case's GPU for CUDA cases (the values stay there for the statistics)."""
        diff = case.output_differentiable
        target = torch.complex128 if out_dtype == np.complex128 else torch.float64
        device = self.fd_device(case.device)
        if device != "cpu":  # the other array arguments, widened, on the GPU
            ref_args = [
                a.detach().to(dtype=torch.complex128 if a.is_complex() else torch.float64) if info is not None and (a.is_floating_point() or a.is_complex()) else a
                for a, info in zip(case.args, case.arg_infos)
            ]

        def one(*wrt):
            outputs = case.call(case.substitute(ref_args, list(wrt)))
            parts = [o.reshape(-1).to(target) for o, d in zip(outputs, diff) if d]
            if len(parts) == 1:
                return parts[0]
            return torch.cat(parts) if parts else torch.zeros(0, dtype=target)

        vmapped = torch.func.vmap(one, randomness="error")

        def run(stacked):
            with torch.no_grad():
                # copies: a function that writes into its input must not reach the caller's
                # snapshot (the base point's batch is a view of it)
                return vmapped(*[torch.from_numpy(np.array(s, order="C", copy=True)).to(device) for s in stacked])

        return run

    def evaluation_context(self, wide: bool):
        return torch.no_grad()

    def reference_input(self, values: np.ndarray, like: torch.Tensor | None = None) -> torch.Tensor:
        arr = np.asarray(values)
        dense = self.to_reference(self.from_numpy(arr, "complex128" if np.iscomplexobj(arr) else "float64", "cpu"))
        if like is None or 0 in like.stride():
            return dense  # expanded inputs: their entries are perturbed one by one, as copies
        source = like.detach()
        if source.is_conj():
            source = source.resolve_conj()
        elements = source.untyped_storage().nbytes() // source.element_size()
        if source.is_contiguous() and source.storage_offset() == 0 and elements == source.numel():
            return dense  # the tensor is its whole storage
        # a view (transposed, strided, a part of a larger base): the same strides and offset
        # into a widened copy of its whole storage, so that a function that reads the
        # storage (as_strided) computes the same thing for finite differences as for autograd
        storage = torch.as_strided(source, (elements,), (1,), 0).to(device="cpu", dtype=dense.dtype, copy=True)
        view = storage.as_strided(source.shape, source.stride(), source.storage_offset())
        view.copy_(dense)
        return view

    def fd_device(self, device: str) -> str:
        return device if device.startswith("cuda") else "cpu"

    def vjp_map(self, outputs: Callable, full_args: Callable, n: int, keep: tuple[int, ...]) -> Callable:
        """``(*xs, *vs, *others) ↦ vᵀJ(xs)`` through ``torch.autograd.grad(create_graph=True)``
        (double backward when differentiated again)."""

        def torch_vjp_map(*xs_vs_others):
            xs, vs, others = xs_vs_others[:n], xs_vs_others[n : n + len(keep)], xs_vs_others[n + len(keep) :]
            if torch._C._are_functorch_transforms_active():
                # inside torch.func.vmap (batched finite differences of this map): values
                # only, through torch.func.vjp, which composes with vmap (requires_grad_ does not)
                return _functional_vjp(outputs, full_args, xs, vs, others, keep)
            with torch.enable_grad():
                # never detach: that would drop a forward-mode tangent (forward-over-reverse)
                xs = [x if x.requires_grad else x.requires_grad_() if x.is_leaf else x.clone().requires_grad_() for x in xs]
                outs = outputs(full_args(xs, others))
                ys, cs = [], []
                for k, v in zip(keep, vs):
                    if outs[k].requires_grad:
                        ys.append(outs[k])
                        cs.append(v)
                grads = torch.autograd.grad(ys, xs, cs, create_graph=True, allow_unused=True) if ys else [None] * n
            return tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, xs))

        return torch_vjp_map


def _functional_vjp(outputs: Callable, full_args: Callable, xs, vs, others, keep: tuple[int, ...]) -> tuple:
    """vᵀJ(xs) by ``torch.func.vjp``: the same values as the map's autograd path, where
    transforms are active. Outputs not tracked (integer, declared constant) get no cotangent."""

    def kept(*p):
        outs = outputs(full_args(list(p), others))
        return tuple(outs[k] for k in keep)

    ys, pullback = torch.func.vjp(kept, *xs)
    cotangents = tuple(v if torch.is_floating_point(y) or torch.is_complex(y) else torch.zeros_like(y) for y, v in zip(ys, vs))
    return tuple(pullback(cotangents))



class _CtxStandIn:
    """Enough of ``FunctionCtx`` for a forward to run outside ``apply``."""

    def __init__(self, n_inputs: int):
        self.needs_input_grad = (True,) * n_inputs
        self.saved_tensors = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        pass

    def mark_non_differentiable(self, *args):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = value



def make_tensor(
    values,
    dtype: str = "float64",
    strides: tuple[int, ...] | None = None,
    offset: int = 0,
    device: str = "cpu",
) -> torch.Tensor:
    """Rebuild a tensor with given values *and memory layout* (used by reproducers).

    ``strides`` are in elements, as reported by ``Tensor.stride()``; stride-0 (expanded)
    dimensions are honoured. Without ``strides`` the tensor is contiguous.
    """
    arr = np.asarray(values)
    if np.iscomplexobj(arr) is False and is_complex_dtype(dtype):
        arr = arr.astype(np.complex128)
    base = torch.from_numpy(np.array(arr)).to(dtype=torch_dtype(dtype))
    if strides is None:
        return base.to(device)
    shape = tuple(arr.shape)
    if len(strides) != len(shape):
        raise ValueError(f"strides {strides} do not match shape {shape}")
    # storage large enough for every addressed element, filled through a writable view
    extent = offset + sum((s - 1) * st for s, st in zip(shape, strides) if s > 0) + 1
    if any(s == 0 for s in shape):
        extent = offset + 1
    storage = torch.zeros(max(extent, 1), dtype=base.dtype, device=device)
    view = storage.as_strided(shape, strides, offset)
    if 0 in strides:
        # overlapping memory: every aliased element must hold the same value already
        unique = [slice(None) if st != 0 else slice(0, 1) for st in strides]
        first = base[tuple(unique)]
        if not torch.equal(first.expand(shape), base):
            raise ValueError("values differ along a stride-0 (expanded) dimension")
        writable = storage.as_strided(first.shape, [st if st else 0 for st in strides], offset)
        with torch.no_grad():
            writable.copy_(first.to(device))
    else:
        with torch.no_grad():
            view.copy_(base.to(device))
    return view
