"""Chapter 3's intervals: trunks as units for branches of one stable run, seeds as units for separately
trained schedules (:mod:`scalelab.resample` draws them)."""

from __future__ import annotations

import math

import numpy as np

from scalelab.experiments.wsd_vs_cosine.claims import LEVEL
from scalelab.experiments.wsd_vs_cosine.tables import _select, replicated_budgets
from scalelab.optimum import optimum_1d
from scalelab.resample import Interval, array_interval


# ----------------------------------------------------------------------------- intervals
def _no_interval(unit: str):
    return Interval(float("nan"), -math.inf, math.inf, LEVEL, "t", unit, 0, math.inf, 0)


def _ratio_of_sums(sums: np.ndarray, unit: str):
    """Interval of Σ numerator / Σ denominator over units (rows of ``sums``: (numerator, denominator) per
    unit, or (unit, k, 2) for k statistics of which the largest is taken)."""
    if len(sums) == 0:
        return _no_interval(unit)

    def stat(x):  # (draws, units, [k,] 2) → (draws,)
        num, den = x[..., 0].sum(axis=1), x[..., 1].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
        return r if r.ndim == 1 else r.max(axis=-1)

    return array_interval(sums, stat, unit=unit, level=LEVEL, vectorized=True)


def paired_interval(cells, a: str, b: str | None = None, *, den: str | None = None):
    """Trunks as units: the mean over (trunk, budget) cells of ``cells[a] − cells[b]`` (``b`` None: of
    ``cells[a]``), or with ``den`` the ratio Σ(a − b) / Σden. Cells missing a value are left out."""
    cols = ["trunk", a] + ([b] if b else []) + ([den] if den else [])
    if cells.empty or any(c not in cells for c in cols):
        return _no_interval("trunk")
    d = cells[cols].dropna()
    v = d[a] - d[b] if b else d[a]
    w = d[den] if den else v * 0 + 1.0  # a mean is a ratio of sums with unit weights
    g = np.stack([v.groupby(d["trunk"]).sum().to_numpy(), w.groupby(d["trunk"]).sum().to_numpy()], axis=1)
    return _ratio_of_sums(g, "trunk")


def best_of_interval(cells, ref: str, others: list[str]):
    """Trunks as units: max over ``others`` of the mean of ``cells[ref] − cells[o]`` (C3.3b: how much the best
    other fraction beats the reference)."""
    others = [o for o in others if o in cells and ref in cells and cells[[ref, o]].notna().all(axis=1).any()]
    if cells.empty or not others:
        return _no_interval("trunk")
    trunks = sorted(cells["trunk"].unique())
    sums = np.zeros((len(trunks), len(others), 2))
    for j, o in enumerate(others):
        d = cells[["trunk", ref, o]].dropna()
        g = (d[ref] - d[o]).groupby(d["trunk"])
        s, n = g.sum(), g.count()
        for i, t in enumerate(trunks):
            sums[i, j] = (s.get(t, 0.0), n.get(t, 0))
    return _ratio_of_sums(sums, "trunk")


def seed_interval(fin, a: tuple, b: tuple, what: str = "loss"):
    """Seeds as units: the mean over the budgets every seed has of the tuned difference of schedule ``a``
    minus schedule ``b`` (each a (protocol, frac, shape) key): ``what="loss"`` the loss at the optimum of the
    seed-mean curve, ``"lr"`` the optimum's log2 LR. Returns (interval, budgets used)."""
    budgets = replicated_budgets(fin, [a, b])
    if not budgets:
        return _no_interval("seed"), []
    seeds = sorted(fin["seed"].unique())
    lrs = np.sort(fin["log2_lr"].unique())
    cube = np.full((len(seeds), 2, len(budgets), len(lrs)), np.nan)
    for k, key in enumerate((a, b)):
        d = _select(fin, *key)
        d = d[d["budget"].isin(budgets)]
        loss = np.where(d["status"] == "diverged", np.inf, d["loss"].to_numpy(dtype=float))
        cube[np.searchsorted(seeds, d["seed"]), k, np.searchsorted(budgets, d["budget"]),
             np.searchsorted(lrs, d["log2_lr"])] = loss
    have = np.isfinite(cube).any(axis=(0, 1, 2)) | np.isinf(cube).any(axis=(0, 1, 2))
    cube, grid = cube[..., have], lrs[have]

    def stat(x):  # (seeds drawn, 2, budgets, LRs)
        mean = x.mean(axis=0)
        out = []
        for j in range(mean.shape[1]):
            oa, ob = optimum_1d(grid, mean[0, j]), optimum_1d(grid, mean[1, j])
            out.append(oa.loss_at_opt - ob.loss_at_opt if what == "loss" else oa.x_opt - ob.x_opt)
        return float(np.mean(out))

    return array_interval(cube, stat, unit="seed", level=LEVEL), budgets
