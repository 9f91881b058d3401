"""Part A of chapter 5, the frontier on our runs: approaches 1–3 on the cooldown endpoints, the prediction for the
held-out budget, the intervals over budgets that the verdicts use, and the tables of exponents by approach and by
parameter and FLOP convention."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalelab import published
from scalelab.experiments.chinchilla.claims import EXP_HELDOUT
from scalelab.experiments.chinchilla.design import chapter_plan
from scalelab.experiments.chinchilla.laws import _starts
from scalelab.experiments.chinchilla.tables import (
    _fit_table,
    endpoint_curves,
    endpoints,
    heldout_best,
    stable_curves,
    vertex_interval,
)
from scalelab.fit import approach1, approach2, approach3, fit_power_law
from scalelab.resample import Interval, t_quantile, unit_interval
from scalelab.scales import validate_scale


@dataclass
class PartA:
    """Part A's fits (None where the data do not allow one) and the intervals the verdicts use.

    ``intervals`` maps "a1", "a2", "a3" (the exponent a of each approach) and "heldout_error" (predicted minus
    measured loss at the held-out budget) to :class:`scalelab.resample.Interval` objects whose unit is the
    budget: a budget travels with every grid point (and every branch) it holds. With 4 budgets these are
    jackknife t intervals with 3 degrees of freedom.
    """
    endpoints: pd.DataFrame
    approach1: object
    approach1_stable: object
    approach2: object
    approach3: object
    approach3_nonemb: object
    approach1_exact: object
    prediction: dict
    errors: dict
    intervals: dict = None


def _try(errors: dict, name: str, fn):
    try:
        return fn()
    except Exception as exc:  # a fit that cannot run is reported, and the checks say so
        errors[name] = f"{type(exc).__name__}: {exc}"
        return None


def part_a(records: list[dict], scale: str, seed: int = 0) -> PartA:
    """Approaches 1–3 on the fitted budgets, the prediction for the held-out budget, and the intervals
    (resampling budgets) that the verdicts use."""
    p = chapter_plan(scale)
    ep = endpoints(records, scale)
    ep = ep[ep["seed"] == seed].reset_index(drop=True) if "seed" in ep and len(ep) else ep
    ep_all = endpoints(records, scale)
    fit = _fit_table(ep)
    errors: dict = {}
    grid = _starts(p.grid_stride)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a1 = _try(errors, "approach1", lambda: approach1(endpoint_curves(ep), n_levels=100, bootstrap=0))
        a1x = _try(errors, "approach1_exact", lambda: approach1(endpoint_curves(ep, "C_exact"), n_levels=100,
                                                                 bootstrap=0))
        a1s = _try(errors, "approach1_stable", lambda: approach1(stable_curves(records), n_levels=100, bootstrap=0))
        a2 = _try(errors, "approach2", lambda: approach2(fit["N"], fit["D"], fit["loss"], C=fit["budget"],
                                                          bootstrap=0))
        a3 = _try(errors, "approach3", lambda: approach3(fit["N"], fit["D"], fit["loss"], grid=grid))
        a3n = _try(errors, "approach3_nonemb", lambda: approach3(fit["N_nonemb"], fit["D"], fit["loss"], grid=grid))
    held = heldout_best(ep_all)
    pred: dict = {"budget": p.heldout_budget, "largest_fitted": max(p.budgets),
                  "distance": p.heldout_budget / max(p.budgets)}
    if a3 is not None:
        pred["N_opt_a3"] = float(a3.n_opt(p.heldout_budget))
        pred["loss_a3"] = float(a3.loss(a3.n_opt(p.heldout_budget), a3.d_opt(p.heldout_budget)))
    if a2 is not None:
        pred["N_opt_a2"] = float(a2.n_opt(p.heldout_budget))
    h0 = held[held["seed"] == seed]
    hs = ep[(ep.role == EXP_HELDOUT) & (ep.status == "finished")]
    if len(h0):
        pred.update(best_loss=float(h0["best_loss"].iloc[0]), best_N=float(h0["best_N"].iloc[0]),
                    N_range=(float(hs["N"].min()), float(hs["N"].max())), heldout_seeds=int(len(held)))
        if np.isfinite(h0["vertex_N"].iloc[0]):
            pred["vertex_N"] = float(h0["vertex_N"].iloc[0])
        if len(held) > 1:
            pred["best_loss_seeds"] = [float(v) for v in held["best_loss"]]
    intervals: dict = {}
    if a2 is not None:
        intervals["a2"] = vertex_interval(a2.optima, seed=seed)
    if len(fit) and fit["budget"].nunique() >= 2:
        # a leave-one-budget-out refit starts from the full-data optimum and every 10th of Hoffmann's starts
        # (a tenth of the cost; the full-data basin is where a resample's optimum lies)
        if a3 is not None:
            grid = np.vstack([a3.theta[None, :], _starts(10 * p.grid_stride)])

        def a3_of(t: pd.DataFrame) -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    return float(approach3(t["N"], t["D"], t["loss"], grid=grid).a)
                except Exception:  # a leave-one-budget-out fit that cannot run is a failed resample
                    return float("nan")

        def a1_of(t: pd.DataFrame) -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    return float(approach1(endpoint_curves(t), n_levels=100, bootstrap=0).a)
                except Exception:
                    return float("nan")

        if a3 is not None:
            intervals["a3"] = unit_interval(fit, a3_of, unit="budget", seed=seed)
        if a1 is not None:
            intervals["a1"] = unit_interval(fit, a1_of, unit="budget", seed=seed)
        if a3 is not None and "best_loss" in pred:
            measured = float(np.mean(held["best_loss"]))

            def err_of(t: pd.DataFrame) -> float:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        r = approach3(t["N"], t["D"], t["loss"], grid=grid)
                    except Exception:
                        return float("nan")
                return float(r.loss(r.n_opt(p.heldout_budget), r.d_opt(p.heldout_budget))) - measured

            intervals["heldout_error"] = _with_seed_noise(unit_interval(fit, err_of, unit="budget", seed=seed),
                                                          held["best_loss"].to_numpy(float))
    return PartA(ep, a1, a1s, a2, a3, a3n, a1x, pred, errors, intervals)


def _with_seed_noise(fit_iv, measured: np.ndarray):
    """Add the held-out measurement's seed noise to the fit's interval (independent errors: se² adds).

    With one held-out seed there is no estimate of that noise, and the interval is the fit's alone (the page says
    so); with k ≥ 2 seeds the standard error of their mean is added and the degrees of freedom are the smaller of
    the two designs' (a conservative choice).
    """
    k = len(measured)
    if k < 2 or not np.isfinite(fit_iv.se):
        return fit_iv
    se_m = float(np.std(measured, ddof=1) / np.sqrt(k))
    se = float(np.hypot(fit_iv.se, se_m))
    df = int(min(fit_iv.df, k - 1))
    q = t_quantile(1 - (1 - fit_iv.level) / 2, df)
    return Interval(fit_iv.estimate, fit_iv.estimate - q * se, fit_iv.estimate + q * se, fit_iv.level, "t",
                    f"{fit_iv.unit} (fit) and seed (held-out loss)", int(min(fit_iv.n_units, k)), se, df)


def exponents_table(pa: PartA) -> pd.DataFrame:
    """Our a and b per approach, with a's interval over budgets, beside Hoffmann et al.'s Table 2."""
    t2 = published.CHINCHILLA_TABLE2.value
    iv = pa.intervals or {}
    rows = []
    for name, key, res, ik in (("1: envelope of cooldown endpoints", "approach1", pa.approach1, "a1"),
                               ("2: IsoFLOP parabolas", "approach2", pa.approach2, "a2"),
                               ("2: lowest run per budget", "approach2", pa.approach2.lowest if pa.approach2 else None,
                                None),
                               ("3: parametric fit", "approach3", pa.approach3, "a3")):
        row = {"approach": name, "a": np.nan, "a_interval": None, "interval": "", "b": np.nan,
               "chinchilla_a": t2[key]["a"], "chinchilla_a_ci80": tuple(t2[key]["a_ci80"])}
        if res is not None:
            row["a"], row["b"] = float(res.a), float(res.b)
            if ik and ik in iv:
                i = iv[ik]
                row["a_interval"] = (round(float(i.lo), 3), round(float(i.hi), 3))
                row["interval"] = f"{i.level:.0%} {i.method}, {i.n_units} {i.unit}s"
        rows.append(row)
    return pd.DataFrame(rows)


CONVENTIONS = (  # (label, N column, C column): which parameter count the frontier is in, and which FLOP count
    ("N total, C = 6·N_total·D", "N", "C"),
    ("N non-embedding, C = 6·N_non-emb·D", "N_nonemb", "C_nonemb"),
    ("N total, C = App. F FLOPs", "N", "C_exact"),
    ("N non-embedding, C = App. F FLOPs", "N_nonemb", "C_exact"),
)


def convention_table(pa: PartA, scale: str, seed: int = 0) -> pd.DataFrame:
    """The exponent a of each approach under each parameter and FLOP convention (C5.1).

    Approach 1: the envelope of loss against the convention's C, its N. Approach 2: parabolas in the
    convention's log N per budget; the vertex's C is that convention's FLOPs there (read off the budget's own
    log–log line, as D_opt is), and a is the slope through the vertices, with its interval over budgets.
    Approach 3: L(N, D) fitted in the convention's N; under C ∝ N·D, a = β/(α+β); under App. F, C = k·N^γ·D
    across our shapes (a power law fitted to the per-token FLOPs), and minimising L at fixed C gives
    a = β/(α + γβ).
    """
    validate_scale(scale)
    fit = _fit_table(pa.endpoints)
    rows = []
    if not len(fit):
        return pd.DataFrame(rows)
    a3 = {"N": pa.approach3, "N_nonemb": pa.approach3_nonemb}
    for label, ncol, ccol in CONVENTIONS:
        row = {"convention": label}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cur = pd.DataFrame({"run": fit["d_model"].astype(str), "N": fit[ncol], "tokens": fit["D"],
                                "flops": fit[ccol], "loss": fit["loss"]})
            r1 = _try({}, "a1", lambda cur=cur: approach1(cur, n_levels=100, bootstrap=0))
            row["approach 1"] = float(r1.a) if r1 is not None else np.nan
            r2 = _try({}, "a2", lambda nc=ncol, cc=ccol: approach2(fit[nc], fit[cc] / (6.0 * fit[nc]), fit["loss"],
                                                                   C=fit["budget"], bootstrap=0))
            if r2 is not None:
                opt = r2.optima.assign(C=6.0 * r2.optima["N_opt"] * r2.optima["D_opt"])
                iv = vertex_interval(opt, seed=seed)
                row["approach 2"] = float(iv.estimate)
                row["approach 2 interval"] = (round(float(iv.lo), 3), round(float(iv.hi), 3))
            r3 = a3.get(ncol)
            if r3 is not None:
                if ccol == "C_exact":
                    fpt = fit_power_law(fit[ncol], fit["C_exact"] / fit["D"])
                    row["approach 3"] = float(r3.beta / (r3.alpha + fpt.p * r3.beta))
                else:
                    row["approach 3"] = float(r3.a)
        rows.append(row)
    out = pd.DataFrame(rows)
    ratio = fit["C_exact"] / fit["C"]
    out.attrs["C_exact_over_6ND"] = (float(ratio.min()), float(ratio.max()))
    emb = 1.0 - fit["N_nonemb"] / fit["N"]
    out.attrs["embedding_share"] = (float(emb.min()), float(emb.max()))
    cols = [c for c in ("approach 1", "approach 2", "approach 3") if c in out]
    out.attrs["spread_by_method"] = float(np.nanmax(np.ptp(out[cols].to_numpy(float), axis=1)))
    out.attrs["spread_by_convention"] = float(np.nanmax(np.ptp(out[cols].to_numpy(float), axis=0)))
    return out
