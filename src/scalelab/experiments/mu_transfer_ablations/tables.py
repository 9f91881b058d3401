"""Chapter 2's records as tables: one row per run, the optimum per (arm, width), the effect per ablation and the
weight-decay timescales at the baseline's optimum."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.parametrization import rules

from .claims import WD_TORCH
from .design import ablations, baseline_of, chapter_plan
from .statistic import effect_interval, loss_cube, optima_per_width, seed_mean


def finals(records: list[dict]):
    """One row per run: ablation, width, seed, log2 LR, final held-out loss (NaN if diverged), status."""
    rows = []
    for r in records:
        c, res = r["config"], r["result"]
        loss = res.get("final_eval_loss")
        ok = res.get("status") == "finished" and loss is not None and math.isfinite(loss)
        rows.append({"ablation": r["experiment"], "d_model": c["model"]["d_model"], "seed": c["seed"],
                     "log2_lr": round(math.log2(c["lr"]), 6), "loss": float(loss) if ok else float("nan"),
                     "status": res.get("status"), "steps": c["total_steps"], "batch_size": c["batch_size"],
                     "seconds": float((r.get("meta") or {}).get("seconds") or float("nan"))})
    return pd.DataFrame(rows, columns=["ablation", "d_model", "seed", "log2_lr", "loss", "status", "steps",
                                       "batch_size", "seconds"])


def curve(fin, ablation: str, d_model: int):
    """Seed-mean loss per log2 LR (NaN where any seed diverged), sorted by LR."""
    d = fin[(fin["ablation"] == ablation) & (fin["d_model"] == d_model)]
    g = d.groupby("log2_lr")["loss"]
    return g.apply(lambda x: x.mean() if x.notna().all() else float("nan")).sort_index()



def optima(fin):
    """One row per (arm, width): η* of the seed-mean curve (log2), how it was found, the loss there, seeds."""
    rows = []
    for abl in dict.fromkeys(fin["ablation"]):
        widths = sorted(fin[fin["ablation"] == abl]["d_model"].unique())
        x, seeds, L = loss_cube(fin, abl, widths)
        per_seed = [[o.x_opt for o in optima_per_width(x, L[i])] for i in range(len(seeds))]
        for j, o in enumerate(optima_per_width(x, seed_mean(L))):
            ps = np.array([s[j] for s in per_seed])
            rows.append({"ablation": abl, "d_model": int(widths[j]), "opt_log2_lr": o.x_opt,
                         "where": "interior" if o.interior else "edge", "fitted": o.fitted, "reason": o.reason,
                         "best_loss": o.loss_best, "seed_opt_spread": float(np.ptp(ps)) if len(ps) > 1 else np.nan,
                         "n_seeds": len(seeds), "grid_lo": float(x.min()), "grid_hi": float(x.max())})
    return pd.DataFrame(rows)


def shifts(fin, scale: str):
    """One row per ablation: η* per width, its own slope and the effect relative to its baseline (per doubling)."""
    p = chapter_plan(scale)
    opt = optima(fin)
    rows = []
    for name, a in ablations(scale).items():
        o = opt[opt["ablation"] == name].set_index("d_model")
        if not len(o):
            continue
        own = effect_interval(fin, name, None, p.widths)
        base = baseline_of(name)
        rel = effect_interval(fin, name, base, p.widths) if name != base else None
        rows.append({"ablation": name, "label": a.label, "claim": a.claim, "paper": a.paper,
                     **{f"log2_lr*@{w}": float(o.loc[w, "opt_log2_lr"]) if w in o.index else float("nan")
                        for w in p.widths},
                     "edge": bool((o["where"] != "interior").any()),
                     "own_slope": own.estimate, "effect": rel.estimate if rel else 0.0,
                     "effect_lo": rel.lo if rel else 0.0, "effect_hi": rel.hi if rel else 0.0,
                     "loss_at_opt_widest": float(o.loc[max(p.widths), "best_loss"]) if max(p.widths) in o.index
                     else float("nan")})
    return pd.DataFrame(rows)


def decay_timescales(fin, scale: str, lam: float = WD_TORCH):
    """τ = 1/(η_group·λ) in steps, per parameter group and width, at the baseline's seed-mean optimum η*.

    The group LR is η*·(the group's Adam multiplier at that width): hidden matrices η*/m under μP, the
    embedding and readout η*. Also the gains' τ = 1/η_gain (their Adam LR is η* at every width).
    """
    p = chapter_plan(scale)
    opt = optima(fin)
    b = opt[opt["ablation"] == "baseline"].set_index("d_model")
    rows = []
    for w in p.widths:
        eta = 2.0 ** float(b.loc[w, "opt_log2_lr"]) if w in b.index else float("nan")
        r = rules("mup", w / p.base_d_model, init_std=p.init_std)
        for grp in ("embedding", "hidden", "readout"):
            tau = 1.0 / (eta * r[grp].adam_lr_mult * lam)
            rows.append({"d_model": w, "group": grp, "mechanism": f"weight decay λ={lam:g}", "eta_group":
                         eta * r[grp].adam_lr_mult, "tau_steps": tau, "run_lengths": tau / p.total_steps})
        rows.append({"d_model": w, "group": "vector (gains)", "mechanism": "trainable gains",
                     "eta_group": eta, "tau_steps": 1.0 / eta, "run_lengths": 1.0 / eta / p.total_steps})
    return pd.DataFrame(rows)

