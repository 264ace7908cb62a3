"""Batched vs point-by-point finite differences, side by side in one process.

    python benchmarks/fd_batching.py

Times the finite-difference oracle alone (median of 5 after a warm-up) on
f(x) = cumsum(x·sin x) in full mode, with batching on and off, and prints the ratio.
"""

import statistics

import torch

import vjpcheck


def fd_seconds(x, batch: bool) -> float:
    times = []
    for _ in range(6):
        v = vjpcheck.check_vjp(lambda a: torch.cumsum(a * torch.sin(a), 0), x, oracles=["finite_differences"], mode="full", fd_batch=batch)
        assert v.oracles[0].status == "ok", v.oracles[0].message
        times.append(v.timings["finite_differences"])
    return statistics.median(times[1:])


if __name__ == "__main__":
    for n in (16, 64, 256, 1024):
        x = torch.linspace(-2, 2, n, dtype=torch.float64)
        batched, looped = fd_seconds(x, True), fd_seconds(x, False)
        print(f"n={n:5d}  batched {batched * 1e3:8.2f} ms  point by point {looped * 1e3:8.2f} ms  speed-up {looped / batched:6.1f}x")
