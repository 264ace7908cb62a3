"""A user's project for plugin tests: a buggy ``RowSum`` rule in its conftest.py and four
tests that use vjpcheck (one failing, two passing, one not using vjpcheck)."""

CONFTEST = '''
import torch


class RowSum(torch.autograd.Function):
    """Sums rows; the backward repeats g instead of broadcasting it along rows."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(1)

    @staticmethod
    def backward(ctx, g):
        n, m = ctx.shape
        return g.repeat(m).reshape(n, m)  # right only when a side is 1
'''

TESTS = '''
import pytest
import torch

from conftest import RowSum
from vjpcheck.strategies import tensor


def test_rowsum(vjp):
    vjp.verify(RowSum.apply, tensor("n,m", dtype="float64"))


@pytest.mark.vjpcheck(max_examples=6)
def test_sin_is_right(vjp):
    vjp.verify(torch.sin, tensor("n", dtype="real"), framework="torch")


def test_check_one_input(vjp):
    vjp.check(torch.tanh, torch.linspace(-1, 1, 5, dtype=torch.float64))


def test_not_using_vjpcheck():
    assert True
'''


XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS")


def fresh_session(monkeypatch) -> None:
    """A pytest run of the sample project is a session of its own, even when this suite runs
    under xdist: no inherited worker id (records would claim a worker that does not exist)."""
    for name in XDIST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
