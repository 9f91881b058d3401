"""Chapter 4's laws: B_opt(C) and η_opt(C) through the fitted budgets' surface optima, the held-out comparison of
the laws with the naive rule (C4.4), and the SP width yardstick for the LR exponent.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.fit.deepseek import ols_line, optimum_law
from scalelab.resample import array_interval
from scalelab.verdicts import minimum_detectable_effect

from .claims import MEASURES, SE_TARGET, published_laws
from .design import budget_of, chapter_plan, prior_budgets, scale_measures


def surface_laws(surf: pd.DataFrame, scale: str, *, measure: str = "M", seed: int = 0) -> dict:
    """B_opt(C) and η_opt(C) through the fitted budgets' surface optima (:func:`scalelab.fit.deepseek.
    optimum_law`), C = measure × D; intervals resample budgets. ``{"batch": OptimumLaw, "eta": OptimumLaw}``.

    Raises:
        ValueError: an unknown measure.
        scalelab.fit.FitInputError: fewer than 2 fitted budgets.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; valid: {', '.join(MEASURES)}")
    p = chapter_plan(scale)
    f = surf[surf["budget"] == "fitted"]
    C = [scale_measures(int(d), p.n_layer, p.seq_len)[measure] * budget_of(scale, int(d), False).num_tokens
         for d in f["d_model"]]
    n_boot = 2000 if scale != "smoke" else 200
    return {"batch": optimum_law(C, f["log2_B_opt"], seed=seed, n_boot=n_boot),
            "eta": optimum_law(C, f["log2_eta_opt"], seed=seed, n_boot=n_boot)}


def laws_table(laws: dict) -> pd.DataFrame:
    """Our exponents (interval over budgets, SE against the target) and coefficients beside DeepSeek's."""
    pub = published_laws()
    rows = []
    for name, key in (("η_opt", "eta"), ("B_opt (tokens)", "batch")):
        law = laws[key]
        iv = law.interval
        rows.append({"law": name, "p (ours)": law.p, "p 95% interval": f"[{iv.lo:.3f}, {iv.hi:.3f}] ({iv.method})",
                     "slope SE": law.se, f"SE ≤ {SE_TARGET}": bool(law.se <= SE_TARGET),
                     "mde": minimum_detectable_effect(iv.se, iv.df, level=iv.level),
                     "p (DeepSeek)": pub[key]["exp"], "k (ours)": law.k, "k (DeepSeek)": pub[key]["coef"],
                     "residual SD (octaves)": law.residual_sd, "budgets": law.n})
    return pd.DataFrame(rows)


def log2_optima(surf: pd.DataFrame) -> np.ndarray:
    """(log2 C, log2 B_tok*, log2 η*) of every fitted budget's surface optimum, one row per budget."""
    f = surf[surf["budget"] == "fitted"]
    return np.stack([np.log2(f["flops"].to_numpy(float)), f["log2_B_opt"].to_numpy(float),
                     f["log2_eta_opt"].to_numpy(float)], axis=1)


def _surface_excess(z: np.ndarray, o) -> np.ndarray:
    """Excess loss (% of the optimum) of points z (..., 2) on the fitted quadratic surface of optimum ``o``."""
    if not o.fitted:
        return np.full(z.shape[:-1], np.nan)
    H = np.array(o.hessian)
    dz = z - np.array(o.x_opt)
    return 100.0 * 0.5 * np.einsum("...i,ij,...j->...", dz, H, dz) / o.loss_at_opt


def _heldout_statistic(C_h: float, o, naive: np.ndarray):
    """laws minus naive excess (pp) for a stack of budget resamples a (k, m, 3) = (log2 C, log2 B*, log2 η*).

    The naive rule is a fixed comparator (the design's largest fitted budget's optimum): resampling budgets
    moves the laws' prediction only."""
    x = math.log2(C_h)
    e_naive = float(_surface_excess(naive, o))

    def stat(a):
        pu, au, _ = ols_line(a[..., 0], a[..., 1])
        pv, av, _ = ols_line(a[..., 0], a[..., 2])
        pred = np.stack([au + pu * x, av + pv * x], axis=-1)
        return _surface_excess(pred, o) - e_naive

    return stat


def heldout_comparison(surf: pd.DataFrame, cells: pd.DataFrame | None = None, *, seed: int = 0) -> dict:
    """C4.4: the laws' prediction against the naive rule at the held-out budget.

    Args:
        surf: a surface table (fitted budgets and one held-out budget).
        cells: the held-out grid's cells (batch_exp, lr_exp, loss) for the nearest-node readings (optional).

    Returns:
        The predictions (log2 B_tok, log2 η), each one's excess on the held-out surface (%) and, with
        ``cells``, at the nearest grid node (measured loss over the best node's), whether each prediction lies
        inside the held-out surface's fit window, and the interval (:class:`scalelab.resample.Interval`) of
        laws − naive over the fitted budgets.
    """
    ho = surf[surf["budget"] == "held-out"]
    a = log2_optima(surf)
    if ho.empty or len(a) < 2:
        return {}
    o = ho["optimum"].iloc[0]
    C_h = float(ho["flops"].iloc[0])
    naive = a[int(np.argmax(a[:, 0])), 1:3]
    iv = array_interval(a, _heldout_statistic(C_h, o, naive), unit="budget", vectorized=True, seed=seed,
                        n_boot=2000)
    x = math.log2(C_h)
    pu, au, _ = ols_line(a[:, 0], a[:, 1])
    pv, av, _ = ols_line(a[:, 0], a[:, 2])
    pred = np.array([au + pu * x, av + pv * x])
    (wu, wv) = o.window
    out = {"C_heldout": C_h, "pred": tuple(float(v) for v in pred), "naive": tuple(float(v) for v in naive),
           "heldout_opt": tuple(float(v) for v in o.x_opt), "heldout_fitted": bool(o.fitted),
           "excess_laws": float(_surface_excess(pred, o)), "excess_naive": float(_surface_excess(naive, o)),
           "pred_in_window": bool(wu[0] <= pred[0] <= wu[1] and wv[0] <= pred[1] <= wv[1]),
           "naive_in_window": bool(wu[0] <= naive[0] <= wu[1] and wv[0] <= naive[1] <= wv[1]), "interval": iv}
    if cells is not None and len(cells):
        c = cells[cells["loss"].notna()]
        best = float(c["loss"].min())
        for name, z in (("laws", pred), ("naive", naive)):
            cols = np.unique(cells["batch_exp"])
            col = cols[np.argmin(np.abs(cols - z[0]))]
            in_col = cells[np.isclose(cells["batch_exp"], col)]
            node = in_col.iloc[int(np.argmin(np.abs(in_col["lr_exp"].to_numpy() - z[1])))]
            out[f"node_{name}"] = (float(node["batch_exp"]), float(node["lr_exp"]))
            out[f"node_excess_{name}"] = 100.0 * (float(node["loss"]) / best - 1.0)
    return out


def width_exponent(scale: str) -> float:
    """d log d_model / d log C across the fitted budgets (least squares in log–log).

    Under SP with Adam the hidden layers' optimal LR falls about as 1/width (chapter 1), so if width alone
    moved η* the LR exponent would be −(this number): a yardstick for p_η that uses no loss at all.
    """
    bs = [b for b in prior_budgets(scale) if not b.heldout]
    return float(ols_line(np.log([b.flops for b in bs]), np.log([b.d_model for b in bs]))[0])


