"""The Chinchilla objective and its fast, batched minimiser (numerics behind :func:`approach3`).

Model (Hoffmann et al., arXiv 2203.15556, eq. 2 and App. D.2), in the parametrisation of
Besiroglu et al. (arXiv 2404.10102): θ = (a, b, e, α, β) with A = eᵃ, B = eᵇ, E = eᵉ and

    pred(N, D) = LSE(a − α log N, b − β log D, e) = log(A/N^α + B/D^β + E),
    r = pred − log L,   objective = Σ_i c_i · Huber_δ(r_i)   (c_i: bootstrap counts, 1 by default).

Huber_δ, its derivative ψ and the summed objective live in :mod:`scalelab.fit.huber`.
Derivatives (p_k = softmax weights of the three LSE terms, ψ = clip(r, −δ, δ) = Huber'(r)):
∂r/∂a = p₁, ∂r/∂b = p₂, ∂r/∂e = p₃, ∂r/∂α = −p₁ log N, ∂r/∂β = −p₂ log D.

Why a batched Levenberg–Marquardt and not one scipy call per start. A plain scipy L-BFGS-B loop
over Hoffmann's 4,500 starts with finite-difference gradients costs ~130 s on 240 points, almost
all of it Python overhead on tiny arrays. Here all starts move together on one (S, n) array:

1. **Analytic gradient and a Gauss–Newton/IRLS Hessian.** Each step solves
   (Σ w J Jᵀ + λ·diag) Δ = −Σ ψ J, with IRLS weights w = 1 inside the Huber threshold and δ/|r|
   outside (the quadratic majoriser of the Huber loss). A step is kept only if it lowers the
   objective (λ ÷ 3), otherwise it is retried with λ × 4, so each start's objective decreases
   monotonically, as in L-BFGS.
   Starts advance in chunks of 256 so the work arrays stay in cache.
2. **Deduplication.** After a few steps many starts have fallen into the same basin; starts that
   agree to 1e-6 in θ (rounded) are merged and only the best ``keep`` distinct ones continue.
3. **Polish.** The best few distinct end points are refined with scipy's L-BFGS-B (analytic
   gradient, tight tolerances); the best polished point is returned.

Why it finds the optimum the plain loop finds: steps 1–2 only decide which starts get polished;
the reported optimum is a scipy L-BFGS-B stationary point like the plain loop's, started from a
point at least as good as the starts it replaces. ``tests/unit/test_fit_chinchilla.py`` checks
the fast path against plain scipy runs from the same starts on Epoch's 240 points, and
:func:`scalelab.fit.bench_fit` times both. (Plain scipy with finite-difference gradients often
stops short of the optimum from a given start; it reaches it only somewhere in the full grid.)
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import minimize

from scalelab.fit import huber

HOFFMANN_GRID = {
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}


def hoffmann_starts() -> np.ndarray:
    """The 4,500 starting points of Hoffmann et al. App. D.2 as rows (a, b, e, α, β)."""
    g = HOFFMANN_GRID
    rows = [(a, b, e, al, be) for a, b, e, al, be in itertools.product(g["a"], g["b"], g["e"], g["alpha"], g["beta"])]
    return np.asarray(rows, dtype=float)


def _terms(theta: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Softmax weights and LSE prediction for rows of θ. theta (S, 5); x, y (n,).

    The exponents are clipped at 700 instead of max-shifted: every start and every capped step
    keeps them far below that, and skipping the shift saves one (S, n) exp and two maxima.
    """
    a, b, e, al, be = (theta[:, i : i + 1] for i in range(5))
    q1 = np.exp(np.minimum(a - al * x, 700.0))  # (S, n) A / N^α
    q2 = np.exp(np.minimum(b - be * y, 700.0))  # (S, n) B / D^β
    q3 = np.exp(np.minimum(e, 700.0))  # (S, 1) E
    s = q1 + q2 + q3
    pred = np.log(s)
    inv = 1.0 / s
    return pred, q1 * inv, q2 * inv, q3 * inv


def objective_batch(theta, x, y, t, delta, weights=None):
    """Objective for each row of θ (S,) — no derivatives."""
    pred, *_ = _terms(np.atleast_2d(theta), x, y)
    return huber.objective(pred - t, delta, weights)


def _eval_full(theta, x, y, t, delta, weights):
    """Objective (S,), gradient (S, 5) and IRLS Gauss–Newton matrix (S, 5, 5)."""
    pred, p1, p2, p3 = _terms(theta, x, y)
    r = pred - t
    ar = np.abs(r)
    h = huber.value(r, delta)
    psi = huber.psi(r, delta)
    w = np.where(ar <= delta, 1.0, delta / np.maximum(ar, 1e-300))  # IRLS weights: the Huber loss's majoriser
    if weights is not None:
        h = h * weights
        psi = psi * weights
        w = w * weights
    J = np.stack([p1, p2, p3, -p1 * x, -p2 * y], axis=1)  # (S, 5, n)
    f = h.sum(axis=1)
    g = np.einsum("skn,sn->sk", J, psi)
    H = np.matmul(J * w[:, None, :], J.transpose(0, 2, 1))  # (S, 5, 5)
    return f, g, H


def lm_batch(theta0, x, y, t, delta, weights=None, iters=40, lam0=1e-2, ftol=1e-12):
    """Batched Levenberg–Marquardt on the Huber objective.

    Args:
        theta0: (S, 5) starting points.
        weights: optional (S, n) per-row point weights (bootstrap counts).
        iters: number of LM steps (each one objective+Jacobian evaluation per row).
        ftol: a row stops once a kept step improves its objective by less than ftol·max(|f|, 1e-12).

    Returns:
        (theta, f): final points (S, 5) and objectives (S,).
    """
    theta = np.array(theta0, dtype=float, copy=True)
    S = theta.shape[0]
    f, g, H = _eval_full(theta, x, y, t, delta, weights)
    lam = np.full(S, lam0)
    active = np.ones(S, dtype=bool)
    eye = np.eye(5)
    for _ in range(iters):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        Hs, gs = H[idx], g[idx]
        diag = np.einsum("sii->si", Hs)
        A = Hs + (lam[idx, None] * diag + 1e-12)[:, :, None] * eye
        try:
            step = np.linalg.solve(A, -gs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(Ai, -gi, rcond=None)[0] for Ai, gi in zip(A, gs)])
        # Cap wild steps (flat directions at α = 0 or huge a); keeps exp() finite.
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        step = np.where(norm > 5.0, step * (5.0 / np.maximum(norm, 1e-300)), step)
        cand = theta[idx] + step
        wsub = weights[idx] if weights is not None else None
        fc, gc, Hc = _eval_full(cand, x, y, t, delta, wsub)
        ok = np.isfinite(fc) & (fc < f[idx])
        acc = idx[ok]
        improve = f[acc] - fc[ok]
        theta[acc], f[acc], g[acc], H[acc] = cand[ok], fc[ok], gc[ok], Hc[ok]
        lam[acc] = np.maximum(lam[acc] / 3.0, 1e-9)
        rej = idx[~ok]
        lam[rej] = lam[rej] * 4.0
        done = np.zeros(S, dtype=bool)
        done[acc[improve <= ftol * np.maximum(np.abs(f[acc]), 1e-12)]] = True
        done[rej[lam[rej] > 1e8]] = True
        active &= ~done
    return theta, f


def value_and_grad(theta, x, y, t, delta, scale=1.0, weights=None):
    """Objective·scale and its gradient at one θ (for scipy)."""
    pred, p1, p2, p3 = _terms(theta[None, :], x, y)
    r = (pred - t)[0]
    p1, p2, p3 = p1[0], p2[0], p3[0]
    h = huber.value(r, delta)
    psi = huber.psi(r, delta)
    if weights is not None:
        h, psi = h * weights, psi * weights
    g = np.array([psi @ p1, psi @ p2, psi @ p3, -(psi * p1) @ x, -(psi * p2) @ y])
    return float(h.sum()) * scale, g * scale


def polish(theta, x, y, t, delta, weights=None, maxiter=2000):
    """scipy L-BFGS-B from θ with analytic gradient and tight tolerances."""
    res = minimize(value_and_grad, np.asarray(theta, float), args=(x, y, t, delta, 1.0, weights), jac=True,
                   method="L-BFGS-B", options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20})
    return res.x, float(res.fun), res


def plain_scipy(theta0, x, y, t, delta, reduction="sum", jac=False):
    """One plain scipy L-BFGS-B run with default tolerances, as the published replications ran it.

    ``jac=False`` uses scipy's finite-difference gradient (the slow reference loop);
    ``reduction="mean"`` divides the objective by n, which changes where the default stopping
    rule (relative reduction ≤ 2.2e−9 of max(|f|, 1)) fires.
    """
    scale = 1.0 / len(t) if reduction == "mean" else 1.0
    if jac:
        fun = lambda th: value_and_grad(th, x, y, t, delta, scale)  # noqa: E731
    else:
        fun = lambda th: float(huber.objective(_terms(th[None, :], x, y)[0][0] - t, delta)) * scale  # noqa: E731
    res = minimize(fun, np.asarray(theta0, float), jac=jac or None, method="L-BFGS-B")
    return res.x, float(res.fun) / scale, res


def dedupe(theta, f, keep, decimals=6):
    """Indices of the best ``keep`` rows whose θ differ after rounding (ties in a basin merged)."""
    order = np.argsort(np.where(np.isfinite(f), f, np.inf))
    seen, out = set(), []
    for i in order:
        if not np.isfinite(f[i]):
            break
        key = tuple(np.round(theta[i], decimals))
        if key in seen:
            continue
        seen.add(key)
        out.append(i)
        if len(out) >= keep:
            break
    return np.asarray(out, dtype=int)


def grid_fit(x, y, t, delta, starts, *, stage1_iters=4, keep=64, stage2_iters=150, n_polish=4):
    """Best optimum over ``starts``: batched LM on all, dedupe, LM on the best, scipy polish.

    Returns:
        (theta_best, f_best, info) with info holding the stage objectives and counts.
    """
    # Chunks of 256 starts keep the (S, 5, n) work arrays in cache (≈2.5 MB at n = 240).
    parts = [lm_batch(starts[i : i + 256], x, y, t, delta, iters=stage1_iters) for i in range(0, len(starts), 256)]
    th1 = np.concatenate([p[0] for p in parts])
    f1 = np.concatenate([p[1] for p in parts])
    sel = dedupe(th1, f1, keep, decimals=3)
    th2, f2 = lm_batch(th1[sel], x, y, t, delta, iters=stage2_iters)
    sel2 = dedupe(th2, f2, n_polish, decimals=4)
    best_theta, best_f, polished = None, math.inf, []
    for i in sel2:
        th, fv, res = polish(th2[i], x, y, t, delta)
        polished.append((fv, th))
        if fv < best_f:
            best_theta, best_f = th, fv
    info = {"n_starts": len(starts), "n_stage2": int(len(sel)), "n_polished": int(len(sel2)),
            "polished_objectives": [p[0] for p in polished]}
    return best_theta, best_f, info
