"""``verify`` with defaults, per function, each in a fresh Python process (as a test run
or a CI job meets it: first calls, imports and compilations included), then once more in
that warm process with another seed (what the first call paid once), and the time to
find and shrink a bug present in every example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

#: name → (import line, function expression, specs): elementwise and matmul, both frameworks
FUNCTIONS = {
    "torch.sin": ("import torch", "torch.sin", '[tensor("n, m")]'),
    "torch.matmul": ("import torch", "torch.matmul", '[tensor("n, k"), tensor("k, m")]'),
    "jnp.sin": ("import jax.numpy as jnp", "jnp.sin", '[tensor("n, m")]'),
    "jnp.matmul": ("import jax.numpy as jnp", "jnp.matmul", '[tensor("n, k"), tensor("k, m")]'),
}
#: planted bugs (wrong in every example) whose minimal case ``verify`` must find
SHRINK = {
    "torch custom Function": ("from vjpcheck.bench.targets import torch_sin_wrong_scale", "torch_sin_wrong_scale()", '[tensor("n, m")]'),
    "jax.custom_vjp": ("from vjpcheck.bench.targets import jax_sin_wrong_scale", "jax_sin_wrong_scale()", '[tensor("n, m")]'),
}
GOALS = {"torch": 1.5, "jax": 4.0, "shrink torch": 30.0, "shrink jax": 60.0}

_SCRIPT = """
import json, time
t0 = time.perf_counter()
import vjpcheck
from vjpcheck.strategies import tensor
{imports}
fn, specs = {fn}, {specs}
t1 = time.perf_counter()
out = {{"import_seconds": t1 - t0}}
try:
    summary = vjpcheck.verify(fn, *specs, max_examples={examples}, seed=0)
    out.update(status="pass", examples=summary.examples, counts={{str(k): c for k, c in summary.counts.items()}})
except vjpcheck.VJPMismatch as failure:
    out.update(status=str(failure.verdict.overall_status), shrink_attempts=failure.summary.shrink_examples,
               examples=failure.summary.examples, minimal=failure.verdict.case.get("args", [{{}}])[0].get("description"))
out["verify_seconds"] = time.perf_counter() - t1
if out["status"] == "pass":  # the same again in this warm process: what the first call paid once
    t2 = time.perf_counter()
    vjpcheck.verify(fn, *specs, max_examples={examples}, seed=1)
    out["warm_seconds"] = time.perf_counter() - t2
print("VJPCHECK-BENCH " + json.dumps(out))
"""


def time_in_fresh_process(imports: str, fn: str, specs: str, examples: int = 100, timeout: float = 600.0) -> dict:
    """Run one ``verify`` in a new interpreter; its own clock, so start-up is not counted
    twice (imports are reported apart)."""
    script = _SCRIPT.format(imports=imports, fn=fn, specs=specs, examples=examples)
    with tempfile.TemporaryDirectory() as fresh:  # no example database from an earlier run
        env_run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, env=_env(), cwd=fresh)
    for line in env_run.stdout.splitlines():
        if line.startswith("VJPCHECK-BENCH "):
            return json.loads(line[len("VJPCHECK-BENCH "):])
    return {"status": "crashed", "stderr": env_run.stderr[-2000:]}


def _env() -> dict:
    """This process' environment without ``CI`` (which would halve the examples: the bench
    measures the default 100), with one intra-op thread per process, and with this
    vjpcheck importable (the process starts in an empty folder; vjpcheck may be a checkout
    that is not installed)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.setdefault("OMP_NUM_THREADS", "1")
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return env


def bench_verify(functions=tuple(FUNCTIONS), shrink: bool = True, examples: int = 100, progress=print) -> dict:
    """``verify`` per function and, with ``shrink``, per planted bug; each against its goal."""
    results: dict = {"functions": {}, "shrink": {}}
    for name in functions:
        out = time_in_fresh_process(*FUNCTIONS[name], examples=examples)
        out["goal_seconds"] = GOALS["jax" if name.startswith("jnp") else "torch"]
        results["functions"][name] = out
        progress(f"verify {name:>14}: {_line(out)}")
    if shrink:
        for name, spec in SHRINK.items():
            out = time_in_fresh_process(*spec, examples=examples)
            out["goal_seconds"] = GOALS["shrink jax" if "jax" in name else "shrink torch"]
            results["shrink"][name] = out
            progress(f"shrink {name:>22}: {_line(out)}" + (f", minimal case {out.get('minimal')} after {out.get('shrink_attempts')} attempts" if "minimal" in out else ""))
    return results


def _line(out: dict) -> str:
    if "verify_seconds" not in out:
        return f"{out['status']}: {out.get('stderr', '')[-300:]}"
    met = "met" if out["verify_seconds"] <= out["goal_seconds"] else "NOT met"
    warm = f"; again in the same process {out['warm_seconds']:.2f} s" if "warm_seconds" in out else ""
    return f"{out['verify_seconds']:.2f} s ({out['status']}, {out.get('examples')} examples; goal ≤ {out['goal_seconds']:g} s: {met}); imports {out['import_seconds']:.2f} s{warm}"
