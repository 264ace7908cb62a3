"""Peak memory of the default check at a large input (not timed): what vjpcheck holds on
top of what PyTorch's own forward mode of the function needs.

Measured in a fresh process from the kernel's high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs``), with glibc's mmap threshold fixed so that every large array is
mapped and unmapped (its adaptive threshold would keep freed 16 MB arrays in the heap and
make the figure depend on allocation history).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

N = 2_000_000  # float64: 16 MB per array

SCRIPT = textwrap.dedent(
    f"""
    import gc
    import numpy as np, torch
    import torch.autograd.forward_ad as fwAD
    import vjpcheck

    torch.set_num_threads(1)

    def f(x):
        return torch.tanh(x).cumsum(0) * torch.sin(x)

    def kib(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1])

    def peak_above_now(run):
        gc.collect()
        open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
        now = kib("VmRSS")
        run()
        return kib("VmHWM") - now

    def forward_mode():
        with fwAD.dual_level():
            y = f(fwAD.make_dual(x, torch.randn_like(x)))
            fwAD.unpack_dual(y).tangent

    x = torch.from_numpy(np.random.default_rng(0).standard_normal({N}))
    vjpcheck.check_vjp(f, torch.randn(8, dtype=torch.float64))  # imports and first-call caches
    forward_mode()
    own = peak_above_now(forward_mode)
    result = []
    check = peak_above_now(lambda: result.append(vjpcheck.check_vjp(f, x)))
    print(own, check, result[0].status)
    """
)


def _measurable() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _measurable(), reason="needs Linux's /proc/self/clear_refs to reset the peak RSS")
def test_the_default_check_holds_few_copies_of_a_large_input_beyond_forward_mode():
    """At 2e6 float64 entries the default check (finite differences in probe mode, the
    backward, forward mode) peaks in its forward-mode oracle: the case's snapshots (input,
    output, cotangent), the backward's gradient, forward mode's own input copy, and
    PyTorch's forward mode of f. Measured: 14.2× the input, with PyTorch's forward mode
    alone 9.0×; 18.0× before forward mode stopped copying the cotangent and holding one
    projection's arrays into the next (15.2×), and before a drawn cotangent's canonical
    values became a view of it."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(1 << 20), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    own_kib, check_kib, status = done.stdout.split()
    input_kib = N * 8 / 1024
    assert status == "pass"
    extra = (int(check_kib) - int(own_kib)) / input_kib
    assert extra <= 6.0, f"the check held {extra:.1f}× the input beyond PyTorch's own forward mode ({int(check_kib) / input_kib:.1f}× in all)"


def test_a_drawn_cotangent_is_read_without_a_copy_and_a_given_one_is_snapshotted():
    """A drawn cotangent is vjpcheck's own (oracles get copies): its canonical values are
    a read-only view of it. A caller's cotangent is copied, so that the audit still sees a
    backward that writes into it."""
    import numpy as np
    import torch

    from vjpcheck._engine.case import build_case

    x = torch.linspace(-1, 1, 6, dtype=torch.float64)
    drawn = build_case(torch.sin, (x,))
    assert np.shares_memory(drawn.v[0], drawn.cotangents[0].numpy()) and not drawn.v[0].flags.writeable
    given = torch.ones(6, dtype=torch.float64)
    case = build_case(torch.sin, (x,), v=given)
    assert not np.shares_memory(case.v[0], given.numpy())
    float32 = build_case(torch.sin, (x.float(),))  # rounded values read back as float64
    assert float32.v[0].dtype == np.float64 and np.array_equal(float32.v[0], float32.cotangents[0].double().numpy())
