"""Chapter 6's analysis: the fits, predictions, seed noise and virtual cooldowns computed once (:func:`analysis`),
the validity checks and verdicts on C6.1–C6.4 (:func:`analyze`), and the numbers the page glues into its prose."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalelab.checks import Check, Report
from scalelab.experiments.lr_schedule_law.claims import (
    BEAT_MARGIN,
    CH3,
    CH5,
    CRITERIA,
    EXP_PROPOSED,
    FIT_SHAPE,
    NOISE_SE,
    SLUG,
    SOURCES,
    STATEMENTS,
)
from scalelab.experiments.lr_schedule_law.design import PROPOSED, stage_complete
from scalelab.experiments.lr_schedule_law.proposals import _proposal_gaps, wsd_like
from scalelab.experiments.lr_schedule_law.tables import (
    error_by_schedule,
    fit_laws,
    per_lr_error,
    predictions,
    runs_table,
    seed_noise,
)
from scalelab.experiments.lr_schedule_law.virtual import ch5_design_decay, virtual_cooldowns
from scalelab.resample import mean_interval
from scalelab.verdicts import Claim, arithmetic, judge


# ----------------------------------------------------------------------------- analyze
def _fmt(x: float, nd: int = 4) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


@dataclass
class Analysis:
    """Everything the page shows, computed once from the records."""

    runs: pd.DataFrame
    fits: dict
    pred: pd.DataFrame
    sigma: float
    n_pairs: int
    tau: float
    virtual: pd.DataFrame
    decay5: float


def analysis(records: list[dict], scale: str, seed: int = 0) -> Analysis:
    """Fits, predictions, the seed noise and the virtual cooldowns (pure and deterministic)."""
    runs = runs_table([r for r in records if r["experiment"] in CH3])
    fits = fit_laws(runs, scale, seed)
    pred = predictions(runs, fits, scale, seed)
    sigma, n_pairs = seed_noise(records)
    tau = NOISE_SE * math.sqrt(2) * sigma if np.isfinite(sigma) else float("nan")
    decay5 = ch5_design_decay(fits, scale)
    virt = virtual_cooldowns(records, scale, decay5) if np.isfinite(decay5) else pd.DataFrame()
    return Analysis(runs, fits, pred, sigma, n_pairs, tau, virt, decay5)


def analyze(records: list[dict], scale: str, seed: int = 0, pre: Analysis | None = None):
    """Validity checks and verdicts on C6.1–C6.4 from the records (pure and deterministic); ``pre`` is
    :func:`analysis` of the same records, when already computed (the fits are the costly part)."""
    a = pre if pre is not None else analysis(records, scale, seed)
    checks = []
    n3 = sum(r["experiment"] in CH3 for r in records)
    n5 = sum(r["experiment"] in CH5 for r in records)
    checks.append(Check("chapters 3 and 5 records present", n3 > 0 and n5 > 0,
                        f"{n3} chapter-3 records, {n5} chapter-5 records", "both > 0"))
    fitted = sorted({lr for _, lr in a.fits})
    lrs = sorted(a.runs["lr"].unique()) if len(a.runs) else []
    bad = [f"{law}@2^{math.log2(lr):.1f}" for (law, lr), f in a.fits.items() if not f.converged]
    checks.append(Check("both laws fitted and converged at every LR with a fit set", bool(a.fits) and not bad,
                        f"{len(a.fits)} fits at {len(fitted)} of {len(lrs)} LRs" + (f"; not converged: {bad}" if bad
                                                                                   else ""),
                        "scipy least_squares success and finite parameters, best of several starts"))
    overlap = a.pred[(a.pred["in_fit"]) & (~a.pred["schedule"].str.contains(FIT_SHAPE))]
    checks.append(Check("fit set and held-out runs disjoint", overlap.empty and bool((~a.pred["in_fit"]).any()),
                        f"{int((~a.pred['in_fit']).sum())} held-out predictions, {int(a.pred['in_fit'].sum())} "
                        f"fit-set runs", "no held-out schedule in the fit set, and ≥ 1 held-out run"))
    checks.append(Check("seed noise measured", a.n_pairs >= 2 and np.isfinite(a.sigma) and a.sigma > 0,
                        f"σ_seed = {_fmt(a.sigma)} nats from {a.n_pairs} pairs; τ = {_fmt(a.tau)}",
                        "≥ 2 seed pairs in chapter 3 at the tuned LRs"))
    fit_rmse = [f.rmse for f in a.fits.values()]
    worst = max(fit_rmse) if fit_rmse else float("nan")
    checks.append(Check("laws describe their own fit set", bool(fit_rmse) and worst <= max(a.tau, 0.01),
                        f"largest in-sample RMSE {_fmt(worst)} nats", "≤ max(τ, 0.01) nats (the positive control: "
                                                                      "a law must at least fit what it saw)"))
    vir_ok = (not a.virtual.empty) and bool(a.virtual["converged"].all()) and bool((~a.virtual["in_fit"]).any())
    checks.append(Check("virtual cooldowns fitted on chapter 5", vir_ok,
                        f"{a.virtual['d_model'].nunique() if len(a.virtual) else 0} sizes, "
                        f"{int((~a.virtual['in_fit']).sum()) if len(a.virtual) else 0} cooldowns predicted, "
                        f"λ = {a.decay5:g}", "every size with ≥ 2 cooldowns fitted and converged"))

    verdicts = []
    delta = a.tau if np.isfinite(a.tau) and a.tau > 0 else 0.01
    claim = Claim(0.0, delta, "less", "nats")
    for cid, law in (("C6.1", "annealing"), ("C6.2", "multi-power")):
        per = per_lr_error(a.pred, law, seed)
        iv = mean_interval(per.to_numpy(), unit="LR") if len(per) else None
        if iv is None:
            verdicts.append(arithmetic(cid, STATEMENTS[cid], "not resolved at this scale", criterion=CRITERIA[cid],
                                       evidence="no held-out predictions", source=SOURCES[cid],
                                       reason="no fitted LR has held-out runs"))
            continue
        verdicts.append(judge(cid, STATEMENTS[cid], claim, iv, source=SOURCES[cid], criterion=CRITERIA[cid]))

    # C6.3
    prop = PROPOSED.get(scale)
    own = [r for r in records if r["experiment"] == EXP_PROPOSED]
    if not prop:
        verdicts.append(arithmetic("C6.3", STATEMENTS["C6.3"], "not resolved at this scale", criterion=CRITERIA["C6.3"],
                                   evidence="no proposal planned at this scale", source=SOURCES["C6.3"],
                                   reason="the optimisation has not been run for this scale"))
    else:
        like = {law: wsd_like(sch, scale) for law, sch in prop["schedules"].items()}
        shapes = "; ".join(f"{law}: {like[law][1]:.0%} at the peak, final {like[law][2]:.2f}" for law in like)
        if not any(v[0] for v in like.values()):
            verdicts.append(arithmetic("C6.3", STATEMENTS["C6.3"], "contradicted", criterion=CRITERIA["C6.3"],
                                       evidence=shapes, source=SOURCES["C6.3"],
                                       reason="neither law's optimal schedule resembles WSD"))
        elif not stage_complete(records, scale, "proposed", seed):
            verdicts.append(arithmetic("C6.3", STATEMENTS["C6.3"], "not resolved at this scale",
                                       criterion=CRITERIA["C6.3"], evidence=shapes + f"; {len(own)} proposed runs "
                                       "recorded", source=SOURCES["C6.3"],
                                       reason="the proposed schedules are planned but not all trained yet"))
        else:
            # a.runs holds chapter 3's runs only (the laws are fitted and judged on them); add the proposals
            diffs = _proposal_gaps(records, pd.concat([a.runs, runs_table(own)], ignore_index=True), prop, scale, seed)
            iv = mean_interval(diffs, unit="seed")
            verdicts.append(judge("C6.3", STATEMENTS["C6.3"], Claim(-BEAT_MARGIN, BEAT_MARGIN, "less", "nats"), iv,
                                  source=SOURCES["C6.3"], criterion=CRITERIA["C6.3"]))

    # C6.4
    v = a.virtual
    held = v[~v["in_fit"]] if len(v) else v
    if len(held) and held["d_model"].nunique() >= 2:
        per = held.groupby("d_model")["error"].apply(lambda e: float(e.abs().mean()))
        verdicts.append(judge("C6.4", STATEMENTS["C6.4"], claim, mean_interval(per.to_numpy(), unit="size"),
                              source=SOURCES["C6.4"], criterion=CRITERIA["C6.4"]))
    else:
        verdicts.append(arithmetic("C6.4", STATEMENTS["C6.4"], "not resolved at this scale", criterion=CRITERIA["C6.4"],
                                   evidence="fewer than 2 sizes with held-out cooldowns", source=SOURCES["C6.4"],
                                   reason="chapter 5 has too few cooldowns per size at this scale"))
    return Report(SLUG, scale, checks, verdicts)


def glue_values(a: Analysis, scale: str, seed: int = 0) -> dict:
    """The numbers the prose quotes (glued)."""
    out = {"sigma_seed": a.sigma, "tau": a.tau, "n_pairs": a.n_pairs, "n_fits": len(a.fits), "decay5": a.decay5}
    eb = error_by_schedule(a.pred, seed)
    for law, key in (("annealing", "ann"), ("multi-power", "mpl")):
        per = per_lr_error(a.pred, law, seed)
        out[f"{key}_mean_abs"] = float(per.mean()) if len(per) else float("nan")
        for sch, k in (("cosine→10%", "cos"), ("multistep", "ms"), ("WSD .2 1-sqrt", "sqrt")):
            row = eb[(eb["law"] == law) & (eb["schedule"] == sch)]
            out[f"{key}_{k}_err"] = float(row["mean_error"].iloc[0]) if len(row) else float("nan")
            out[f"{key}_{k}_max"] = float(row["max_abs_error"].iloc[0]) if len(row) else float("nan")
    ann = [f.law.decay for (law, _), f in a.fits.items() if law == "annealing"]
    out["decay_median"] = float(np.median(ann)) if ann else float("nan")
    v = a.virtual
    held = v[~v["in_fit"]] if len(v) else v
    out["virtual_mean_abs"] = float(held["error"].abs().mean()) if len(held) else float("nan")
    out["virtual_n"] = int(len(held))
    return out
