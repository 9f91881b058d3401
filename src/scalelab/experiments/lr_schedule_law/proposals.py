"""C6.3: the family of schedules each fitted law chooses from, the law's best member, whether it resembles WSD,
and the proposals' gap to cosine once trained."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.experiments import wsd_vs_cosine as ch3
from scalelab.experiments.lr_schedule_law.claims import EXP_PROPOSED, LAWS, WSD_LIKE_FINAL, WSD_LIKE_STABLE
from scalelab.experiments.lr_schedule_law.design import chapter_plan
from scalelab.experiments.lr_schedule_law.tables import fit_laws, runs_table
from scalelab.schedules import DECAY_SHAPES, ScheduleConfig, lr_multipliers


def family(scale: str) -> list[dict]:
    """C6.3's schedules at the design budget: WSD (every fraction × shape × final LR) and cosine to each final LR,
    as TrainConfig schedule fields."""
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
    fin = ch3.finals([r for r in records if r["experiment"] in ("cosine", "constant", "wsd", "multistep")])
    d = ch3.pick(ch3.optima(fin), "wsd", ch3.DEFAULT_FRAC, ch3.DEFAULT_SHAPE)
    b = chapter_plan(scale).design_budget
    if b not in d.index:
        raise ValueError(f"no WSD optimum at the design budget {b}; budgets with one: {list(d.index)}")
    return float(2.0 ** d.loc[b, "best_log2_lr"])


def schedule_scores(law, scale: str) -> pd.DataFrame:
    """Each family member's predicted final loss under ``law`` at the design budget, best first."""
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
    b = chapter_plan(scale).design_budget
    w = ch3.chapter_plan(scale).warmup_steps
    kw = {k: v for k, v in sch.items() if k != "schedule"}
    m = lr_multipliers(ScheduleConfig(name=sch["schedule"], warmup_steps=w, total_steps=b, **kw), np.arange(b))
    stable = float(np.mean(m >= 1.0 - 1e-12))
    return bool(stable >= WSD_LIKE_STABLE and m[-1] <= WSD_LIKE_FINAL + 1e-12), stable, float(m[-1])


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
