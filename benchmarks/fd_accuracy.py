"""Finite-difference accuracy on smooth float64 functions against analytic derivatives.

    python benchmarks/fd_accuracy.py [--points 200]

For each function and random point: vjpcheck's finite-difference vᵀJ against the exact
vᵀJ. Prints the median and max relative error per entry (entries with |exact| above 1e-6
of the largest), and how often the error estimate bounded the actual error.
"""

import argparse

import numpy as np
import torch

import vjpcheck

FUNCTIONS = {
    # name: (torch function, exact vᵀJ(x, v) in NumPy)
    "sin": (torch.sin, lambda x, v: v * np.cos(x)),
    "exp": (torch.exp, lambda x, v: v * np.exp(x)),
    "tanh": (torch.tanh, lambda x, v: v * (1 - np.tanh(x) ** 2)),
    "log1p(x^2)": (lambda x: torch.log1p(x * x), lambda x, v: v * 2 * x / (1 + x * x)),
    "x^3": (lambda x: x**3, lambda x, v: v * 3 * x**2),
    "atan": (torch.atan, lambda x, v: v / (1 + x * x)),
    "sigmoid": (torch.sigmoid, lambda x, v: v * np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "softplus": (torch.nn.functional.softplus, lambda x, v: v / (1 + np.exp(-x))),
    "A@tanh(x)": (None, None),  # filled below: non-elementwise
    "sum(x)^2": (lambda x: x.sum() ** 2, lambda x, v: v * 2 * x.sum() * np.ones_like(x)),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    A = rng.standard_normal((3, 6))
    At = torch.tensor(A)
    FUNCTIONS["A@tanh(x)"] = (lambda x: At @ torch.tanh(x), lambda x, v: (v @ A) * (1 - np.tanh(x) ** 2))
    all_rel, bounded, total = [], 0, 0
    print(f"{'function':12s} {'median rel':>12s} {'max rel':>12s}")
    for name, (fn, exact_fn) in FUNCTIONS.items():
        rels = []
        for _ in range(args.points):
            x = rng.uniform(-3, 3, size=6)
            y = fn(torch.tensor(x))
            v = rng.standard_normal(tuple(y.shape))
            verdict = vjpcheck.check_vjp(fn, torch.tensor(x), v=torch.tensor(v), oracles=["finite_differences"])
            fd = verdict.oracles[0]
            exact = exact_fn(x, v)
            err = np.abs(fd.grads[0] - exact)
            keep = np.abs(exact) > 1e-6 * np.abs(exact).max()
            rels.extend((err[keep] / np.abs(exact[keep])).tolist())
            bounded += int(np.sum(err <= 2 * fd.error[0]))
            total += err.size
        rels = np.array(rels)
        all_rel.extend(rels.tolist())
        print(f"{name:12s} {np.median(rels):12.3e} {rels.max():12.3e}")
    all_rel = np.array(all_rel)
    print(f"{'ALL':12s} {np.median(all_rel):12.3e} {all_rel.max():12.3e}  ({all_rel.size} entries)")
    print(f"error estimate (x2 safety, as used in comparisons) bounded the actual error in {bounded}/{total} entries")


if __name__ == "__main__":
    main()
