"""Per input size: vjpcheck as users call it, a stripped configuration, ``gradcheck`` and
``check_grads``, timed in one process on the same inputs, in interleaved rounds, each as a
ratio to its floor.

Floors (what no checker of that kind can go below):

- full mode: finite differences evaluate f at 4 points per input coordinate (Richardson
  steps ±h, ±h/2): 4n float64 evaluations, batched as vjpcheck batches them, measured;
- probe mode: 4 points per random direction plus the base point, float64, and one
  forward+backward: (4·probes + 1) evaluations + 1 forward+backward, each measured alone.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

from .._engine.options import DEFAULTS
from ..oracles.finite_differences.evaluate import BATCH_ELEMENTS
from ..oracles.finite_differences.stats import SIGNS
from .targets import bench_function, exact_vjp

SIZES = (64, 1024, 16384, 100000)
#: above these sizes a method is not timed (its cost grows as n²: minutes at 16384)
LIMITS = {"gradcheck_slow": 1024, "full": 4096}
STRIPPED = ["finite_differences", "torch.backward"]
#: the timed methods, in the order they are printed and drawn (the defaults first)
METHODS = ("default", "stripped_full", "default_probe", "stripped_probe", "gradcheck_slow", "gradcheck_fast", "jax_check_grads")
#: checkers that look along random directions, as probe mode does (their floor is probe mode's)
PROBE_LIKE = ("gradcheck_fast", "jax_check_grads")


def interleaved_times(methods: dict[str, Callable[[], object]], repeat: int, budget: float) -> dict[str, float]:
    """Median seconds per method over ``repeat`` rounds after one warm-up round; each round
    runs every method once, in turn, so that a loaded machine's drift (this one has 2
    cores) slows floors and methods alike (fewer rounds when ``budget`` s run out)."""
    for fn in methods.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    start = time.perf_counter()
    for _ in range(repeat):
        for name, fn in methods.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        if time.perf_counter() - start > budget:
            break
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_size(n: int, repeat: int = 5, device: str = "cpu", budget: float = 60.0) -> dict:
    """One row: seconds per method, floors, ratios, verdicts and finite-difference accuracy."""
    import torch

    f = bench_function(torch)
    sync = (lambda: torch.cuda.synchronize()) if device.startswith("cuda") else (lambda: None)
    rng = np.random.default_rng(n)
    x_np, v_np = rng.uniform(-2, 2, n), rng.standard_normal(n)
    x = torch.tensor(x_np, dtype=torch.float64, device=device)
    v = torch.tensor(v_np, dtype=torch.float64, device=device)
    exact = exact_vjp(x_np, v_np)
    row: dict = {"n": n, "device": device, "seconds": {}, "floors": {}, "ratios": {}, "verdicts": {}, "error": {}, "breakdown": {}}
    floors = row["floors"]

    def forward_backward():
        xr = x.detach().requires_grad_(True)
        f(xr).backward(v)

    full = n <= LIMITS["full"]
    methods: dict[str, Callable[[], object]] = {"evaluation": lambda: f(x), "forward_backward": forward_backward}
    if full:
        methods["full_floor"] = lambda: _all_full_points(f, x, n)
    configs = [("default", None, "auto"), ("default_probe", None, "probe"), ("stripped_probe", STRIPPED, "probe")]
    if full:
        configs.insert(1, ("stripped_full", STRIPPED, "full"))
    verdicts: dict = {}
    for key, oracles, mode in configs:
        methods[key] = lambda key=key, oracles=oracles, mode=mode: verdicts.__setitem__(key, _check(f, x, v, oracles, mode))
    xg = x.detach().clone().requires_grad_(True)
    if n <= LIMITS["gradcheck_slow"]:
        methods["gradcheck_slow"] = lambda: torch.autograd.gradcheck(f, (xg,))
    methods["gradcheck_fast"] = lambda: torch.autograd.gradcheck(f, (xg,), fast_mode=True)
    seconds = interleaved_times({k: (lambda fn=fn: (fn(), sync())) for k, fn in methods.items()}, repeat, budget)
    # apart, afterwards: XLA's CPU threads keep spinning after their work and would slow
    # the PyTorch evaluation timed next (the floors) several-fold on a 2-core machine
    seconds.update(interleaved_times({"jax_check_grads": _check_grads_call(x_np)}, repeat, budget))
    evaluation = seconds.pop("evaluation")
    floors["probe"] = (len(SIGNS) * DEFAULTS.probes + 1) * evaluation + seconds["forward_backward"]
    if full:
        floors["full"] = seconds.pop("full_floor")
    row["seconds"] = seconds
    for key, _, _ in configs:
        verdict = verdicts[key]
        row["verdicts"][key] = str(verdict.status)
        row["breakdown"][key] = verdict.timings
        fd = next((o for o in verdict.oracles if o.name == "finite_differences"), None)
        if fd is not None and fd.grads is not None:
            row["error"][key] = float(np.max(np.abs(fd.grads[0] - exact)) / np.max(np.abs(exact)))
        if verdict.probe:
            row.setdefault("probe_statement", verdict.probe["statement"])
    row["default_mode"] = "full" if full else "probe"
    if "gradcheck_slow" in seconds:
        row["error"]["gradcheck_slow"] = gradcheck_fd_error(f, x_np, v_np, exact)

    for key, t in seconds.items():
        mode = row["default_mode"] if key == "default" else ("probe" if key in PROBE_LIKE or "probe" in key else "full")
        if key != "forward_backward" and mode in floors:
            row["ratios"][key] = t / floors[mode]
    if "gradcheck_slow" in seconds:
        row["default_speedup_vs_gradcheck_slow"] = seconds["gradcheck_slow"] / seconds["default"]
    return row


def _check(f, x, v, oracles, mode):
    from .._engine.check import check_vjp

    return check_vjp(f, x, v=v, oracles=oracles, mode=mode)


def _all_full_points(f, x, n: int) -> None:
    """f at 4n points (x perturbed along each coordinate), in vjpcheck's batch sizes."""
    import torch

    points = len(SIGNS) * n
    chunk = max(1, BATCH_ELEMENTS // (2 * n))
    batched = torch.func.vmap(f)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    for lo in range(0, points, chunk):
        rows = torch.arange(lo, min(points, lo + chunk), device=x.device)
        steps = torch.tensor(SIGNS, dtype=x.dtype, device=x.device)[rows // n, None] * 2.0**-10
        batched(x + steps * eye[rows % n])


def _check_grads_call(x_np: np.ndarray) -> Callable[[], object]:
    """``jax.test_util.check_grads`` of the same function, reverse mode, order 1 (jitted)."""
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    from ..frameworks.jax_backend import x64

    with x64():
        xj = jnp.asarray(x_np)
    fn = jax.jit(bench_function(jnp))

    def call():
        with x64():
            check_grads(fn, (xj,), order=1, modes=("rev",))

    return call


def gradcheck_fd_error(f, x_np, v_np, exact) -> float:
    """The error of vᵀJ from central differences with gradcheck's default step (eps=1e-6)."""
    import torch

    eps = 1e-6
    n = x_np.size
    with torch.no_grad():
        X = torch.tensor(np.repeat(x_np[None], n, 0))
        E = torch.eye(n, dtype=torch.float64) * eps
        plus = torch.func.vmap(f)(X + E).numpy()
        minus = torch.func.vmap(f)(X - E).numpy()
    est = (plus - minus) / (2 * eps) @ v_np
    return float(np.max(np.abs(est - exact)) / np.max(np.abs(exact)))


def format_row(row: dict) -> str:
    s, r = row["seconds"], row["ratios"]
    parts = [f"n={row['n']:>7}  fwd+bwd {s['forward_backward'] * 1e3:8.3f} ms"]
    for key in METHODS:
        if key in s:
            parts.append(f"{key} {s[key] * 1e3:.1f} ms" + (f" ({r[key]:.2f}x floor)" if key in r else ""))
    if "default_speedup_vs_gradcheck_slow" in row:
        parts.append(f"default {row['default_speedup_vs_gradcheck_slow']:.1f}x faster than gradcheck slow")
    return " | ".join(parts)
