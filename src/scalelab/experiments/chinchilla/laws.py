"""The parametric law L(N, D) = E + A/N^α + B/D^β as chapter 5 uses it: published parameters as a law object,
the Huber objective of a law on data, and Hoffmann et al.'s grid of starting points (or a stride of it)."""

from __future__ import annotations

import math

import numpy as np

from scalelab import published
from scalelab.fit import Approach3Result, _lse, huber


def huber_objective(params: dict, N, D, L, delta: float = 1e-3) -> float:
    """Σ Huber_δ(log L̂ − log L) of a fitted law on data (Hoffmann et al. App. D.2's objective,
    :func:`scalelab.fit.huber.objective`)."""
    N, D, L = (np.asarray(v, float) for v in (N, D, L))
    r = np.log(params["E"] + params["A"] / N ** params["alpha"] + params["B"] / D ** params["beta"]) - np.log(L)
    return float(huber.objective(r, delta))


def law_from_params(params: dict):
    """An :class:`~scalelab.fit.Approach3Result` carrying published (E, A, B, α, β), for its n_opt/d_opt/loss."""
    return Approach3Result(E=params["E"], A=params["A"], B=params["B"], alpha=params["alpha"], beta=params["beta"],
                           method="published", reduction="-", delta=float("nan"), objective=float("nan"), n=0)


def _params(res) -> dict:
    return {k: float(getattr(res, k)) for k in ("E", "A", "B", "alpha", "beta")}


def hoffmann_params(unrounded: bool = False) -> dict:
    """Hoffmann et al.'s approach-3 fit (rounded as printed, or from the TeX source)."""
    if not unrounded:
        return dict(published.CHINCHILLA_APPROACH3.value)
    u = published.CHINCHILLA_APPROACH3_UNROUNDED.value
    return {"E": math.exp(u["logE"]), "A": math.exp(u["logA"]), "B": math.exp(u["logB"]), "alpha": u["alpha"],
            "beta": u["beta"]}


def _starts(stride: int, seed: int = 0, few: int = 0):
    st = _lse.hoffmann_starts()
    if few:
        return st[np.random.default_rng(seed).choice(len(st), size=few, replace=False)]
    return st[::stride]
