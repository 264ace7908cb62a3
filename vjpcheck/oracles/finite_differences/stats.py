"""The statistics of a batch of perturbed evaluations: Richardson estimates, error bounds
and the smoothness status of each coordinate (or direction), on NumPy arrays or on
PyTorch tensors where a GPU case's values already lie."""

from __future__ import annotations

import numpy as np

from .evaluate import Evaluator

BASE_STEP = 2.0**-10
MIN_SCALE = 1e-3
RETRIES = 2
RETRY_FACTOR = 16.0
KINK_RATIO = 0.6  # gap(h/2) / gap(h) is 0.5 for smooth functions, 1 at a kink, 2 at a jump
NON_LIPSCHITZ_RATIO = 1.2  # above: the slope is unbounded (jump: 2, sqrt(|x|) at 0: √2)
CONVERGENCE = 1e-3  # |D(h/2) − D(h)| above this fraction of the scale: not converged
JACOBIAN_MAX_ENTRIES = 100_000  # the matricised Jacobian is kept for reports up to this size
PROBE_SALT = 2000  # probe directions are drawn independently of forward mode's tangents

OK, KINK, JUMP, NO_CONVERGENCE, OUT_OF_DOMAIN, NOISY = range(6)
#: with a noise level, a coordinate whose error estimate exceeds this fraction of the
#: largest gradient term is not resolved: finite differences cannot judge it
UNRESOLVED = 0.1
FINAL = (OK, KINK, JUMP, OUT_OF_DOMAIN)  # statuses that a smaller step would not change
#: statuses retried at smaller steps before they stand: a step that tracks |x| alone can
#: straddle the curvature of a smooth function (logsumexp at |x| = 1e4: h ≈ 10) and read
#: it as a kink, a jump, or a point out of the domain
RETRIED = (KINK, JUMP, OUT_OF_DOMAIN, NO_CONVERGENCE)
STATUS_NAMES = ("ok", "kink", "jump", "no-convergence", "out-of-domain", "noisy")
SIGNS = (1.0, -1.0, 0.5, -0.5)


class Problem:
    """The base point, its value and the cotangent: what every estimate is built on.

    ``noise``: the accuracy of the function's values when it is worse than the
    evaluation's rounding (an iterative solver's tolerance): it replaces ε in the error
    model (so that differences of noise are neither kinks nor derivative), as an absolute
    floor too (solvers stop at a mixed tolerance: values near 0 are accurate to about
    ``noise``, not ``noise·|f|``), and the base step grows to ∛noise·max(|x|, 1), where
    the noise's error noise/h and the truncation error of the extrapolated difference
    balance for a function of unit scale (``absolute_steps``: a declared tolerance; a
    measured noise keeps steps relative to |x|).
    """

    def __init__(self, evaluator: Evaluator, x0, f0, v_flat, weights, noise: float | None = None, absolute_steps: bool = False):
        self.evaluator, self.x0, self.f0 = evaluator, x0, f0
        self.v_conj = np.conj(v_flat) if np.iscomplexobj(v_flat) else v_flat
        self.weights = weights
        self.live = weights > 0
        self.all_live = bool(np.all(self.live))
        self.noise = noise or 0.0
        self.unit = (max(evaluator.unit[0], self.noise), evaluator.unit[1])
        self.base_step = max(BASE_STEP, self.noise ** (1 / 3))
        # a declared solver tolerance is absolute near 0: steps of ∛noise there too; a
        # measured noise keeps steps relative to |x| (a step past 0 would leave log's domain)
        self.min_scale = 1.0 if self.noise and absolute_steps else MIN_SCALE
        # Σ|v|·(ε·|f0| + tiny): the rounding every output brings into a difference (one that
        # does not move may still depend on x below its resolution), ε applied first: near
        # the dtype's largest values Σ|v|·|f0| overflows
        with np.errstate(over="ignore", invalid="ignore"):
            self.rounding0_w = float(np.sum(np.where(self.live, weights * (self.unit[0] * np.abs(f0) + self.unit[1] + self.noise), 0.0)))
        self._constants: dict = {}

    def constants(self, like) -> dict:
        """f0, |v|, conj(v) and the live mask as arrays of ``like``'s kind and device."""
        key = "numpy" if isinstance(like, np.ndarray) else str(like.device)
        if key not in self._constants:
            values = {"w": self.weights, "v_conj": self.v_conj, "f0": self.f0, "live": self.live}
            if key != "numpy":  # the same dtypes (float64/complex128, bool) as torch tensors
                import torch

                values = {name: torch.from_numpy(np.ascontiguousarray(a)).to(like.device) for name, a in values.items()}
            self._constants[key] = values
        return self._constants[key]


def chunk_stats(problem: Problem, F, h: np.ndarray, keep_columns: bool = True) -> dict:
    """Richardson estimates, error bounds and smoothness tests for c directions at once.

    ``F`` holds the values at (+h, −h, +h/2, −h/2) along each direction: shape (4c, m),
    in four blocks of c rows; a NumPy array, or a torch tensor (CPU or GPU) from a
    batched PyTorch evaluation, which is then processed where it lies. Returns
    per-direction NumPy vectors, and ``T`` / ``absT`` (c × m, F's kind) with ``T / (6h)``
    the Richardson columns R = (4·D(h/2) − D(h)) / 3. Every contraction with |v| is a
    matrix-vector product; about 16 elementwise passes over (c × m). Without
    ``keep_columns`` (probe mode: no columns are needed) the outputs are reduced in blocks
    of :data:`OUTPUT_BLOCK`, so that the temporaries stay small however large m is.
    """
    c = h.size
    k = problem.constants(F)
    m = int(F.shape[1])
    if keep_columns or m <= OUTPUT_BLOCK:
        sums = _row_sums(F, c, k, slice(None), keep_columns)
    else:
        blocks = [_row_sums(F, c, k, slice(lo, lo + OUTPUT_BLOCK), False) for lo in range(0, m, OUTPUT_BLOCK)]
        sums = {name: sum(b[name] for b in blocks) for name in blocks[0] if name not in ("T", "absT")}
    eps = problem.unit[0]
    with np.errstate(all="ignore"):
        change = sums["change"] / (2 * h)
        s1, s2 = sums["s1"], sums["s2"]
        # Σ|v|·max over the 5 values of |f|, bounded without a pass per value:
        # |F± − f0| ≤ (|F+ − F−| + |F+ + F− − 2f0|) / 2
        spread = (sums["d1"] + sums["d2"] + s1 + s2) / 2
        g = np.real(sums["g"]) / (6 * h)
        scale = sums["scale"] / (6 * h)
        evaluation_error = problem.rounding0_w + eps * spread  # Σ|v|·(ε·|f| + tiny)
        err = change + 16 * evaluation_error / h
        gap1 = s1 / h
        gap2 = s2 / (h / 2)
        noise2 = 8 * evaluation_error / (h / 2)
    # a NaN/inf value anywhere makes the |v|-contraction non-finite, and so may a sum of
    # finite values near the dtype's largest: such rows are checked value by value
    finite = np.isfinite(spread) if problem.all_live else np.zeros(c, dtype=bool)
    if not np.all(finite):
        exact = np.ones(int((~finite).sum()), dtype=bool)
        rows = select_rows(F[:c], ~finite)
        for b in range(4):
            exact &= as_numpy(_isfinite(F[b * c : (b + 1) * c][rows][:, k["live"]]).all(1)).astype(bool)
        finite[~finite] = exact
    resolved = np.isfinite(scale) & np.isfinite(g)  # overflow in the quotient
    status = np.full(c, OK)
    status[change > CONVERGENCE * scale + 4 * noise2] = NO_CONVERGENCE
    status[gap2 > KINK_RATIO * gap1 + 4 * noise2] = KINK
    status[gap2 > NON_LIPSCHITZ_RATIO * gap1 + 4 * noise2] = JUMP
    status[~resolved] = NO_CONVERGENCE  # FD cannot say anything here
    status[~finite] = OUT_OF_DOMAIN
    bad = ~finite | ~resolved
    T, absT = sums.get("T"), sums.get("absT")
    if np.any(bad):
        for arr in (g, scale, err, gap1, gap2, noise2):
            arr[bad] = 0.0
        if T is not None:
            rows = select_rows(T, bad)
            T[rows] = 0.0
            absT[rows] = 0.0
    return {"status": status, "g": g, "scale": scale, "err": err, "gap1": gap1, "gap2": gap2, "noise2": noise2, "T": T, "absT": absT}


#: output columns reduced at once in probe mode (4 rows each: 2 MB of float64 temporaries)
OUTPUT_BLOCK = 1 << 16


def _row_sums(F, c: int, k: dict, cols: slice, keep_columns: bool) -> dict:
    """The |v|-contractions of one block of output columns, per direction (additive over
    blocks): ``change`` (2h·|D(h/2) − D(h)|), ``s1``/``s2`` (second differences at h and
    h/2), ``d1``/``d2`` (|F+ − F−| at h and h/2), ``g`` (6h·⟨v, R⟩), ``scale`` (6h·|v|·|R|);
    and ``T``/``absT`` themselves with ``keep_columns``."""
    F = F[:, cols]
    FP, FM, FP2, FM2 = F[:c], F[c : 2 * c], F[2 * c : 3 * c], F[3 * c :]
    w, v_conj, f0 = k["w"][cols], k["v_conj"][cols], k["f0"][cols]
    with np.errstate(all="ignore"):
        dF1 = FP - FM  # 2h·D(h)
        dF2 = FP2 - FM2  # h·D(h/2)
        T = dF2 * 8
        T -= dF1  # 6h·R
        absT = _abs(T, scratch=False)
        change_vec = dF2 * 2
        change_vec -= dF1  # 2h·(D(h/2) − D(h))
        out = {"change": as_numpy(_abs(change_vec) @ w)}
        # second differences at h and h/2, as (F+ − f0) + F− − f0: F+ + F− − 2f0 overflows
        # near the dtype's largest values
        S1 = FP - f0
        S1 += FM
        S1 -= f0
        S2 = FP2 - f0
        S2 += FM2
        S2 -= f0
        out["s1"] = as_numpy(_abs(S1) @ w)
        out["s2"] = as_numpy(_abs(S2) @ w)
        out["d1"] = as_numpy(_abs(dF1) @ w)
        out["d2"] = as_numpy(_abs(dF2) @ w)
        out["g"] = as_numpy(T @ v_conj)
        out["scale"] = as_numpy(absT @ w)
    if keep_columns:
        out["T"], out["absT"] = T, absT
    return out


def _abs(x, scratch: bool = True):
    """|x|: in place for real scratch arrays; NumPy or torch."""
    if isinstance(x, np.ndarray):
        return np.abs(x, out=x) if scratch and x.dtype.kind == "f" else np.abs(x)
    return x.abs_() if scratch and not x.is_complex() else x.abs()


def like(x, values: np.ndarray):
    """``values`` as an array of ``x``'s kind and device."""
    if isinstance(x, np.ndarray):
        return values
    import torch

    return torch.from_numpy(np.ascontiguousarray(values)).to(x.device)


def _isfinite(x):
    return np.isfinite(x) if isinstance(x, np.ndarray) else x.isfinite()


def as_numpy(x) -> np.ndarray:
    """A per-direction vector as NumPy (from the CPU or the GPU)."""
    return x if isinstance(x, np.ndarray) else x.cpu().numpy()


def select_rows(x, mask: np.ndarray):
    """A NumPy boolean row mask usable as an index of ``x``."""
    if isinstance(x, np.ndarray):
        return mask
    import torch

    return torch.from_numpy(mask).to(x.device)


# ---- full mode: one column per coordinate -------------------------------------------
