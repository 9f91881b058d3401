"""Chapter 6's records as curves and tables: each run's loss curve under its schedule, the laws fitted per peak
LR on the fit set, their predictions of the held-out runs, the errors per schedule family, and the rankings of
chapter 3's cooldown variants."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from scalelab.experiments import wsd_vs_cosine as ch3
from scalelab.experiments.lr_schedule_law.claims import CH3, EXP_PROPOSED, FIT_FRAC, FIT_SHAPE, LAWS
from scalelab.experiments.lr_schedule_law.design import chapter_plan
from scalelab.fit import schedule_law as sl
from scalelab.fit.schedule_law import Curve, annealing_area
from scalelab.schedules import ScheduleConfig, lr_multipliers


def schedule_label(cfg: dict, experiment: str) -> str:
    """A schedule's family name: ``cosine→10%``, ``cosine→0``, ``multistep``, ``WSD 20% linear``, …"""
    if experiment == EXP_PROPOSED:
        return "proposed " + schedule_label(cfg, "")
    s = cfg["schedule"]
    if s == "cosine":
        return f"cosine→{cfg['final_frac']:.0%}" if cfg["final_frac"] > 0 else "cosine→0"
    if s == "wsd":
        tail = f"→{cfg['final_frac']:.0%}" if cfg["final_frac"] > 0 else ""
        return f"WSD {cfg['decay_frac']:.3g} {cfg['decay_shape']}{tail}".replace("WSD 0.", "WSD .")
    return s


def _multipliers(cfg_dict: dict) -> np.ndarray:
    keys = ("schedule", "warmup_steps", "total_steps", "final_frac", "decay_frac", "decay_shape")
    return _schedule_multipliers(tuple(cfg_dict[k] for k in keys)).copy()


@functools.lru_cache(maxsize=512)
def _schedule_multipliers(fields: tuple) -> np.ndarray:
    name, warmup, total, final, frac, shape = fields
    cfg = ScheduleConfig(name=name, warmup_steps=warmup, total_steps=total, final_frac=final, decay_frac=frac,
                         decay_shape=shape)
    return lr_multipliers(cfg, np.arange(total))


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per finished chapter-3 (and proposed) run: schedule label, budget, LR, seed, and its curve.

    ``curve`` is a :class:`scalelab.fit.schedule_law.Curve` of the run's own evaluations (a branch's start after
    its branch point); the trunk (``constant``) keeps every evaluation.
    """
    rows = []
    for r in records:
        if r["experiment"] not in (*CH3, EXP_PROPOSED) or r["result"]["status"] != "finished":
            continue
        c = r["config"]
        ev = r["result"]["eval_curve"]
        ok = [(s, v) for s, v in zip(ev["step"], ev["loss"]) if v is not None and np.isfinite(v)]
        if not ok:
            continue
        m = _multipliers(c)
        cur = Curve(m, [s for s, _ in ok], [v for _, v in ok], c["warmup_steps"], r["experiment"])
        rows.append({"experiment": r["experiment"], "schedule": schedule_label(c, r["experiment"]),
                     "budget": c["total_steps"], "lr": c["lr"], "log2_lr": math.log2(c["lr"]), "seed": c["seed"],
                     "final": float(r["result"]["final_eval_loss"]), "config_key": r.get("config_key"),
                     "curve": cur})
    cols = ["experiment", "schedule", "budget", "lr", "log2_lr", "seed", "final", "config_key", "curve"]
    return pd.DataFrame(rows, columns=cols)


def _truncate(curve, max_step: int):
    keep = curve.steps <= max_step
    return Curve(curve.multipliers[:max_step], curve.steps[keep], curve.loss[keep], curve.warmup_steps, curve.label)


def _after(curve, min_step: int):
    keep = curve.steps >= min_step
    return Curve(curve.multipliers, curve.steps[keep], curve.loss[keep], curve.warmup_steps, curve.label)


def fit_set_mask(runs: pd.DataFrame, scale: str, seed: int = 0) -> pd.Series:
    """Which rows are in the fit set: seed ``seed``, the trunk and the linear 20 % cooldowns ≤ fit_max_budget."""
    p = chapter_plan(scale)
    lin = f"WSD {FIT_FRAC:.3g} {FIT_SHAPE}".replace("WSD 0.", "WSD .")
    return (runs["seed"] == seed) & ((runs["experiment"] == "constant")
                                     | ((runs["schedule"] == lin) & (runs["budget"] <= p.fit_max_budget)))


def fit_laws(runs: pd.DataFrame, scale: str, seed: int = 0) -> dict:
    """Both laws fitted per peak LR on the fit set: ``{(law, lr): LawFit}`` (LRs whose fit set has ≥ 4 points)."""
    p = chapter_plan(scale)
    fs = runs[fit_set_mask(runs, scale, seed)]
    out = {}
    for lr, g in fs.groupby("lr"):
        curves = [_after(_truncate(c, p.fit_max_budget) if e == "constant" else c, p.min_step)
                  for e, c in zip(g["experiment"], g["curve"])]
        curves = [c for c in curves if len(c.steps)]
        if sum(len(c.steps) for c in curves) < 4 or not (g["experiment"] != "constant").any():
            continue
        for law in LAWS:
            out[(law, float(lr))] = sl.fit(law, curves, max_nfev=p.max_nfev)
    return out


def fit_table(fits: dict) -> pd.DataFrame:
    """One row per (law, LR): parameters, in-sample RMSE, points, convergence."""
    rows = []
    for (law, lr), f in sorted(fits.items()):
        rows.append({"law": law, "log2_lr": math.log2(lr), **f.law.params(), "rmse": f.rmse, "points": f.n_points,
                     "curves": f.n_curves, "converged": f.converged})
    return pd.DataFrame(rows)


def predictions(runs: pd.DataFrame, fits: dict, scale: str, seed: int = 0) -> pd.DataFrame:
    """Every held-out run of seed ``seed`` (and the other seeds' runs, for the noise) predicted by both laws:
    predicted and measured final loss, error (predicted − measured), and RMSE over the run's evaluations."""
    fit_rows = fit_set_mask(runs, scale, seed)
    p = chapter_plan(scale)
    rows = []
    for i, r in runs.iterrows():
        if r["experiment"] == "constant":
            continue
        c = _after(r["curve"], p.min_step)
        if not len(c.steps):
            continue
        for law in LAWS:
            f = fits.get((law, float(r["lr"])))
            if f is None:
                continue
            pred = f.law.predict(c.multipliers, c.steps, c.warmup_steps)
            err = pred - c.loss
            rows.append({"law": law, "schedule": r["schedule"], "experiment": r["experiment"],
                         "budget": int(r["budget"]), "log2_lr": r["log2_lr"], "seed": int(r["seed"]),
                         "in_fit": bool(fit_rows.loc[i]), "horizon": bool(r["budget"] > p.fit_max_budget),
                         "measured": float(c.loss[-1]), "predicted": float(pred[-1]), "error": float(err[-1]),
                         "curve_rmse": float(np.sqrt(np.mean(err ** 2))), "n_points": len(c.steps)})
    cols = ["law", "schedule", "experiment", "budget", "log2_lr", "seed", "in_fit", "horizon", "measured",
            "predicted", "error", "curve_rmse", "n_points"]
    return pd.DataFrame(rows, columns=cols)


def seed_noise(records: list[dict]) -> tuple[float, int]:
    """Chapter 3's σ_seed (pooled per-run seed standard deviation at the tuned LRs) and its pair count."""
    ch3_recs = [r for r in records if r["experiment"] in ("cosine", "constant", "wsd", "multistep")]
    fin = ch3.finals(ch3_recs)
    if fin.empty:
        return float("nan"), 0
    return ch3.seed_spread(fin, ch3.optima(fin))


def error_by_schedule(pred: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Held-out final-loss error per schedule family and law (seed ``seed``): mean signed error, mean |error|,
    worst |error|, runs; rows sorted by the annealing law's mean |error|."""
    d = pred[(~pred["in_fit"]) & (pred["seed"] == seed)]
    if d.empty:
        return pd.DataFrame(columns=["schedule", "law", "mean_error", "mean_abs_error", "max_abs_error", "runs"])
    g = d.groupby(["schedule", "law"])["error"]
    t = pd.DataFrame({"mean_error": g.mean(), "mean_abs_error": g.apply(lambda e: e.abs().mean()),
                      "max_abs_error": g.apply(lambda e: e.abs().max()), "runs": g.size()}).reset_index()
    return t.sort_values(["law", "mean_abs_error"]).reset_index(drop=True)


def per_lr_error(pred: pd.DataFrame, law: str, seed: int = 0) -> pd.Series:
    """Per LR (the unit of C6.1/C6.2), the worst schedule family's mean |final error| over its held-out runs
    (seed ``seed``): "every schedule" means the law must predict each family, not their average."""
    d = pred[(pred["law"] == law) & (~pred["in_fit"]) & (pred["seed"] == seed)]
    fam = d.groupby(["log2_lr", "schedule"])["error"].apply(lambda e: float(e.abs().mean()))
    return fam.groupby(level="log2_lr").max()


def rankings(pred: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """C3.3/C3.4 from the laws: per budget and WSD variant, the measured best final loss over the LR grid and
    each law's predicted best (seed ``seed``), with the rank of the variant among the variants at that budget."""
    d = pred[(pred["seed"] == seed) & pred["schedule"].str.startswith("WSD")]
    if d.empty:
        return pd.DataFrame()
    rows = []
    for (b, sch), g in d.groupby(["budget", "schedule"]):
        row = {"budget": b, "schedule": sch}
        first = g[g["law"] == LAWS[0]]
        row["measured"] = float(first["measured"].min()) if len(first) else float("nan")
        for law in LAWS:
            gl = g[g["law"] == law]
            row[law] = float(gl["predicted"].min()) if len(gl) else float("nan")
        rows.append(row)
    t = pd.DataFrame(rows)
    for col in ("measured", *LAWS):
        t[f"rank_{col}"] = t.groupby("budget")[col].rank(method="min")
    return t.sort_values(["budget", "rank_measured"]).reset_index(drop=True)


def ranking_agreement(rank: pd.DataFrame) -> pd.DataFrame:
    """Per budget and law: Kendall's τ between the predicted and measured orderings of the WSD variants, and
    whether the law picks the measured best variant."""
    rows = []
    for b, g in rank.groupby("budget"):
        if len(g) < 3:
            continue
        for law in LAWS:
            ok = g[["measured", law]].dropna()
            tau = kendalltau(ok["measured"], ok[law]).statistic if len(ok) >= 3 else float("nan")
            best_m = g.loc[g["measured"].idxmin(), "schedule"]
            best_p = g.loc[g[law].idxmin(), "schedule"] if g[law].notna().any() else ""
            rows.append({"budget": b, "law": law, "kendall_tau": float(tau), "variants": len(ok),
                         "measured_best": best_m, "predicted_best": best_p, "same_best": best_m == best_p})
    return pd.DataFrame(rows)


def annealing_areas(scale: str, decay: float, budget: int | None = None) -> pd.DataFrame:
    """Why the annealing law treats cosine and a cooldown differently: at one budget, each schedule's total LR drop
    and its S2 (λ = ``decay``), and S2 per unit drop."""
    q = ch3.chapter_plan(scale)
    b = budget or chapter_plan(scale).design_budget
    cfgs = {"cosine→10%": dict(name="cosine", final_frac=0.1), "cosine→0": dict(name="cosine", final_frac=0.0),
            "multistep": dict(name="multistep"),
            "WSD .2 linear": dict(name="wsd", decay_frac=0.2, decay_shape="linear", final_frac=0.0),
            "WSD .2 1-sqrt": dict(name="wsd", decay_frac=0.2, decay_shape="1-sqrt", final_frac=0.0)}
    rows = []
    for k, kw in cfgs.items():
        m = lr_multipliers(ScheduleConfig(warmup_steps=q.warmup_steps, total_steps=b, **kw), np.arange(b))
        s2 = float(annealing_area(m, [b], decay, q.warmup_steps)[0])
        drop = 1.0 - float(m[-1])
        rows.append({"schedule": k, "total_drop": drop, "S2": s2, "S2_per_drop": s2 / drop if drop else float("nan"),
                     "S1": float(m.sum())})
    return pd.DataFrame(rows)
