"""The Huber objective of Chinchilla's approach 3, and the Huber likelihood behind its maximum-likelihood fit.

Hoffmann et al. (arXiv 2203.15556, App. D.2) fit log L with the Huber loss of the residuals r = log L̂ − log L:

    Huber_δ(r) = r²/2                 for |r| ≤ δ,
                 δ·(|r| − δ/2)        otherwise            (δ = 1e-3 in both papers; scipy.special.huber),
    ψ_δ(r) = Huber_δ'(r) = clip(r, −δ, δ),
    objective = Σ_i c_i · Huber_δ(r_i)                      (c_i: bootstrap counts, 1 by default).

Besiroglu et al. (arXiv 2404.10102) also fit by maximum likelihood with residuals whose density is

    p(r) = exp(−Huber_δ(r/σ)) / (σ·Z(δ)),   Z(δ) = √(2π)·(2Φ(δ) − 1) + 2·exp(−δ²/2)/δ,

the Gaussian core on |z| ≤ δ plus two exponential tails (z = r/σ). :func:`log_norm` is log Z(δ); the negative
log-likelihood of n points is Σ Huber_δ(r_i/σ) + n·(log σ + log Z(δ)).

Used by :mod:`scalelab.fit._lse` (the batched fit), :mod:`scalelab.fit.chinchilla` (the MLE) and chapter 5.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm


def value(r: np.ndarray, delta: float) -> np.ndarray:
    """Huber_δ(r) elementwise: r²/2 for |r| ≤ δ, δ(|r| − δ/2) otherwise (equals ``scipy.special.huber(δ, r)``)."""
    ar = np.abs(r)
    return np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def psi(r: np.ndarray, delta: float) -> np.ndarray:
    """ψ_δ(r) = Huber_δ'(r) = clip(r, −δ, δ) elementwise."""
    return np.clip(r, -delta, delta)


def objective(r: np.ndarray, delta: float, counts: np.ndarray | None = None) -> np.ndarray:
    """Σ_i c_i · Huber_δ(r_i) over the last axis (``counts`` None: every c_i = 1).

    ``r`` may be a stack of residual vectors (S, n), one per parameter set; the result then has shape (S,).
    """
    h = value(r, delta)
    return (h * counts).sum(axis=-1) if counts is not None else h.sum(axis=-1)


def log_norm(delta: float) -> float:
    """log Z(δ), the normaliser of the Huber density exp(−Huber_δ(z)) on the real line:
    Z(δ) = √(2π)·(2Φ(δ) − 1) + 2·exp(−δ²/2)/δ."""
    return math.log(math.sqrt(2 * math.pi) * (2 * norm.cdf(delta) - 1) + 2 * math.exp(-0.5 * delta**2) / delta)


def log_density(r: np.ndarray, sigma: float, delta: float) -> np.ndarray:
    """log p(r) of the Huber likelihood with scale σ: −Huber_δ(r/σ) − log σ − log Z(δ)."""
    return -value(np.asarray(r, float) / sigma, delta) - math.log(sigma) - log_norm(delta)
