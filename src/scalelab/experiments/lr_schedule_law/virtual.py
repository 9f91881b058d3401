"""C6.4: virtual cooldowns on chapter 5's runs, the annealing law fitted per model size on the stable curve and
its first cooldown."""

from __future__ import annotations

import math

import pandas as pd

from scalelab.experiments import chinchilla
from scalelab.experiments.lr_schedule_law.design import chapter_plan
from scalelab.experiments.lr_schedule_law.tables import _after, _multipliers
from scalelab.fit.schedule_law import Curve, fit_annealing


# ----------------------------------------------------------------------------- C6.4
def virtual_cooldowns(records: list[dict], scale: str, decay: float) -> pd.DataFrame:
    """Chapter 5: per model size, the annealing law (momentum ``decay``) fitted on the stable curve plus the
    first (smallest) cooldown's final loss; every cooldown predicted. One row per cooldown branch."""
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
    lr5 = chinchilla.chapter_plan(scale).lr
    ann = {lr: f for (law, lr), f in fits.items() if law == "annealing"}
    if not ann:
        return float("nan")
    lr = min(ann, key=lambda x: abs(math.log2(x) - math.log2(lr5)))
    return float(ann[lr].law.decay)
