"""One discrepancy, one story: oracle groups, the suspect in the user's terms, digits."""

import torch

import planted_torch
import vjpcheck
from vjpcheck._engine.story import distinct_digits, number, role_of, short_name


def test_a_wrong_custom_backward_is_named_by_its_class():
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    verdict = vjpcheck.check_vjp(planted_torch.SinWrongScale.apply, x)
    assert verdict.status == "mismatch"
    story = verdict.to_dict()["story"]
    assert story["headline"].startswith("SinWrongScale.backward disagrees with finite differences")
    suspects = [p for p in story["parties"] if p["suspect"]]
    assert len(suspects) == 1 and {"torch.backward", "torch.jacobian"} <= set(suspects[0]["names"])
    brief = verdict.explain(brief=True)
    assert brief.count("torch.backward vs finite_differences") == 0  # no pairwise repetition
    assert len(brief.splitlines()) <= 40


def test_roles_in_the_users_terms():
    assert short_name("pkg.mod.RowSum.apply") == "RowSum.apply"
    assert short_name("vjpcheck.frameworks.torch_backend.vjp_map[torch.corrcoef]") == "vjp_map[corrcoef]"  # second order
    assert role_of("torch.backward", "pkg.RowSum.apply", "torch", custom=True) == "RowSum.backward"
    assert role_of("torch.primal", "pkg.RowSum.apply", "torch", custom=True) == "AD of RowSum's forward"
    assert role_of("jax.vjp", "m.f", "jax", custom=True) == "the custom VJP rule of f"
    assert role_of("torch.backward", "torch.sin", "torch", custom=False) == "PyTorch's reverse mode of sin"
    assert role_of("jax.vjp", "torch.sin", "torch", custom=False) == "the jax twin (jax.vjp)"
    assert role_of("finite_differences", "f", "torch", custom=False) == "finite differences"


def test_enough_digits_to_see_a_small_difference():
    got, expected = 0.1737520004, 0.17375203
    digits = distinct_digits([got, expected])
    assert number(got, digits) != number(expected, digits)
    assert distinct_digits([0.5, 0.25]) == 6
    assert number(1 + 2j, 6) == "1+2j"


def test_a_small_relative_error_shows_in_the_comparison_message():
    """hardsigmoid-like: a float64 rule with a float32 constant, relative error ~3e-8."""

    class AlmostSixth(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x / 6

        @staticmethod
        def backward(ctx, g):
            return g * float(torch.tensor(1 / 6, dtype=torch.float32))

    verdict = vjpcheck.check_vjp(AlmostSixth.apply, torch.linspace(0.5, 1.5, 4, dtype=torch.float64), v=torch.ones(4, dtype=torch.float64))
    assert verdict.status == "mismatch", verdict.explain()
    message = next(c.message for c in verdict.comparisons if not c.passed)
    got, expected = message.split(" got ")[1].split(", expected ")
    assert got != expected.split(" (")[0], message
