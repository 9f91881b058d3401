"""Chapter 4's analysis: the validity checks, the controls and the verdicts on C4.1–C4.6 from the records
(:func:`analyze`), the rule-change table, and the numbers the notebook glues into its prose (:func:`glue_values`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from scalelab.checks import Check, Report, optima_interior, runs_finished
from scalelab.fit import FitInputError
from scalelab.fit.deepseek import ols_line
from scalelab.resample import Interval, array_interval
from scalelab.scales import validate_scale
from scalelab.verdicts import Claim, arithmetic, judge

from .claims import (
    ARITH_GAP,
    BAND,
    BUDGET_TOL,
    C46_MARGIN,
    CRITERIA,
    EXP_GRID,
    EXP_HELDOUT,
    EXP_NOISE,
    EXP_TOL,
    HELDOUT_GAIN,
    INTERIOR_AXES,
    MIN_NOISE_SEEDS,
    OLD_VERDICTS,
    SE_TARGET,
    SLUG,
    SOURCES,
    STATEMENTS,
    SURFACE_REQUIRED,
    VERSION,
    WHY_CHANGED,
    WIDE_OCTAVES,
    controls,
    published_laws,
)
from .cost import ridge_summary
from .design import chapter_plan, ridge_plan_of
from .laws import heldout_comparison, log2_optima, surface_laws, width_exponent
from .stages import budgets, plan, stage_complete
from .tables import (
    fit_range_ratio,
    fit_table,
    grid_table,
    measure_comparison,
    measure_table,
    noise_table,
    pooled_rel_sd,
    ridge_surface_table,
    ridge_table,
    surface_table,
    versus_deepseek,
)


def interior_table(grid: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Per budget (held-out included): where the best config sits on each grid axis."""
    rows = []
    for b in budgets(scale, grid):
        t = fit_table(grid, heldout=b.heldout)
        t = t[t["d_model"] == b.d_model]
        if t.empty:
            rows.append({"d_model": b.d_model, "budget": "held-out" if b.heldout else "fitted",
                         "best_batch_exp": float("nan"), "best_lr_exp": float("nan"),
                         "batch_interior": False, "lr_interior": False})
            continue
        best = t.loc[t["loss"].idxmin()]
        rows.append({
            "d_model": b.d_model, "budget": "held-out" if b.heldout else "fitted",
            "best_batch_exp": float(best["batch_exp"]), "best_lr_exp": float(best["lr_exp"]),
            "batch_interior": bool(min(b.batch_exps) < best["batch_exp"] < max(b.batch_exps)),
            # η: interior to the best config's own column
            "lr_interior": bool(min(b.lr_exps_at(best["batch_exp"])) < best["lr_exp"]
                                < max(b.lr_exps_at(best["batch_exp"]))),
        })
    return pd.DataFrame(rows)


def verdict_changes(report) -> pd.DataFrame:
    """The rules changed after the first results were seen: claim, old verdict, new verdict, why."""
    new = {v.claim: v.verdict for v in report.verdicts}
    return pd.DataFrame([{"claim": c, "old verdict": OLD_VERDICTS[c][0], "old evidence": OLD_VERDICTS[c][1],
                          "new verdict": new.get(c, "—"), "why it changed": WHY_CHANGED[c]} for c in OLD_VERDICTS])


def _centre_loss_array(grid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(log2 C per fitted budget, log2 loss (seeds × budgets)) at the first stage's grid centres; seeds that lack
    a finished centre run at some budget are left out."""
    g = grid[(grid["budget"] == "fitted") & grid["centre"] & grid["experiment"].isin([EXP_GRID, EXP_NOISE])]
    piv = g.pivot_table(index="seed", columns="flops", values="loss", aggfunc="mean").dropna()
    return np.log2(piv.columns.to_numpy(float)), np.log2(piv.to_numpy(float))


def _ridge_best_loss_array(records: list[dict], scale: str) -> tuple[np.ndarray, np.ndarray]:
    t = ridge_table(records, scale)
    t = t[t["budget"] == "fitted"]
    piv = t.pivot_table(index="seed", columns="flops", values="loss", aggfunc="min").dropna()
    return np.log2(piv.columns.to_numpy(float)), np.log2(piv.to_numpy(float))


def _loss_control(x: np.ndarray, y: np.ndarray, seed: int):
    if y.size == 0 or y.shape[1] < 2:
        return Interval(float("nan"), -math.inf, math.inf, 0.95, "t", "seed", 0, math.inf, 0)
    return array_interval(y, lambda a: ols_line(np.broadcast_to(x, a.shape[:1] + x.shape), a.mean(axis=1))[0],
                          unit="seed", vectorized=True, seed=seed)


def analyze(records: list[dict], scale: str, seed: int = 0):
    """Validity checks, controls and verdicts on C4.1–C4.6 from the records (pure, deterministic).

    The verdicts use stage "ridge" once it is complete (:func:`stage_complete`), the first stage before.

    Returns:
        A :class:`scalelab.checks.Report`.

    Raises:
        ValueError: on an unknown scale.
    """
    validate_scale(scale)
    grid = grid_table(records, scale)
    bs = budgets(scale, grid)
    specs = plan(scale, seed, records=records)
    checks: list[Check] = []

    # --- validity (first stage): every planned run has a record, and every record of the current design
    # finished or diverged (the superseded version-1 records stay in the store, unused)
    current = [r for r in records if r.get("version", VERSION) == VERSION]
    checks.append(runs_finished(current, specs, planned_label="runs of plan(scale, seed, records)"))
    dev = (grid["flops_run"] / grid["flops"] - 1.0).abs()
    checks.append(Check("compute on budget", bool(len(grid)) and float(dev.max()) <= BUDGET_TOL,
                        f"max |C_run/C − 1| = {float(dev.max()) if len(grid) else float('nan'):.3%}",
                        f"≤ {BUDGET_TOL:.0%} (integer steps)"))
    per_budget = grid[grid["experiment"].isin([EXP_GRID, EXP_HELDOUT])].groupby("d_model")["loss"].count()
    ok_b = all(per_budget.get(b.d_model, 0) >= 2 for b in bs)
    checks.append(Check("every budget has ≥2 finished grid runs", ok_b,
                        ", ".join(f"d{b.d_model}: {int(per_budget.get(b.d_model, 0))}" for b in bs),
                        "≥ 2 per budget (diverged runs count as results, not as optima)"))
    inter = interior_table(grid, scale)
    inter = inter[inter["budget"] == "fitted"]
    for ax in INTERIOR_AXES[scale]:
        if ax == "lr":  # the η optimum in the best config's own column: the generic LR-optimum check
            items = [(f"d{int(r.d_model)} (2^{r.best_lr_exp:g})", bool(r.lr_interior)) for r in inter.itertuples()]
            checks.append(optima_interior(items, "η, in the best B_tok column, every fitted budget"))
            continue
        ok = bool(len(inter)) and bool(inter[f"{ax}_interior"].all())
        val = ", ".join(f"d{int(r.d_model)}: 2^{getattr(r, f'best_{ax}_exp'):g}" for r in inter.itertuples())
        checks.append(Check("best B_tok interior to its grid at every budget", ok, val,
                            "the argmin is not on the first or last grid value (fitted budgets)"))
    noise = noise_table(grid)
    sd = pooled_rel_sd(noise, grid)
    fitted_n = sum(1 for b in bs if not b.heldout)
    ok_noise = len(noise) == fitted_n and bool((noise["seeds"] >= MIN_NOISE_SEEDS).all()) and math.isfinite(sd)
    checks.append(Check("noise floor measured", ok_noise,
                        f"seeds at centre: {', '.join(str(int(s)) for s in noise['seeds'])}; pooled SD "
                        f"{sd:.3%} of the loss vs band {BAND:.2%}",
                        f"≥ {MIN_NOISE_SEEDS} finished seeds at every fitted budget's grid centre"))

    # --- which design the verdicts use: the redesign once complete
    ridge = ridge_plan_of(scale) is not None and stage_complete(records, scale, "ridge", seed)
    if ridge:
        surf = ridge_surface_table(records, scale)
        t = ridge_table(records, scale)
        cells = t[t["budget"] == "held-out"].groupby(["batch_exp", "lr_exp"], as_index=False)["loss"].mean()
        cx, cy = _ridge_best_loss_array(records, scale)
        design = "stage ridge"
    else:
        surf = surface_table(grid, scale)
        cells = grid[grid["experiment"] == EXP_HELDOUT][["batch_exp", "lr_exp", "loss"]]
        cx, cy = _centre_loss_array(grid)
        design = "first stage"
    fitted = surf[surf["budget"] == "fitted"]
    need_fit = SURFACE_REQUIRED[scale]
    ok_surf = bool(len(fitted)) and bool(np.isfinite(fitted[["log2_B_opt", "log2_eta_opt"]].to_numpy()).all()) and (
        not need_fit or bool(fitted["fitted"].all()))
    checks.append(Check(f"surface optimum at every fitted budget ({design})", ok_surf,
                        "; ".join(f"d{r.d_model}: {'fitted' if r.fitted else r.reason}" for r in fitted.itertuples()),
                        "a finite optimum at every fitted budget" + (", from a fitted quadratic surface (convex, "
                                                                      "vertex in its window)" if need_fit else "")))
    for c in controls():
        res = c.evaluate(_loss_control(cx, cy, seed))
        if scale == "smoke":  # two tiny budgets: no usable interval; the point estimate must still fall
            iv = res.interval
            checks.append(Check(f"{c.kind} control: {c.name} (smoke: point estimate)",
                                bool(math.isfinite(iv.estimate) and iv.estimate <= c.expect.region[1]),
                                f"{iv.estimate:+.4f} {c.expect.measure}",
                                f"estimate ≤ {c.expect.region[1]:g} (cpu and gpu: the {iv.level:.0%} interval)"))
        else:
            checks.append(res.to_check())

    # --- verdicts
    verdicts = []
    laws = None
    try:
        laws = surface_laws(surf, scale, seed=seed)
    except (FitInputError, ValueError):
        pass

    # C4.1: the 0.25% contour's larger extent, mean over budgets
    wide = fitted["wide_oct"].to_numpy(float)
    iv1 = array_interval(wide if len(wide) else np.array([np.nan]), lambda a: a.mean(axis=-1), unit="budget",
                         vectorized=True, seed=seed)
    v = judge("C4.1", STATEMENTS["C4.1"], Claim(WIDE_OCTAVES, 0.0, "greater", "octaves"), iv1,
              source=SOURCES["C4.1"], criterion=CRITERIA["C4.1"])
    ext = "; ".join(f"d{r.d_model}: B_tok×{2 ** r.B_span_oct:.2f}, η×{2 ** r.eta_span_oct:.2f}"
                    f"{'' if r.inside_window else ' (beyond the fit window)'}" for r in fitted.itertuples())
    verdicts.append(_with_evidence(v, f"0.25% contour per budget ({design}): {ext}"))

    # C4.2 / C4.3: exponents through the surface optima
    for cid, key in (("C4.2", "batch"), ("C4.3", "eta")):
        pub = published_laws()[key]["exp"]
        if laws is None:
            verdicts.append(arithmetic(cid, STATEMENTS[cid], "not resolved at this scale", criterion=CRITERIA[cid],
                                       evidence="fewer than 2 fitted budgets", source=SOURCES[cid],
                                       reason="the law could not be fitted"))
            continue
        law = laws[key]
        v = judge(cid, STATEMENTS[cid], Claim(pub, EXP_TOL, "two-sided", "exponent"), law.interval,
                  source=SOURCES[cid], criterion=CRITERIA[cid])
        se_txt = (f"slope SE {law.se:.3f} {'meets' if law.se <= SE_TARGET else 'misses'} the target ≤ {SE_TARGET} "
                  f"(mde {v.mde:.3f}); residual SD {law.residual_sd:.3f} octaves")
        extra = ""
        if key == "eta":
            yard = -width_exponent(scale)
            inside = law.interval.lo <= yard <= law.interval.hi
            pub_in = law.interval.lo <= pub <= law.interval.hi
            extra = (f"; the SP width yardstick −s = {yard:.3f} lies {'inside' if inside else 'outside'} the "
                     f"interval, DeepSeek's {pub} {'inside' if pub_in else 'outside'}")
        verdicts.append(_with_evidence(v, f"{se_txt}{extra} ({design})"))

    # C4.4: laws against the naive rule at the held-out budget
    ho = heldout_comparison(surf, cells, seed=seed) if laws is not None else {}
    if ho and math.isfinite(ho["interval"].estimate):
        v = judge("C4.4", STATEMENTS["C4.4"], Claim(-HELDOUT_GAIN, HELDOUT_GAIN, "less", "pp"), ho["interval"],
                  source=SOURCES["C4.4"], criterion=CRITERIA["C4.4"])
        ev = (f"held-out surface: laws {ho['excess_laws']:.2f}% (prediction 2^({ho['pred'][0]:.2f}, "
              f"{ho['pred'][1]:.2f}){'' if ho['pred_in_window'] else ', outside the fit window'}), naive "
              f"{ho['excess_naive']:.2f}% (2^({ho['naive'][0]:.2f}, {ho['naive'][1]:.2f})"
              f"{'' if ho['naive_in_window'] else ', outside the fit window'}); held-out optimum 2^("
              f"{ho['heldout_opt'][0]:.2f}, {ho['heldout_opt'][1]:.2f})")
        if "node_excess_laws" in ho:
            ev += (f"; nearest grid nodes (measured): laws {ho['node_excess_laws']:.2f}%, naive "
                   f"{ho['node_excess_naive']:.2f}% above the best node")
        verdicts.append(_with_evidence(v, ev + f" ({design})"))
    else:
        verdicts.append(arithmetic("C4.4", STATEMENTS["C4.4"], "not resolved at this scale", criterion=CRITERIA["C4.4"],
                                   evidence="no held-out surface or no law", source=SOURCES["C4.4"],
                                   reason="the held-out budget's surface or the laws could not be fitted"))

    # C4.5: arithmetic
    verdicts.append(_c45(scale))

    # C4.6: residual SD of the η law minus the B_tok law's, over budgets
    a = log2_optima(surf)

    def rsd_diff(x):
        return ols_line(x[..., 0], x[..., 2])[2] - ols_line(x[..., 0], x[..., 1])[2]

    iv6 = array_interval(a if len(a) else np.full((1, 3), np.nan), rsd_diff, unit="budget", vectorized=True,
                         seed=seed)
    v = judge("C4.6", STATEMENTS["C4.6"], Claim(C46_MARGIN, C46_MARGIN, "greater", "octaves"), iv6,
              source=SOURCES["C4.6"], criterion=CRITERIA["C4.6"])
    if laws is not None:
        v = _with_evidence(v, f"residual SD η law {laws['eta'].residual_sd:.3f}, B_tok law "
                              f"{laws['batch'].residual_sd:.3f} octaves ({design})")
    verdicts.append(v)
    return Report(SLUG, scale, checks, verdicts)


def _with_evidence(v, more: str):
    """``v`` with ``more`` appended to its evidence (the rules' fields unchanged)."""
    return replace(v, evidence=f"{v.evidence}; {more}", region=None)


def _c45(scale: str):
    t = measure_comparison(scale)
    p = chapter_plan(scale)
    own = t[t["shape"].str.startswith("bytes")]
    d0 = int(own["d_model"].min())
    r0 = own[own["d_model"] == d0].iloc[0]
    gap = max(abs(r0["6N1/M"] - 1.0), abs(r0["6N2/M"] - 1.0))
    shrinks = all(bool(np.all(np.diff(np.abs(g.sort_values("d_model")[c].to_numpy() - 1.0)) <= 1e-12))
                  for _, g in t.groupby("shape") for c in ("6N1/M", "6N2/M"))
    verdict = "reproduced" if gap >= ARITH_GAP and shrinks else "contradicted"
    bpe = t[t["shape"].str.startswith("BPE")]
    ev = (f"at d{d0} (n_layer {p.n_layer}, seq_len {p.seq_len}): 6N₁/M = {r0['6N1/M']:.3f}, 6N₂/M = "
          f"{r0['6N2/M']:.3f} (6·256 = 12·{p.n_layer}·{p.seq_len}: 6N₂ ≡ M at this shape); with a BPE vocabulary "
          f"6N₂/M = {bpe['6N2/M'].min():.2f}–{bpe['6N2/M'].max():.2f}; the gap shrinks with width in every "
          f"family: {shrinks}")
    return arithmetic("C4.5", STATEMENTS["C4.5"], verdict, criterion=CRITERIA["C4.5"], evidence=ev,
                      source=SOURCES["C4.5"], statistic=float(r0["6N1/M"]), measure="6N₁/M",
                      reason=(f"6N misstates M by {gap:.0%} at the smallest fitted shape "
                              f"({'≥' if gap >= ARITH_GAP else '<'} {ARITH_GAP:.0%}), and the misstatement "
                              f"{'shrinks' if shrinks else 'does not shrink'} as width grows"))


def glue_values(records: list[dict], scale: str, seed: int = 0) -> dict[str, float]:
    """Numbers the notebook's prose glues in (all from the records)."""
    grid = grid_table(records, scale)
    surf = surface_table(grid, scale)
    laws = surface_laws(surf, scale, seed=seed)
    sd = pooled_rel_sd(noise_table(grid), grid)
    cells = grid[grid["experiment"] == EXP_HELDOUT][["batch_exp", "lr_exp", "loss"]]
    ho = heldout_comparison(surf, cells, seed=seed)
    meas = measure_table(scale)
    f = surf[surf["budget"] == "fitted"]
    vs = versus_deepseek(surf)
    vf = vs[vs["budget"] == "fitted"]
    rng = fit_range_ratio(surf)
    out = {"p_B": laws["batch"].p, "p_eta": laws["eta"].p, "se_B": laws["batch"].se, "se_eta": laws["eta"].se,
           "p_B_lo": laws["batch"].interval.lo, "p_B_hi": laws["batch"].interval.hi,
           "p_eta_lo": laws["eta"].interval.lo, "p_eta_hi": laws["eta"].interval.hi,
           "rsd_B": laws["batch"].residual_sd, "rsd_eta": laws["eta"].residual_sd, "se_target": SE_TARGET,
           "noise_rel_sd": sd, "band": BAND,
           "B_span_min": float(2 ** f["B_span_oct"].min()), "B_span_max": float(2 ** f["B_span_oct"].max()),
           "eta_span_min": float(2 ** f["eta_span_oct"].min()), "eta_span_max": float(2 ** f["eta_span_oct"].max()),
           "six_n1_over_m_min": float(meas["6N1/M"].min()), "six_n1_over_m_max": float(meas["6N1/M"].max()),
           "sp_width_p_eta": -width_exponent(scale), "fit_low_ratio": rng["low_ratio"],
           "fit_high_ratio": rng["high_ratio"],
           "B_octaves_min": float(vf["B_octaves"].min()) if len(vf) else float("nan"),
           "B_octaves_max": float(vf["B_octaves"].max()) if len(vf) else float("nan"),
           "eta_octaves_min": float(vf["eta_octaves"].min()) if len(vf) else float("nan"),
           "eta_octaves_max": float(vf["eta_octaves"].max()) if len(vf) else float("nan")}
    if ho:
        out.update({"excess_laws": ho["excess_laws"], "excess_naive": ho["excess_naive"],
                    "node_excess_laws": ho.get("node_excess_laws", float("nan")),
                    "node_excess_naive": ho.get("node_excess_naive", float("nan"))})
    rs = ridge_summary(scale, seed, records) if ridge_plan_of(scale) else pd.DataFrame()
    if len(rs):
        out.update({"ridge_runs": float(rs.iloc[-1]["runs"]), "ridge_hours": float(rs.iloc[-1]["est_process_hours"]),
                    "ridge_span": float(rs[rs["budget"] == "fitted"]["C / C_min"].max()),
                    "ridge_heldout_ratio": float(rs[rs["budget"] == "held-out"]["C=M·D"].iloc[0]
                                                 / rs[rs["budget"] == "fitted"]["C=M·D"].max())})
    return out
