"""Output maps: invariants that remove a symmetry from a function's output before its VJP
is checked (the ``output_map=`` option of :func:`vjpcheck.check_vjp` and ``verify``).

An eigenvector is defined up to its sign (a phase, for complex ones), a basis of a null
space up to a change of basis, a unit quaternion up to ±. Two correct implementations may
return different representatives, and finite differences may cross from one to the other
between two perturbed points: their derivative is not a thing to compare. The derivative
of an invariant of the output is: ``output_map=g`` checks the VJP of ``g(fn(x))``, which
goes through ``fn``'s backward with the cotangent ``g`` gives it::

    # eigenvectors (columns of V) are defined up to sign: check V's outer products
    vjpcheck.verify(lambda a: torch.linalg.eigh(a)[1], tensor("n,n", transform=symmetric),
                    output_map=lambda V: vjpcheck.maps.outer(V, axis=-2))

Each map takes and returns arrays of the function's framework (PyTorch or JAX); a map of
your own is any differentiable function of the outputs that is invariant under the
symmetry.
"""

from __future__ import annotations

from typing import Any

__all__ = ["outer", "projector"]


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _move_to_last(x: Any, axis: int) -> Any:
    if axis in (-1, x.ndim - 1):
        return x
    if _is_torch(x):
        return x.movedim(axis, -1)
    import jax.numpy as jnp

    return jnp.moveaxis(x, axis, -1)


def outer(x: Any, axis: int = -1) -> Any:
    """``x xᴴ`` of the vectors along ``axis``: invariant to each vector's sign (or complex
    phase). For a (…, n) array, the (…, n, n) outer products; with ``axis=-2``, a matrix's
    columns (eigenvectors from ``eigh``) give (…, k, n, n), one product per column."""
    if x.ndim == 0:
        raise ValueError("outer: needs at least one dimension (the vectors' axis)")
    vectors = _move_to_last(x, axis)
    return vectors[..., :, None] * vectors.conj()[..., None, :]


def projector(basis: Any) -> Any:
    """The orthogonal projector ``B (Bᴴ B)⁻¹ Bᴴ`` onto the span of the columns of ``basis``
    (…, n, k): invariant to any change of basis ``B → B M`` with ``M`` invertible (a null
    space, an eigenspace of a repeated eigenvalue, the Q of QR up to signs). Needs full
    column rank; for an orthonormal basis it is ``B Bᴴ``."""
    if basis.ndim < 2:
        raise ValueError(f"projector: needs a (…, n, k) matrix of basis columns, got {basis.ndim} dimension(s)")
    adjoint = basis.conj().swapaxes(-1, -2) if not _is_torch(basis) else basis.mH
    if _is_torch(basis):
        import torch

        return basis @ torch.linalg.solve(adjoint @ basis, adjoint)
    import jax.numpy as jnp

    return basis @ jnp.linalg.solve(adjoint @ basis, adjoint)
