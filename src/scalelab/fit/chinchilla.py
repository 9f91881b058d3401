"""Chinchilla's three estimates of the compute-optimal frontier N_opt(C), D_opt(C).

Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv 2203.15556:

* :func:`approach1` — §3.1: the lower envelope of loss vs FLOPs over training curves; at each
  FLOP level the run on the envelope gives N_opt and D_opt, then N_opt ∝ C^a, D_opt ∝ C^b.
* :func:`approach2` — §3.2: IsoFLOP profiles; per budget a parabola in log N, its vertex the
  optimum; the "lowest run per budget" variant is reported beside it.
* :func:`approach3` — §3.3 and App. D.2: the parametric loss L(N, D) = E + A/N^α + B/D^β fitted
  with a Huber loss (δ = 1e-3) on log L from Hoffmann's grid of 4,500 L-BFGS starts, as
  Besiroglu et al. ("Chinchilla Scaling: A replication attempt", arXiv 2404.10102) replicated
  it, plus their own maximum-likelihood estimator (Huber likelihood with a fitted scale) and
  the mean-vs-sum reduction that explains why Hoffmann's optimiser stopped early.

Compute-optimal allocation under C = 6·N·D (Hoffmann et al. eq. 4):
N_opt = G·(C/6)^a, D_opt = G⁻¹·(C/6)^b, a = β/(α+β), b = α/(α+β), G = (αA/(βB))^(1/(α+β)).
Used by chapter 5 (``05_chinchilla.ipynb``). The numerics of approach 3 live in
:mod:`scalelab.fit._lse` (batched Levenberg–Marquardt, deduplication, scipy polish).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from scalelab.fit import _lse, huber
from scalelab.fit._common import (
    FitInputError,
    TableResult,
    as_positive_array,
    percentile_ci,
    require_columns,
    same_length,
)
from scalelab.fit.powerlaw import PowerLawFit, fit_power_law

log = logging.getLogger(__name__)

METHODS = ("huber", "mle")
REDUCTIONS = ("sum", "mean")
MIN_POINTS_APPROACH3 = 6  # five parameters, so at least one more point than that


# --------------------------------------------------------------------------------------------
# Approach 3
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approach3Result(TableResult):
    """L(N, D) = E + A/N^α + B/D^β and the compute-optimal allocation it implies.

    Attributes:
        E, A, B, alpha, beta: the fitted law (loss in the units of the input L, usually nats/token).
        method, reduction, delta: how it was fitted.
        objective: the minimised objective (Huber sum/mean, or the negative log-likelihood).
        sigma: the fitted Huber scale (``method="mle"`` only, else NaN).
        n: number of points fitted.
        ci: ``{name: (lo, hi)}`` 95% percentile bootstrap intervals (empty without a bootstrap).
        samples: bootstrap draws, one row per resample (``None`` without a bootstrap).
        info: optimiser details (starts, polished objectives, seconds).
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    method: str
    reduction: str
    delta: float
    objective: float
    n: int
    sigma: float = float("nan")
    ci: dict = field(default_factory=dict)
    samples: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    info: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a: β/(α+β)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b: α/(α+β)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """(αA/(βB))^(1/(α+β)), so that N_opt = G·(C/6)^a."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    @property
    def theta(self) -> np.ndarray:
        """(log A, log B, log E, α, β), the optimiser's coordinates."""
        return np.array([math.log(self.A), math.log(self.B), math.log(self.E), self.alpha, self.beta])

    def loss(self, N, D):
        """Predicted loss at N parameters and D tokens."""
        N, D = np.asarray(N, float), np.asarray(D, float)
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    def n_opt(self, C):
        """Loss-minimising parameters at compute C (FLOPs, C = 6·N·D)."""
        return self.G * (np.asarray(C, float) / 6.0) ** self.a

    def d_opt(self, C):
        """Loss-minimising tokens at compute C (FLOPs, C = 6·N·D)."""
        return (np.asarray(C, float) / 6.0) ** self.b / self.G

    def tokens_per_param(self, C):
        """D_opt/N_opt at compute C."""
        return self.d_opt(C) / self.n_opt(C)

    def rows(self):
        names = ["E", "A", "B", "alpha", "beta", "a", "b", "G"]
        out = [(k, float(getattr(self, k)), self.ci.get(k)) for k in names]
        if self.method == "mle":
            out.append(("sigma", self.sigma, self.ci.get("sigma")))
        out.append(("objective", self.objective, None))
        out.append(("n", float(self.n), None))
        return out

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update({"method": self.method, "reduction": self.reduction, "delta": self.delta})
        return d


def _validate_ndl(N, D, L, minimum: int):
    Na, Da, La = as_positive_array("N", N), as_positive_array("D", D), as_positive_array("L", L)
    n = same_length(N=Na, D=Da, L=La)
    if n < minimum:
        raise FitInputError(f"need at least {minimum} (N, D, L) points, got {n}")
    return Na, Da, La, n


def _validate_bootstrap(bootstrap) -> int:
    """``bootstrap`` as a count of resamples: a non-negative integer (0: none)."""
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ValueError(f"bootstrap must be a non-negative integer (0 for no resampling), got {bootstrap!r}")
    return int(bootstrap)


def _require_spread(Na, Da, La) -> None:
    """Approach 3 identifies α only from several sizes N, β only from several token counts D, and E, A, B only
    from losses that differ; identical or degenerate points would return an arbitrary optimum."""
    bad = [f"{name} takes {len(np.unique(v))} distinct value(s)" for name, v in (("N", Na), ("D", Da))
           if len(np.unique(v)) < 2]
    if np.ptp(La) == 0:
        bad.append("every L is equal")
    if bad:
        raise FitInputError("approach 3 needs points that vary: at least 2 distinct N, 2 distinct D and losses that "
                            "differ; here " + ", ".join(bad))


def _starts(grid) -> np.ndarray:
    if isinstance(grid, str):
        if grid != "hoffmann":
            raise ValueError(f"grid must be 'hoffmann' or an (S, 5) array of (a, b, e, alpha, beta); got {grid!r}")
        return _lse.hoffmann_starts()
    arr = np.atleast_2d(np.asarray(grid, float))
    if arr.shape[1] != 5 or not np.isfinite(arr).all():
        raise ValueError(f"grid array must be (S, 5) finite rows (a, b, e, alpha, beta); got shape {arr.shape}")
    return arr


def _mle_value_and_grad(params, x, y, t, delta, logz, weights=None):
    """Negative log-likelihood of the Huber likelihood (:func:`scalelab.fit.huber.log_density`, scale σ = e^s)
    and its gradient: Σ c_i·Huber_δ(r_i/σ) + n·(s + log Z(δ)), with n = Σ c_i."""
    theta, s = params[:5], params[5]
    sigma = math.exp(s)
    pred, p1, p2, p3 = _lse._terms(theta[None, :], x, y)
    r = (pred - t)[0]
    z = r / sigma
    h = huber.value(z, delta)
    psi = huber.psi(z, delta)
    c = np.ones_like(r) if weights is None else weights
    n = c.sum()
    f = float((c * h).sum() + n * (s + logz))
    cp = c * psi / sigma
    g = np.array([cp @ p1[0], cp @ p2[0], cp @ p3[0], -(cp * p1[0]) @ x, -(cp * p2[0]) @ y,
                  n - float((c * psi * z).sum())])
    return f, g


def _fit_mle(theta0, x, y, t, delta, weights=None, bounded=False):
    r = _lse._terms(theta0[None, :], x, y)[0][0] - t
    c = np.ones_like(r) if weights is None else weights
    # Near the Laplace limit (δ small) the MLE scale solves Σ ψ(z)·z = n, i.e. σ ≈ δ·mean|r|.
    sigma0 = max(delta * float((c * np.abs(r)).sum() / c.sum()), 1e-12)
    p0 = np.concatenate([theta0, [math.log(sigma0)]])
    logz = huber.log_norm(delta)
    # bounded=True boxes log σ to ±20 nats around its start. Only the bootstrap's fallback uses it:
    # on a few resamples the unbounded line search tries exp(log σ) = inf, while on the full data the
    # box changes L-BFGS-B's path on this nearly non-smooth (δσ ≈ 5e-9, almost L1) objective and it
    # stops at a worse point (checked on Epoch's 240 points), so the default stays unbounded.
    ls0 = math.log(sigma0)
    bounds = [(None, None)] * 5 + [(ls0 - 20.0, ls0 + 20.0)] if bounded else None
    res = minimize(_mle_value_and_grad, p0, args=(x, y, t, delta, logz, weights), jac=True, method="L-BFGS-B",
                   bounds=bounds, options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20})
    return res.x, float(res.fun)


def _huber_sum_fit(x, y, t, delta, starts):
    return _lse.grid_fit(x, y, t, delta, starts)


def _huber_mean_fit(x, y, t, delta, starts):
    """Plain scipy L-BFGS-B (default tolerances) on the mean from every start; best kept.

    This path deliberately keeps scipy's default stopping rule: with the objective divided by n
    it fires early (an absolute objective change below 2.2e−9), which is the effect Besiroglu
    et al. identified in Hoffmann et al.'s fit. A faster optimiser would not reproduce it.
    """
    best_theta, best_f = None, math.inf
    ends = np.full((len(starts), 6), np.nan)  # where every start stopped: log A, log B, log E, α, β, summed objective
    for i, s in enumerate(starts):
        th, fv, _ = _lse.plain_scipy(s, x, y, t, delta, reduction="mean", jac=True)
        ends[i, :5], ends[i, 5] = th, fv
        if np.isfinite(fv) and fv < best_f:
            best_theta, best_f = th, fv
    return best_theta, best_f / len(t), {"n_starts": len(starts), "optimizer": "scipy L-BFGS-B defaults, mean",
                                         "endpoints": ends}


def _params_from_theta(theta) -> dict[str, float]:
    a, b, e, al, be = (float(v) for v in theta)
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": al, "beta": be}


def _derived(p: dict[str, float]) -> dict[str, float]:
    al, be = p["alpha"], p["beta"]
    out = dict(p)
    out["a"] = be / (al + be)
    out["b"] = al / (al + be)
    with np.errstate(all="ignore"):
        out["G"] = float((al * p["A"] / (be * p["B"])) ** (1.0 / (al + be))) if al > 0 and be > 0 else float("nan")
    return out


def approach3(
    N,
    D,
    L,
    *,
    method: str = "huber",
    delta: float = 1e-3,
    reduction: str = "sum",
    grid="hoffmann",
    bootstrap: int = 0,
    seed: int = 0,
) -> Approach3Result:
    """Fit L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. App. D.2; Besiroglu et al. §2–3).

    Args:
        N: parameters per run (> 0).
        D: training tokens per run (> 0).
        L: final loss per run (> 0, e.g. nats per token).
        method: ``"huber"`` — minimise Σ Huber_δ(LSE(a − α log N, b − β log D, e) − log L)
            from every start of ``grid`` and keep the best; ``"mle"`` — Besiroglu et al.'s
            estimator: the negative log-likelihood of residuals with density
            ∝ exp(−Huber_δ(r/σ))/σ, σ fitted jointly, started from the Huber optimum.
        delta: the Huber threshold δ (1e-3 in both papers).
        reduction: ``"sum"`` (Besiroglu et al.) or ``"mean"`` (objective ÷ n, optimised with
            scipy's default L-BFGS-B tolerances from every start, which stops early: the
            mean-vs-sum effect). ``"mean"`` needs ``method="huber"`` and no bootstrap.
        grid: ``"hoffmann"`` (α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25};
            4,500 starts) or an (S, 5) array of starts (a, b, e, α, β).
        bootstrap: number of resamples of the points (with replacement) for 95% percentile CIs.
            Each resample is fitted from the full-data optimum (not the whole grid); see Notes.
        seed: seed of the resampling generator.

    Returns:
        An :class:`Approach3Result`.

    Raises:
        FitInputError: NaN/inf or non-positive N, D or L; mismatched lengths; fewer than 6 points;
            fewer than 2 distinct N or D, or equal losses (the parameters would not be identified).
        ValueError: an unknown ``method``/``reduction``/``grid``, an unsupported combination, or a
            ``bootstrap`` that is not a non-negative integer.

    Notes:
        Fast path (``reduction="sum"``): all starts advance together by a batched
        Levenberg–Marquardt with the analytic Jacobian and IRLS weights, duplicates are merged,
        and the best few distinct points are polished with scipy L-BFGS-B (analytic gradient,
        tight tolerances). The returned point is therefore a scipy L-BFGS-B optimum, as in the
        plain loop over all 4,500 starts. On Epoch's 240 points it gives A=477.83, B=2143.4,
        E=1.81722, α=0.34731, β=0.36717, within 4e-4 of the plain loop's A=477.86, B=2142.63,
        E=1.8172, α=0.3473, β=0.3672; the tests compare it with plain scipy on a slice of the
        grid, and :func:`scalelab.fit.bench_fit` times both.
        The bootstrap refits every resample by the same batched Levenberg–Marquardt started at
        the full-data optimum, with the resample's counts as point weights: a resample is a
        small perturbation of the data, so its optimum lies in the same basin.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if method == "mle" and reduction != "sum":
        raise ValueError("method='mle' is a likelihood (a sum over points); use reduction='sum'")
    if reduction == "mean" and bootstrap:
        raise ValueError("reduction='mean' reproduces an early-stopping artefact over the full grid; "
                         "it has no bootstrap (use reduction='sum' for CIs)")
    if not (delta > 0):
        raise ValueError(f"delta must be > 0, got {delta!r}")
    bootstrap = _validate_bootstrap(bootstrap)
    Na, Da, La, n = _validate_ndl(N, D, L, MIN_POINTS_APPROACH3)
    _require_spread(Na, Da, La)
    x, y, t = np.log(Na), np.log(Da), np.log(La)
    starts = _starts(grid)
    t0 = time.perf_counter()
    if reduction == "mean":
        theta, fval, info = _huber_mean_fit(x, y, t, delta, starts)
    else:
        theta, fval, info = _huber_sum_fit(x, y, t, delta, starts)
    if theta is None:
        raise RuntimeError("no start produced a finite objective; check the data's units")
    sigma = float("nan")
    if method == "mle":
        huber_theta = theta
        params, fval = _fit_mle(huber_theta, x, y, t, delta)
        theta, sigma = params[:5], math.exp(params[5])
    info["seconds"] = time.perf_counter() - t0
    p = _params_from_theta(theta)
    ci: dict = {}
    samples = None
    if bootstrap > 0:
        tb = time.perf_counter()
        samples = _bootstrap(theta, sigma, x, y, t, delta, method, bootstrap, seed)
        ci = {c: percentile_ci(samples[c].to_numpy()) for c in samples.columns}
        info["bootstrap_seconds"] = time.perf_counter() - tb
    return Approach3Result(**p, method=method, reduction=reduction, delta=delta, objective=fval, n=n,
                           sigma=sigma, ci=ci, samples=samples, info=info)


def _bootstrap(theta, sigma, x, y, t, delta, method, n_boot, seed) -> pd.DataFrame:
    n = len(t)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)  # (n_boot, n)
    if method == "huber":
        th0 = np.repeat(theta[None, :], n_boot, axis=0)
        thetas, _ = _lse.lm_batch(th0, x, y, t, delta, weights=counts, iters=200, lam0=1e-3, ftol=1e-13)
        sig = np.full(n_boot, np.nan)
    else:
        thetas, sig = np.empty((n_boot, 5)), np.empty(n_boot)
        fallbacks = 0
        for i in range(n_boot):
            try:
                pr, _ = _fit_mle(theta, x, y, t, delta, weights=counts[i])
            except (OverflowError, FloatingPointError):
                fallbacks += 1
                pr, _ = _fit_mle(theta, x, y, t, delta, weights=counts[i], bounded=True)
            thetas[i], sig[i] = pr[:5], math.exp(pr[5])
    rows = [_derived(_params_from_theta(th)) for th in thetas]
    df = pd.DataFrame.from_records(rows)
    if method == "mle":
        df["sigma"] = sig
        df.attrs["mle_bounded_fallbacks"] = fallbacks  # resamples refitted with log σ boxed
    return df


# --------------------------------------------------------------------------------------------
# Approach 2
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontierResult(TableResult):
    """N_opt ∝ C^a and D_opt ∝ C^b from per-budget (approach 2) or per-level (approach 1) optima.

    Attributes:
        n_law, d_law: the power-law fits N_opt(C) and D_opt(C) (:class:`PowerLawFit`).
        optima: the per-budget (or per-level) optima the laws were fitted through.
        variant: which estimate (``"parabola"``, ``"lowest"`` or ``"envelope"``).
        lowest: approach 2's "lowest run per budget" variant (``None`` elsewhere).
    """

    n_law: PowerLawFit
    d_law: PowerLawFit
    optima: pd.DataFrame = field(repr=False)
    variant: str = "parabola"
    lowest: FrontierResult | None = field(default=None, repr=False)

    @property
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a."""
        return self.n_law.p

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b."""
        return self.d_law.p

    @property
    def a_ci(self):
        return self.n_law.p_ci

    @property
    def b_ci(self):
        return self.d_law.p_ci

    def n_opt(self, C):
        """Fitted optimal parameters at compute C (FLOPs)."""
        return self.n_law(C)

    def d_opt(self, C):
        """Fitted optimal tokens at compute C (FLOPs)."""
        return self.d_law(C)

    def rows(self):
        out = [("a", self.a, self.a_ci), ("b", self.b, self.b_ci),
               ("k_N", self.n_law.k, self.n_law.k_ci), ("k_D", self.d_law.k, self.d_law.k_ci),
               ("budgets", float(len(self.optima)), None)]
        if self.lowest is not None:
            out += [("a_lowest", self.lowest.a, self.lowest.a_ci), ("b_lowest", self.lowest.b, self.lowest.b_ci)]
        return out

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["variant"] = self.variant
        d["optima"] = self.optima.to_dict(orient="list")
        return d


def group_budgets(C: np.ndarray, gap_decades: float = 0.1) -> np.ndarray:
    """Group compute values into budgets: sorted log10 C, a new group at every gap > ``gap_decades``.

    Budgets read off a figure (Epoch's points) scatter by a few hundredths of a decade around
    nominal values 0.2 decades or more apart, so a 0.1-decade gap separates them.
    Returns a label per point: the geometric mean of its group.
    """
    lc = np.log10(C)
    order = np.argsort(lc)
    labels = np.empty(len(C))
    start = 0
    for i in range(1, len(order) + 1):
        if i == len(order) or lc[order[i]] - lc[order[i - 1]] > gap_decades:
            grp = order[start:i]
            labels[grp] = 10 ** lc[grp].mean()
            start = i
    return labels


def approach2(N, D, L, C=None, *, bootstrap: int = 1000, seed: int = 0, min_points: int = 3) -> FrontierResult:
    """Chinchilla approach 2: a parabola in log N per IsoFLOP budget, then power laws.

    Per budget, L is fitted as a quadratic in log N; its vertex is the budget's N_opt, and D_opt
    is read off the budget's own log D–log N line at that vertex (exactly C/(6·N_opt) when
    C = 6ND). N_opt ∝ C^a and D_opt ∝ C^b are then fitted through the vertices (least squares in
    log–log, CIs by resampling budgets). ``result.lowest`` is the same with each budget's
    lowest-loss run instead of the vertex.

    Args:
        N, D, L: per run: parameters, tokens, final loss (> 0).
        C: per run compute budget in FLOPs. ``None``: C = 6·N·D grouped by
            :func:`group_budgets`. Runs with equal C values form one budget.
        bootstrap: resamples of the budgets for the CIs of a and b (0: none).
        seed: resampling seed.
        min_points: a budget with fewer points is skipped with a warning (a parabola needs 3).

    Returns:
        A :class:`FrontierResult`; ``result.optima`` has one row per budget used
        (``C, n_points, N_opt, D_opt, L_opt, curvature, N_lowest, D_lowest, L_lowest``).

    Raises:
        FitInputError: bad values or lengths, or fewer than 2 usable budgets.
        ValueError: a ``bootstrap`` that is not a non-negative integer.
    """
    bootstrap = _validate_bootstrap(bootstrap)
    Na, Da, La = as_positive_array("N", N), as_positive_array("D", D), as_positive_array("L", L)
    if C is None:
        same_length(N=Na, D=Da, L=La)
        Cb = group_budgets(6.0 * Na * Da)
    else:
        Ca = as_positive_array("C", C)
        same_length(N=Na, D=Da, L=La, C=Ca)
        Cb = Ca
    if min_points < 3:
        raise ValueError("min_points must be >= 3: a parabola has three coefficients")
    rows, skipped = [], []
    for c in np.unique(Cb):
        m = Cb == c
        lx, ly, lv = np.log(Na[m]), np.log(Da[m]), La[m]
        k = int(m.sum())
        j = int(np.argmin(lv))
        base = {"C": float(c), "n_points": k, "N_lowest": float(Na[m][j]), "D_lowest": float(Da[m][j]),
                "L_lowest": float(lv[j])}
        if k < min_points or np.unique(lx).size < 3:
            skipped.append(f"C={c:.3g} ({k} point(s), {np.unique(lx).size} distinct N)")
            continue
        c2, c1, c0 = np.polyfit(lx, lv, 2)
        if not c2 > 0:
            skipped.append(f"C={c:.3g} (parabola opens downward: no minimum)")
            continue
        xv = -c1 / (2 * c2)
        s, i0 = np.polyfit(lx, ly, 1)
        rows.append({**base, "N_opt": float(np.exp(xv)), "D_opt": float(np.exp(i0 + s * xv)),
                     "L_opt": float(c0 - c1 * c1 / (4 * c2)), "curvature": float(c2),
                     "interior": bool(lx.min() <= xv <= lx.max())})
    if skipped:
        warnings.warn("approach2 skipped budgets: " + "; ".join(skipped), stacklevel=2)
    if len(rows) < 2:
        raise FitInputError(f"approach2 needs at least 2 budgets with >= {min_points} points and a minimum; "
                            f"got {len(rows)} (skipped: {skipped})")
    opt = pd.DataFrame(rows)
    bs = bootstrap if len(opt) >= 3 else 0
    low = FrontierResult(
        n_law=fit_power_law(opt["C"], opt["N_lowest"], bootstrap=bs, seed=seed),
        d_law=fit_power_law(opt["C"], opt["D_lowest"], bootstrap=bs, seed=seed),
        optima=opt, variant="lowest")
    return FrontierResult(
        n_law=fit_power_law(opt["C"], opt["N_opt"], bootstrap=bs, seed=seed),
        d_law=fit_power_law(opt["C"], opt["D_opt"], bootstrap=bs, seed=seed),
        optima=opt, variant="parabola", lowest=low)


# --------------------------------------------------------------------------------------------
# Approach 1
# --------------------------------------------------------------------------------------------

CURVE_COLUMNS = ("run", "N", "tokens", "flops", "loss")


def approach1(curves: pd.DataFrame, *, n_levels: int = 100, bootstrap: int = 1000, seed: int = 0) -> FrontierResult:
    """Chinchilla approach 1: the lower envelope of loss vs FLOPs over training curves.

    Each run's curve is interpolated linearly in (log FLOPs, loss) inside the FLOP range it
    covers. At ``n_levels`` log-spaced FLOP levels between the smallest and largest FLOPs
    reached by at least two runs, the run with the lowest interpolated loss is on the envelope:
    its N is N_opt(C) and its interpolated token count D_opt(C). N_opt ∝ C^a, D_opt ∝ C^b are
    then fitted through all levels (Hoffmann et al. used 1,500 levels; neighbouring levels
    share a run, so the bootstrap resamples runs, not levels).

    Args:
        curves: tidy table, one row per evaluation: ``run`` (id), ``N`` (parameters),
            ``tokens`` (seen so far), ``flops`` (so far), ``loss``.
        n_levels: FLOP levels on the envelope.
        bootstrap: resamples of the runs for CIs of a and b (0: none).
        seed: resampling seed.

    Returns:
        A :class:`FrontierResult` with ``variant="envelope"``; ``optima`` has one row per level
        (``C, run, N_opt, D_opt, L_opt``).

    Raises:
        FitInputError: missing columns, bad values, fewer than 2 runs, or an envelope that never
            changes run (no exponent can be fitted).

    Levels whose envelope run is the smallest or largest model are dropped with a warning: there
    the optimum may lie outside the sizes trained.
    """
    bootstrap = _validate_bootstrap(bootstrap)
    require_columns(curves, CURVE_COLUMNS, "approach1")
    df = curves.loc[:, list(CURVE_COLUMNS)].copy()
    for col in ("N", "tokens", "flops", "loss"):
        as_positive_array(col, df[col].to_numpy())
    runs = {rid: g.sort_values("flops") for rid, g in df.groupby("run", sort=False)}
    if len(runs) < 2:
        raise FitInputError(f"approach1 needs at least 2 runs, got {len(runs)}")
    opt = _envelope(runs, n_levels)
    # Where the envelope sits on the smallest or largest model, the optimum may lie outside the
    # sizes trained: those levels are dropped (with a warning), as they would bias a and b.
    sizes = [float(g["N"].iloc[0]) for g in runs.values()]
    edge = opt["N_opt"].isin([min(sizes), max(sizes)])
    if edge.any():
        warnings.warn(f"approach1 dropped {int(edge.sum())} of {len(opt)} FLOP levels whose envelope is the "
                      "smallest or largest model (optimum possibly outside the sizes trained)", stacklevel=2)
        opt = opt[~edge].reset_index(drop=True)
    if len(opt) < 2 or opt["run"].nunique() < 2:
        raise FitInputError("the envelope is a single run at every FLOP level: no frontier to fit")
    n_law = fit_power_law(opt["C"], opt["N_opt"])
    d_law = fit_power_law(opt["C"], opt["D_opt"])
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        ids = list(runs)
        draws = []
        for _ in range(bootstrap):
            pick = rng.integers(0, len(ids), len(ids))
            sub = {(i, ids[j]): runs[ids[j]] for i, j in enumerate(pick)}
            try:
                o = _envelope(sub, n_levels)
                ss = [float(g["N"].iloc[0]) for g in sub.values()]
                o = o[~o["N_opt"].isin([min(ss), max(ss)])]
                if o["N_opt"].nunique() < 2:
                    continue
                draws.append((fit_power_law(o["C"], o["N_opt"]).p, fit_power_law(o["C"], o["D_opt"]).p))
            except FitInputError:
                continue
        if draws:
            dr = np.asarray(draws)
            n_law = PowerLawFit(k=n_law.k, p=n_law.p, n=n_law.n, r2=n_law.r2, p_ci=percentile_ci(dr[:, 0]),
                                n_bootstrap=len(dr))
            d_law = PowerLawFit(k=d_law.k, p=d_law.p, n=d_law.n, r2=d_law.r2, p_ci=percentile_ci(dr[:, 1]),
                                n_bootstrap=len(dr))
    return FrontierResult(n_law=n_law, d_law=d_law, optima=opt, variant="envelope")


def _envelope(runs: dict, n_levels: int) -> pd.DataFrame:
    lo = [float(np.log(g["flops"].min())) for g in runs.values()]
    hi = [float(np.log(g["flops"].max())) for g in runs.values()]
    los, his = np.sort(lo), np.sort(hi)
    if len(los) < 2:
        raise FitInputError("fewer than 2 runs")
    start, stop = los[1], his[-2]  # covered by at least two runs
    if not stop > start:
        raise FitInputError("no FLOP range is covered by two runs: the curves do not overlap")
    levels = np.linspace(start, stop, n_levels)
    best_loss = np.full(n_levels, np.inf)
    best = [None] * n_levels
    best_tokens = np.full(n_levels, np.nan)
    for rid, g in runs.items():
        lf = np.log(g["flops"].to_numpy())
        inside = (levels >= lf[0]) & (levels <= lf[-1])
        if not inside.any():
            continue
        li = np.interp(levels[inside], lf, g["loss"].to_numpy())
        ti = np.exp(np.interp(levels[inside], lf, np.log(g["tokens"].to_numpy())))
        idx = np.nonzero(inside)[0]
        better = li < best_loss[idx]
        for _k, j in enumerate(idx[better]):
            best[j] = (rid, float(g["N"].iloc[0]))
        best_loss[idx[better]] = li[better]
        best_tokens[idx[better]] = ti[better]
    ok = np.isfinite(best_loss)
    return pd.DataFrame({
        "C": np.exp(levels[ok]),
        "run": [best[j][0] for j in np.nonzero(ok)[0]],
        "N_opt": [best[j][1] for j in np.nonzero(ok)[0]],
        "D_opt": best_tokens[ok],
        "L_opt": best_loss[ok],
    })
