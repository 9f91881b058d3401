"""Chapter 6 — One law for every schedule: predict cosine from constant-LR runs and their cooldowns.

Two laws model the whole loss curve as a function of the learning-rate schedule
(:mod:`scalelab.fit.schedule_law`): the LR-annealing law of Tissue et al. (arXiv 2408.11029v1) and the
multi-power law of Luo et al. (arXiv 2503.12811v1). Both claim that, fitted on one or a few
schedules, they predict the loss under unseen ones (claims C6.1–C6.4 of the book).

The chapter trains almost nothing: it reads chapter 3's store (``wsd_vs_cosine``: per peak LR a
constant-LR trunk with WSD, multi-step branches and cosine runs, at four budgets, two seeds at the two
smallest) and chapter 5's (``chinchilla``: one constant-LR run per model size with 1−√ cooldown
branches). Design, per peak LR of chapter 3's grid:

* **fit set** — the constant-LR trunk up to ``fit_max_budget`` steps and the *linear* WSD cooldowns
  (20 %, to 0) at the budgets ≤ ``fit_max_budget`` (seed ``seed``);
* **held out** — everything else at that LR: cosine to 10 % (and to 0 once chapter 3's "controls"
  stage is recorded), multi-step, the 1−√ and cosine cooldown shapes, the other fractions, the
  exponential shape (controls), and every schedule at the largest budget (a horizon twice the fit's).

The prediction error of a held-out run is predicted minus measured final held-out loss; it is judged
against the chapter-3 seed noise τ = 2·√2·σ_seed (two standard errors of a difference of two runs).
C6.3 minimises each fitted law's predicted final loss over a family of schedules at one budget
(:func:`propose`, run once when the runs were planned; its output is :data:`PROPOSED`) and plans two
seeds of each proposal (:func:`plan`, this chapter's own store). C6.4 fits the annealing law per
model size on chapter 5's stable curve plus its first cooldown and predicts the other cooldowns
("virtual cooldowns").

Used by ``notebooks/06_lr_schedule_law.ipynb``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalelab.chapter import recorded_all
from scalelab.scales import validate_scale

SLUG = "lr_schedule_law"
NOTEBOOK = "06_lr_schedule_law.ipynb"
NB = NOTEBOOK[:2]
VERSION = 1
READS = ("wsd_vs_cosine", "chinchilla")  # the stores of chapters 3 and 5 (the book re-executes on their change)
EXP_PROPOSED = "proposed"
LAWS = ("annealing", "multi-power")
LAW_LABELS = {"annealing": "LR-annealing law (Tissue et al.)", "multi-power": "multi-power law (Luo et al.)"}
FIT_FRAC = 0.2  # the fit set's cooldown fraction …
FIT_SHAPE = "linear"  # … and shape (chapter 3 has linear cooldowns at 20 % only)
NOISE_SE = 2.0  # τ = NOISE_SE·√2·σ_seed, as chapter 3
WSD_LIKE_STABLE = 0.5  # C6.3: "resembles WSD" = at least this fraction of the steps at the peak LR …
WSD_LIKE_FINAL = 0.1  # … and a final LR at most this fraction of the peak
BEAT_MARGIN = 0.01  # nats: C6.3's claimed gain over cosine, stated as the smallest gain worth calling a win

CRITERIA = {
    "C6.1": "Per peak LR (the unit), the worst schedule family's mean |predicted − measured| final held-out loss "
            "over its held-out runs (seed 0), the annealing law fitted on the fit set. Claim: this error is at most "
            "τ = 2·√2·σ_seed (a law that good is as good as a rerun). Region (−∞, τ]; interval over LRs; "
            "contradicted only with an mde ≤ τ.",
    "C6.2": "As C6.1, for the multi-power law.",
    "C6.3": f"At the design budget and LR, each law's predicted-best schedule over the family (WSD fraction, "
            f"shape, final LR; cosine) is trained with 2 seeds. If no proposal resembles WSD (≥ "
            f"{WSD_LIKE_STABLE:.0%} of the steps at the peak, final LR ≤ {WSD_LIKE_FINAL:.0%} of it): "
            f"contradicted. Else the statistic is L_proposed − L_cosine paired by seed (best proposal); claimed "
            f"−{BEAT_MARGIN} nats, region ≤ 0; until the runs are recorded: not resolved.",
    "C6.4": "Per model size of chapter 5 (the unit): the annealing law (λ from chapter 3 at the same LR) fitted on "
            "the stable curve plus the first cooldown predicts the other cooldowns' final losses; statistic the "
            "mean |error| per size; region (−∞, τ].",
}
STATEMENTS = {
    "C6.1": "L = L0 + A·S1^−α − C·S2, fitted on one or two curves, predicts the loss at every step under other "
            "LR schedules.",
    "C6.2": "The multi-power law, fitted on a few schedules, predicts the loss curves of unseen schedules of other "
            "shapes and horizons.",
    "C6.3": "The schedule that minimises the fitted law's final loss beats cosine and resembles WSD.",
    "C6.4": "A fitted schedule law replaces per-budget runs in a scaling-law fit (virtual cooldowns).",
}
SOURCES = {
    "C6.1": "Tissue et al. 2024 (arXiv 2408.11029v1) Eq. 1, §4",
    "C6.2": "Luo et al. 2025 (arXiv 2503.12811v1) §3–4",
    "C6.3": "Luo et al. 2025 (arXiv 2503.12811v1) §5",
    "C6.4": "Tissue et al. 2024 (arXiv 2408.11029v1) §5",
}


# ----------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale (the rest is chapters 3 and 5's plans).

    Attributes:
        min_step: evaluations before this step are left out of every fit (and of the curve RMSE).
        fit_max_budget: the fit set's trunk points and cooldowns stop at this many steps; larger budgets
            are a horizon the fit never saw.
        design_budget: C6.3's budget (one with a second seed in chapter 3, for the paired comparison).
        proposed_seeds: seeds of each proposed schedule.
        family_fracs: C6.3's WSD cooldown fractions.
        family_finals: C6.3's final LRs (fractions of the peak).
    """

    fit_max_budget: int
    design_budget: int
    min_step: int  # evaluations before this step are not fitted (the fast initial drop no power law in S1 follows)
    proposed_seeds: int = 2
    max_nfev: int = 300  # optimiser evaluations per fit start (smoke's few points need more to settle)
    family_fracs: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 21))
    family_finals: tuple[float, ...] = (0.0, 0.05, 0.1)


PLANS = {
    "smoke": ChapterPlan(fit_max_budget=40, design_budget=20, min_step=8, max_nfev=3000,
                         family_fracs=(0.1, 0.2, 0.5, 0.9)),
    "cpu": ChapterPlan(fit_max_budget=2000, design_budget=1000, min_step=300),
    "gpu": ChapterPlan(fit_max_budget=8000, design_budget=2000, min_step=600),
}

# C6.3's proposals: the output of ``propose(records, scale)`` on the records as they were when the runs were
# planned (chapter 3's base stage, complete). Recomputing them is not part of the analysis (CI never re-optimises);
# the notebook shows them and what produced them. None: not planned at that scale.
PROPOSED: dict[str, dict | None] = {
    "smoke": None,  # smoke records are throwaway; the stage is exercised at cpu
    # propose(run("cpu", records_only=True), "cpu"), chapter 3's base stage complete (396 records), at commit time
    "cpu": {"lr": 0.015625, "budget": 1000,
            "schedules": {"annealing": {"schedule": "wsd", "decay_frac": 0.15, "decay_shape": "cosine",
                                        "final_frac": 0.0},
                          "multi-power": {"schedule": "wsd", "decay_frac": 0.1, "decay_shape": "exp",
                                          "final_frac": 0.05}},
            "predicted": {"annealing": 1.476512406601742, "multi-power": 1.4859615550138212}},
    "gpu": None,
}


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def input_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The runs this chapter reads, by the store that holds them: chapter 3's base plan, chapter 5's plan."""
    from scalelab.experiments import chinchilla, wsd_vs_cosine

    return {"wsd_vs_cosine": wsd_vs_cosine.plan(scale, seed=seed), "chinchilla": chinchilla.plan(scale, seed=seed)}


def plan(scale: str, seed: int = 0) -> list:
    """This chapter's own runs (its store): each proposed schedule of :data:`PROPOSED` at the design budget
    and LR, seeds ``seed`` … ``seed + proposed_seeds − 1``, on chapter 3's model. Empty where nothing is
    proposed yet.

    Raises:
        ValueError: on an unknown scale.
    """
    from scalelab.experiments import wsd_vs_cosine as ch3
    from scalelab.runner import RunSpec

    p = chapter_plan(scale)
    prop = PROPOSED[scale]
    if not prop:
        return []
    q = ch3.chapter_plan(scale)
    seen, specs = set(), []
    for law in LAWS:
        sch = prop["schedules"][law]
        key = tuple(sorted(sch.items()))
        if key in seen:
            continue
        seen.add(key)
        for s in range(seed, seed + p.proposed_seeds):
            cfg = ch3._base(scale, prop["lr"], s, total_steps=p.design_budget, eval_every=q.eval_every, **sch)
            specs.append(RunSpec(EXP_PROPOSED, cfg, VERSION))
    return specs


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """Stages of this chapter's own runs: ``proposed`` (C6.3), rendered only once complete."""
    return {"proposed": plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = "proposed", seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (and the stage has runs)."""
    specs = stage_plans(scale, seed)[stage]
    return bool(specs) and recorded_all(specs, records)


def run(scale: str, *, seed: int = 0, device: str = "auto", refresh: bool = False, records_only: bool = False,
        store=None) -> list[dict]:
    """The records the chapter reads: chapter 3's base plan (and its "controls" stage once complete), chapter 5's
    plan, and this chapter's proposed runs (trained when missing unless ``records_only``; in records-only mode the
    ones recorded so far).

    Raises:
        ValueError: on an unknown scale.
        scalelab.sweep.MissingRecordsError: in records-only mode, when chapter 3 or 5 lacks records.
    """
    from scalelab.book import validate_parameters
    from scalelab.experiments import chinchilla, wsd_vs_cosine
    from scalelab.paths import results_path
    from scalelab.runner import run_chapter
    from scalelab.store import RunStore

    validate_parameters(scale=scale, seed=seed, refresh=refresh, device=device, records_only=records_only)
    kw = {"seed": seed, "device": device, "refresh": refresh, "records_only": records_only}
    have3 = RunStore(results_path(wsd_vs_cosine.SLUG, scale)).by_config_key()
    controls = wsd_vs_cosine.stage_plans(scale, seed)["controls"]
    ckeys = {s.config_key for s in controls}
    out = [r for r in wsd_vs_cosine.run(scale, **kw) if r.get("config_key") not in ckeys]  # base stage only
    if controls and all(k in have3 for k in ckeys):  # the controls stage is read only once complete
        out += [have3[s.config_key] for s in controls]
    out += list(chinchilla.run(scale, **kw))
    own = plan(scale, seed)
    if own:
        if records_only:
            mine = (store or RunStore(results_path(SLUG, scale))).by_config_key()
            out += [mine[s.config_key] for s in own if s.config_key in mine]
        else:
            out += run_chapter(SLUG, NB, own, scale, device=device, refresh=refresh, store=store)
    return out


# ----------------------------------------------------------------------------- records → curves
CH3 = ("cosine", "constant", "wsd", "multistep", "cosine_to_zero")
CH5 = ("stable", "isoflop", "heldout")


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
    from scalelab.schedules import ScheduleConfig, lr_multipliers

    name, warmup, total, final, frac, shape = fields
    cfg = ScheduleConfig(name=name, warmup_steps=warmup, total_steps=total, final_frac=final, decay_frac=frac,
                         decay_shape=shape)
    return lr_multipliers(cfg, np.arange(total))


def runs_table(records: list[dict]) -> pd.DataFrame:
    """One row per finished chapter-3 (and proposed) run: schedule label, budget, LR, seed, and its curve.

    ``curve`` is a :class:`scalelab.fit.schedule_law.Curve` of the run's own evaluations (a branch's start after
    its branch point); the trunk (``constant``) keeps every evaluation.
    """
    from scalelab.fit.schedule_law import Curve

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
    from scalelab.fit.schedule_law import Curve

    keep = curve.steps <= max_step
    return Curve(curve.multipliers[:max_step], curve.steps[keep], curve.loss[keep], curve.warmup_steps, curve.label)


def _after(curve, min_step: int):
    from scalelab.fit.schedule_law import Curve

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
    from scalelab.fit import schedule_law as sl

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
    from scalelab.experiments import wsd_vs_cosine as ch3

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
    from scipy.stats import kendalltau

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
    from scalelab.experiments import wsd_vs_cosine as ch3
    from scalelab.fit.schedule_law import annealing_area
    from scalelab.schedules import ScheduleConfig, lr_multipliers

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


# ----------------------------------------------------------------------------- C6.3
def family(scale: str) -> list[dict]:
    """C6.3's schedules at the design budget: WSD (every fraction × shape × final LR) and cosine to each final LR,
    as TrainConfig schedule fields."""
    from scalelab.experiments import wsd_vs_cosine as ch3
    from scalelab.schedules import DECAY_SHAPES, ScheduleConfig

    p = chapter_plan(scale)
    w = ch3.chapter_plan(scale).warmup_steps
    b = p.design_budget
    out = [{"schedule": "cosine", "final_frac": f} for f in p.family_finals]
    for fr in p.family_fracs:
        if round(fr * b) > b - w:  # the cooldown would start inside the warmup: not a WSD schedule
            continue
        _ = ScheduleConfig(name="wsd", warmup_steps=w, total_steps=b, decay_frac=fr)  # valid by construction
        for sh in DECAY_SHAPES:
            for f in p.family_finals:
                out.append({"schedule": "wsd", "decay_frac": fr, "decay_shape": sh, "final_frac": f})
    return out


def design_lr(records: list[dict], scale: str) -> float:
    """C6.3's peak LR: WSD's (20 %, 1−√) tuned LR at the design budget in chapter 3's records (seed mean)."""
    from scalelab.experiments import wsd_vs_cosine as ch3

    fin = ch3.finals([r for r in records if r["experiment"] in ("cosine", "constant", "wsd", "multistep")])
    d = ch3.pick(ch3.optima(fin), "wsd", ch3.DEFAULT_FRAC, ch3.DEFAULT_SHAPE)
    b = chapter_plan(scale).design_budget
    if b not in d.index:
        raise ValueError(f"no WSD optimum at the design budget {b}; budgets with one: {list(d.index)}")
    return float(2.0 ** d.loc[b, "best_log2_lr"])


def schedule_scores(law, scale: str) -> pd.DataFrame:
    """Each family member's predicted final loss under ``law`` at the design budget, best first."""
    from scalelab.experiments import wsd_vs_cosine as ch3
    from scalelab.schedules import ScheduleConfig, lr_multipliers

    b = chapter_plan(scale).design_budget
    w = ch3.chapter_plan(scale).warmup_steps
    rows = []
    for sch in family(scale):
        kw = {k: v for k, v in sch.items() if k != "schedule"}
        m = lr_multipliers(ScheduleConfig(name=sch["schedule"], warmup_steps=w, total_steps=b, **kw), np.arange(b))
        rows.append({**sch, "predicted": float(law.predict(m, [b], w)[0]),
                     "stable_frac": float(np.mean(m[w:] >= 1.0 - 1e-12) * (b - w) / b), "final_mult": float(m[-1])})
    return pd.DataFrame(rows).sort_values("predicted").reset_index(drop=True)


def propose(records: list[dict], scale: str, seed: int = 0) -> dict:
    """C6.3's optimisation: fit both laws at the design LR (chapter 3's fit set) and take each law's best family
    member. Run once when the proposed runs were planned; its output is :data:`PROPOSED`."""
    runs = runs_table(records)
    lr = design_lr(records, scale)
    fits = fit_laws(runs[np.isclose(runs["lr"], lr)], scale, seed)
    out = {"lr": lr, "budget": chapter_plan(scale).design_budget, "schedules": {}, "predicted": {}}
    for law in LAWS:
        sc = schedule_scores(fits[(law, lr)].law, scale)
        best = sc.iloc[0]
        out["schedules"][law] = {k: (float(best[k]) if k != "schedule" and k != "decay_shape" else best[k])
                                 for k in ("schedule", "decay_frac", "decay_shape", "final_frac")
                                 if k in best and not (isinstance(best[k], float) and math.isnan(best[k]))}
        out["predicted"][law] = float(best["predicted"])
    return out


def wsd_like(sch: dict, scale: str) -> tuple[bool, float, float]:
    """(resembles WSD, fraction of the steps at the peak, final multiplier) of a proposed schedule."""
    from scalelab.experiments import wsd_vs_cosine as ch3
    from scalelab.schedules import ScheduleConfig, lr_multipliers

    b = chapter_plan(scale).design_budget
    w = ch3.chapter_plan(scale).warmup_steps
    kw = {k: v for k, v in sch.items() if k != "schedule"}
    m = lr_multipliers(ScheduleConfig(name=sch["schedule"], warmup_steps=w, total_steps=b, **kw), np.arange(b))
    stable = float(np.mean(m >= 1.0 - 1e-12))
    return bool(stable >= WSD_LIKE_STABLE and m[-1] <= WSD_LIKE_FINAL + 1e-12), stable, float(m[-1])


# ----------------------------------------------------------------------------- C6.4
def virtual_cooldowns(records: list[dict], scale: str, decay: float) -> pd.DataFrame:
    """Chapter 5: per model size, the annealing law (momentum ``decay``) fitted on the stable curve plus the
    first (smallest) cooldown's final loss; every cooldown predicted. One row per cooldown branch."""
    from scalelab.fit.schedule_law import Curve, fit_annealing

    stables = {r["config_key"]: r for r in records if r["experiment"] == "stable"
               and r["result"]["status"] == "finished"}
    rows = []
    for ck, st in stables.items():
        kids = sorted((r for r in records if r["experiment"] in ("isoflop", "heldout")
                       and r["config"].get("init_from") == ck and r["result"]["status"] == "finished"),
                      key=lambda r: r["config"]["total_steps"])
        if len(kids) < 2:
            continue
        ev = st["result"]["eval_curve"]
        c0 = st["config"]
        trunk = _after(Curve(_multipliers(c0), ev["step"], ev["loss"], c0["warmup_steps"], "stable"),
                       chapter_plan(scale).min_step)
        first = kids[0]
        fc = first["config"]
        fcurve = Curve(_multipliers(fc), [fc["total_steps"]], [first["result"]["final_eval_loss"]],
                       fc["warmup_steps"], "first cooldown")
        f = fit_annealing([trunk, fcurve], decays=(decay,))
        for r in kids:
            c = r["config"]
            m = _multipliers(c)
            pred = float(f.law.predict(m, [c["total_steps"]], c["warmup_steps"])[0])
            meas = float(r["result"]["final_eval_loss"])
            rows.append({"d_model": c["model"]["d_model"], "N": float(r["result"]["num_params"]["total"]),
                         "role": r["experiment"], "steps": c["total_steps"], "in_fit": r is first,
                         "measured": meas, "predicted": pred, "error": pred - meas, "fit_rmse": f.rmse,
                         "converged": f.converged})
    cols = ["d_model", "N", "role", "steps", "in_fit", "measured", "predicted", "error", "fit_rmse", "converged"]
    return pd.DataFrame(rows, columns=cols).sort_values(["d_model", "steps"]).reset_index(drop=True)


def ch5_design_decay(fits: dict, scale: str) -> float:
    """The λ chapter 5's virtual cooldowns use: the annealing fit's at chapter 3's grid LR nearest chapter 5's."""
    from scalelab.experiments import chinchilla

    lr5 = chinchilla.chapter_plan(scale).lr
    ann = {lr: f for (law, lr), f in fits.items() if law == "annealing"}
    if not ann:
        return float("nan")
    lr = min(ann, key=lambda x: abs(math.log2(x) - math.log2(lr5)))
    return float(ann[lr].law.decay)


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
    from scalelab.checks import Check, Report
    from scalelab.resample import mean_interval
    from scalelab.verdicts import Claim, arithmetic, judge

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


def _proposal_gaps(records, runs, prop, scale, seed) -> np.ndarray:
    """Per seed: the best proposal's final loss minus cosine's (→10 %) at the same LR and budget."""
    b, lr = prop["budget"], prop["lr"]
    mine = runs[(runs["experiment"] == EXP_PROPOSED)]
    cos = runs[(runs["schedule"] == "cosine→10%") & (runs["budget"] == b) & np.isclose(runs["lr"], lr)]
    out = []
    for s in range(seed, seed + chapter_plan(scale).proposed_seeds):
        p = mine[mine["seed"] == s]["final"]
        c = cos[cos["seed"] == s]["final"]
        if len(p) and len(c):
            out.append(float(p.min() - c.iloc[0]))
    return np.asarray(out)


def verdict_inputs(a: Analysis, scale: str, seed: int = 0) -> dict:
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
