"""Chapter 2's statistic: the optimum per width and the effect per doubling of width, with its interval.

An arm's loss cube (seeds × widths × LRs) gives the seed-mean curve per width; :mod:`scalelab.optimum` gives
its optimum; the least-squares slope of log2 η* on log2 width is the arm's own drift, and the ablation's slope
minus its baseline's is the effect (octaves per doubling), resampled over seeds jointly across widths and arms.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from scalelab.optimum import optimum_1d
from scalelab.resample import array_interval

from .claims import LEVEL


def _slope(lw: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on lw (NaN if any y is not finite)."""
    if not np.isfinite(y).all() or len(y) < 2:
        return float("nan")
    a = lw - lw.mean()
    return float((a * (y - y.mean())).sum() / (a * a).sum())


def loss_cube(fin, ablation: str, widths, seeds=None):
    """(log2 LRs, seeds, losses[seed, width, lr]) of one arm; NaN where a run diverged or is missing."""
    g = fin[fin["ablation"] == ablation]
    x = np.sort(g["log2_lr"].unique())
    seeds = sorted(g["seed"].unique()) if seeds is None else list(seeds)
    W = list(widths)
    L = np.full((len(seeds), len(W), len(x)), np.nan)
    g = g[g["seed"].isin(seeds) & g["d_model"].isin(W)]
    L[np.searchsorted(seeds, g["seed"].to_numpy()), [W.index(w) for w in g["d_model"]],
      np.searchsorted(x, g["log2_lr"].to_numpy())] = g["loss"].to_numpy()
    return x, seeds, L


def optima_per_width(x: np.ndarray, L2: np.ndarray) -> list:
    """scalelab.optimum's :class:`Optimum1D` per width of one (widths, lrs) seed-mean loss table."""
    return [optimum_1d(x, row) for row in L2]


def seed_mean(L: np.ndarray) -> np.ndarray:
    """The seed-mean loss table (widths, lrs) of a loss cube (seeds, widths, lrs)."""
    return L.mean(axis=0)  # a NaN (a diverged seed) makes that LR unusable, as a diverged run


def arm_slope(x: np.ndarray, L: np.ndarray, widths) -> float:
    """Slope of log2 η* against log2 width of the seed-mean curves of ``L`` (seeds, widths, lrs)."""
    lw = np.log2(np.asarray(widths, float))
    return _slope(lw, np.array([o.x_opt for o in optima_per_width(x, seed_mean(L))]))


def effect_interval(fin, arm: str, base: str | None, widths, *, level: float = LEVEL):
    """The arm's slope minus the baseline's (octaves per doubling), seeds resampled jointly across widths and arms.

    ``base=None`` gives the arm's own slope. Only seeds present in both arms count.
    """
    seeds = sorted(set(fin[fin["ablation"] == arm]["seed"]) & (set(fin[fin["ablation"] == base]["seed"])
                                                                  if base else set(fin["seed"])))
    xa, _, La = loss_cube(fin, arm, widths, seeds)
    xb, _, Lb = loss_cube(fin, base, widths, seeds) if base else (None, None, None)

    def stat(idx: np.ndarray) -> float:
        s = arm_slope(xa, La[idx], widths)
        return s - arm_slope(xb, Lb[idx], widths) if base else s

    return array_interval(np.arange(len(seeds)), stat, unit="seed", level=level)


def magnitude_interval(iv):
    """The interval of |θ| implied by the interval of θ: [0, max |end|] when it straddles 0, else the ends' |·|.

    The se and degrees of freedom stay those of the signed statistic, so the mde is that of the signed test
    (resampling |θ| itself would understate the spread when the units' signs differ)."""
    lo, hi = iv.lo, iv.hi
    a, b = (0.0, max(-lo, hi)) if lo <= 0 <= hi else sorted((abs(lo), abs(hi)))
    return dataclasses.replace(iv, estimate=abs(iv.estimate), lo=a, hi=b)

