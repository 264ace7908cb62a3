"""The seed examples: hand-checkable Jacobians and the m×n reading of a 4-d Jacobian."""

import numpy as np
import pytest
import torch

import vjpcheck


def seed_fn(x):
    y = torch.zeros(1, 2, dtype=x.dtype)
    y[0, 0] = x[0, 0] ** 2 + 3 * x[0, 1]
    y[0, 1] = x[0, 1] ** 2 + 2 * x[0, 0]
    return y


def test_seed_backward_by_hand():
    x = torch.tensor([[2.0, 3.0]], requires_grad=True)
    seed_fn(x).backward(torch.ones(1, 2))
    assert x.grad.tolist() == [[6.0, 9.0]]


def test_seed_every_oracle_agrees():
    x = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(seed_fn, x, v=torch.ones(1, 2, dtype=torch.float64), oracles="all")
    assert verdict.status == "pass", verdict.explain()
    ran = {o.name for o in verdict.oracles if o.ok}
    assert {"finite_differences", "torch.backward", "torch.autograd.grad", "torch.func.vjp", "torch.jacobian", "torch.forward"} <= ran
    for o in verdict.oracles:
        if o.grads is not None:
            np.testing.assert_allclose(o.grads[0], [[6.0, 9.0]], rtol=1e-9)


def test_seed_jacobian_is_read_as_2x2():
    """The 1×2×1×2 Jacobian block must be contracted as a 2×2 matrix: vᵀJ = [6, 9]."""
    x = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    verdict = vjpcheck.check_vjp(seed_fn, x, v=torch.ones(1, 2, dtype=torch.float64), oracles=["torch.jacobian"])
    jac = next(o for o in verdict.oracles if o.name == "torch.jacobian").jacobian
    # rows: outputs y00, y01; columns: inputs x00, x01
    np.testing.assert_allclose(jac, [[4.0, 3.0], [2.0, 6.0]])
    block = torch.autograd.functional.jacobian(seed_fn, x)
    assert tuple(block.shape) == (1, 2, 1, 2)
    # a wrong reading (contracting over the input axes) gives a different answer
    wrong = np.einsum("ij,abij->ab", np.ones((1, 2)), block.numpy())
    assert not np.allclose(wrong, [[6.0, 9.0]])


def rows_by_one_hot(f, x, m):
    """Jacobian rows built one at a time with one-hot grad_outputs."""
    rows = []
    for i in range(m):
        xx = x.clone().requires_grad_(True)
        y = f(xx)
        e = torch.zeros(m, dtype=x.dtype)
        e[i] = 1
        (g,) = torch.autograd.grad(y, xx, grad_outputs=e)
        rows.append(g.tolist())
    return rows


def f_4_by_3(x):
    return torch.stack([x[0] * x[1] * x[2], x[0] ** 2, torch.sin(x[1]) + x[2], torch.exp(x[2]) - x[0]])


def f_issue_3x2(x):
    """Rows at x = (2, 1): (2·x0 + 1, 1) = (5, 1); (x1, x0) = (1, 2); (cos x0, −sin x1)."""
    return torch.stack([x[0] ** 2 + x[0] + x[1], x[0] * x[1], torch.sin(x[0]) + torch.cos(x[1])])


def test_issue_rows_for_three_outputs_two_inputs():
    x = torch.tensor([2.0, 1.0], dtype=torch.float64)
    rows = rows_by_one_hot(f_issue_3x2, x, 3)
    np.testing.assert_allclose(rows, [[5, 1], [1, 2], [-0.4161, -0.8415]], atol=5e-5)
    verdict = vjpcheck.check_vjp(f_issue_3x2, x)
    assert verdict.status == "pass", verdict.explain()
    jac = next(o for o in verdict.oracles if o.name == "torch.jacobian").jacobian
    np.testing.assert_allclose(jac, rows, rtol=1e-12)


def test_four_outputs_three_inputs_rows():
    x = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    rows = rows_by_one_hot(f_4_by_3, x, 4)
    expected = [
        [1.0 * 0.5, 2.0 * 0.5, 2.0 * 1.0],
        [4.0, 0.0, 0.0],
        [0.0, np.cos(1.0), 1.0],
        [-1.0, 0.0, np.exp(0.5)],
    ]
    np.testing.assert_allclose(rows, expected, rtol=1e-12)
    verdict = vjpcheck.check_vjp(f_4_by_3, x)
    assert verdict.status == "pass", verdict.explain()
    jac = next(o for o in verdict.oracles if o.name == "torch.jacobian").jacobian
    np.testing.assert_allclose(jac, expected, rtol=1e-12)
    fd = next(o for o in verdict.oracles if o.name == "finite_differences").jacobian
    np.testing.assert_allclose(fd, expected, rtol=1e-8)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_seed_in_both_frameworks_agree(framework):
    import jax.numpy as jnp

    def jax_seed(x):
        y = jnp.zeros((1, 2), dtype=x.dtype)
        y = y.at[0, 0].set(x[0, 0] ** 2 + 3 * x[0, 1])
        return y.at[0, 1].set(x[0, 1] ** 2 + 2 * x[0, 0])

    x = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    if framework == "torch":
        verdict = vjpcheck.check_vjp(seed_fn, x, v=torch.ones(1, 2, dtype=torch.float64), twin=jax_seed)
    else:
        import jax

        with jax.enable_x64(True):
            xj = jnp.asarray([[2.0, 3.0]], dtype=jnp.float64)
            vj = jnp.ones((1, 2), dtype=jnp.float64)
        verdict = vjpcheck.check_vjp(jax_seed, xj, v=vj, twin=seed_fn)
    assert verdict.status == "pass", verdict.explain()
    assert any(o.name.startswith("jax.") and o.ok for o in verdict.oracles)
    assert any(o.name.startswith("torch.") and o.ok for o in verdict.oracles)
