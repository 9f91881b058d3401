"""Fitting core of the book: power laws, Chinchilla's approaches 1–3 and DeepSeek's near-optimal fit.

* :func:`fit_power_law` — y = k·x^p in log space, bootstrap CIs.
* :func:`approach1`, :func:`approach2`, :func:`approach3` — Hoffmann et al. arXiv 2203.15556
  (§3.1–3.3, App. D.2), approach 3 as replicated by Besiroglu et al. arXiv 2404.10102.
* :func:`near_optimal_fit` — DeepSeek LLM arXiv 2401.02954 §3.1.
* :func:`bench_fit` — timings of the approach-3 fit for ``python -m scalelab.bench fit``.

Chapters 4 and 5 use it. Nothing heavy happens at import time.
"""

from __future__ import annotations

import time

import numpy as np

from scalelab import anchors
from scalelab.fit import _lse
from scalelab.fit._common import FitInputError
from scalelab.fit.chinchilla import (
    Approach3Result,
    FrontierResult,
    approach1,
    approach2,
    approach3,
    group_budgets,
)
from scalelab.fit.deepseek import NearOptimalResult, near_optimal_fit
from scalelab.fit.powerlaw import PowerLawFit, fit_power_law

__all__ = [
    "Approach3Result",
    "FitInputError",
    "FrontierResult",
    "NearOptimalResult",
    "PowerLawFit",
    "approach1",
    "approach2",
    "approach3",
    "bench_fit",
    "fit_power_law",
    "group_budgets",
    "near_optimal_fit",
]


def bench_fit(n_bootstrap: int = 4000, plain_starts: int = 50, seed: int = 0) -> dict[str, float]:
    """Time approach 3 on Epoch's 240 points (needs the anchor file; see :mod:`scalelab.anchors`).

    Returns seconds for: the fast grid fit (``grid_fit_s``), plain scipy L-BFGS-B with
    finite-difference gradients on ``plain_starts`` grid starts, extrapolated to all 4,500
    (``plain_loop_4500_est_s``), the MLE fit (``mle_fit_s``) and a seeded ``n_bootstrap``-resample
    bootstrap (``bootstrap_s``); plus the fitted A, B, E, α, β.
    """


    N, D, L = anchors.epoch_chinchilla_ndl()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    res = approach3(N, D, L)
    out["grid_fit_s"] = time.perf_counter() - t0
    x, y, t = np.log(N), np.log(D), np.log(L)
    starts = _lse.hoffmann_starts()
    pick = np.random.default_rng(seed).choice(len(starts), size=min(plain_starts, len(starts)), replace=False)
    t0 = time.perf_counter()
    for s in starts[pick]:
        _lse.plain_scipy(s, x, y, t, 1e-3)
    out["plain_loop_4500_est_s"] = (time.perf_counter() - t0) / len(pick) * len(starts)
    t0 = time.perf_counter()
    approach3(N, D, L, method="mle")
    out["mle_fit_s"] = time.perf_counter() - t0
    if n_bootstrap:
        t0 = time.perf_counter()
        approach3(N, D, L, bootstrap=n_bootstrap, seed=seed)
        out["bootstrap_s"] = time.perf_counter() - t0
        out["n_bootstrap"] = float(n_bootstrap)
    out.update({k: float(getattr(res, k)) for k in ("A", "B", "E", "alpha", "beta")})
    return out
