"""The statistics behind the verdicts: exponents against width with intervals over seeds (numerics, coordinate
check), the LR optimum's slope against width, and the seed-paired loss changes between widths.

Every interval resamples seeds jointly across widths (one seed fixes the draws or the data order at every width),
by :func:`scalelab.resample.array_interval`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelab.experiments.mup_derivation.claims import COORD_SITES, LEVEL, PARAMETRIZATION_LABELS
from scalelab.experiments.mup_derivation.design import chapter_plan
from scalelab.experiments.mup_derivation.tables import loss_cube, optimum_table
from scalelab.optimum import optimum_1d
from scalelab.resample import array_interval


def _slope(lx: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least-squares slope of Y (…, k) on lx (k,) along the last axis (NaN where a value is not finite)."""
    a = lx - lx.mean()
    return ((Y - Y.mean(axis=-1, keepdims=True)) * a).sum(axis=-1) / (a * a).sum()


def numeric_interval(numerics, net: str, case: str, layers=(1, 2, 3), sign: float = 1.0, *, level: float = LEVEL):
    """The layer-mean exponent (× ``sign``) of one numeric case against width, seeds resampled jointly across
    widths: the slope of the seed-mean log value on log n, averaged over ``layers``."""
    g = numerics[(numerics["net"] == net) & (numerics["case"] == case) & numerics["layer"].isin(layers)]
    widths = np.sort(g["n"].unique())
    piv = g.pivot_table(index="seed", columns=["layer", "n"], values="value", aggfunc="first").sort_index(axis=1)
    Y = np.log(piv.to_numpy(dtype=float).reshape(len(piv), len(layers), len(widths)))  # (seeds, layers, widths)
    lx = np.log(widths.astype(float))
    return array_interval(Y, lambda a: sign * _slope(lx, a.mean(axis=-3)).mean(axis=-1), unit="seed", level=level,
                          vectorized=True)


def coord_interval(coords, parametrization: str, site: str, measure: str = "change", step: int | None = None, *,
                   level: float = LEVEL):
    """The exponent of a coordinate-check site against d_model (slope of the seed-mean log mean |x| on log d),
    seeds resampled jointly across widths. ``measure="change"``: |x_T − x_0|; ``"abs"``: |x_t| at ``step``."""
    c = coords[(coords["parametrization"] == parametrization) & (coords["site"] == site)
               & (coords.get("measure", "abs") == measure)]
    if step is not None:
        c = c[c["step"] == step]
    piv = c.pivot_table(index="seed", columns="d_model", values="mean_abs", aggfunc="first").sort_index(axis=1)
    lx = np.log(piv.columns.to_numpy(dtype=float))
    return array_interval(np.log(piv.to_numpy(dtype=float)), lambda a: _slope(lx, a.mean(axis=-2)), unit="seed",
                          level=level, vectorized=True)


def optimum_slope(x: np.ndarray, L: np.ndarray, widths) -> float:
    """Slope of log2 η* against log2 width of the seed-mean curves of ``L`` (seeds, widths, lrs), octaves per
    doubling; η* by :func:`scalelab.optimum.optimum_1d`."""
    lw = np.log2(np.asarray(widths, dtype=float))
    return float(_slope(lw, np.array([optimum_1d(x, row).x_opt for row in L.mean(axis=0)])))


def transfer_interval(records: list[dict], parametrization: str, against: str | None = None, *,
                      level: float = LEVEL):
    """μP's (or SP's) optimum slope, or its difference from ``against``'s, with seeds resampled jointly across
    widths and parametrizations (only seeds present in both)."""
    W, x, S, L = loss_cube(records, parametrization)
    if against is not None:
        W2, x2, S2, L2 = loss_cube(records, against)
        keep = np.intersect1d(S, S2)
        L, L2 = L[np.isin(S, keep)], L2[np.isin(S2, keep)]
        S = keep

    def stat(idx: np.ndarray) -> float:
        s = optimum_slope(x, L[idx], W)
        return s - optimum_slope(x2, L2[idx], W2) if against is not None else s

    return array_interval(np.arange(len(S)), stat, unit="seed", level=level)


def near_optimal_lrs(records: list[dict], scale: str) -> list[float]:
    """Grid LRs (log2) within one grid step of the median of μP's seed-mean optima over widths."""
    h = chapter_plan(scale).grid_step
    opt = optimum_table(records)
    mu = opt[opt["parametrization"] == "mup"]["log2_lr_opt"].to_numpy()
    if not len(mu) or not np.isfinite(mu).any():
        return []
    centre = float(np.nanmedian(mu))
    x = loss_cube(records, "mup")[1]
    return [float(e) for e in x if abs(e - centre) <= h + 1e-9]


def wider_intervals(records: list[dict], scale: str, *, level: float = LEVEL) -> list[tuple[str, object]]:
    """C1.7's parts: at each near-optimal LR, the seed-paired loss change from each μP width to the next."""
    W, x, S, L = loss_cube(records, "mup")
    out = []
    for e in near_optimal_lrs(records, scale):
        k = int(np.searchsorted(x, e))
        for j in range(len(W) - 1):
            diff = L[:, j + 1, k] - L[:, j, k]  # (seeds,): wider − narrower, NaN where a seed diverged
            iv = array_interval(diff, lambda a: a.mean(axis=-1), unit="seed", level=level, vectorized=True)
            out.append((f"η = 2^{e:g}, d {int(W[j])}→{int(W[j + 1])}", iv))
    return out


def coord_summary(coords):
    """Per (parametrization, site): the exponent of |x_0| (step 1) and of the change |x_T − x_0| with intervals."""
    rows = []
    for param in ("sp", "mup"):
        for site in COORD_SITES:
            a = coord_interval(coords, param, site, "abs", step=1)
            c = coord_interval(coords, param, site, "change")
            rows.append({"parametrization": PARAMETRIZATION_LABELS[param], "site": site,
                         "exponent of |x_0|": a.estimate, "exponent of |x_T − x_0|": c.estimate,
                         "interval": f"[{c.lo:+.2f}, {c.hi:+.2f}]", "seeds": c.n_units})
    return pd.DataFrame(rows)

