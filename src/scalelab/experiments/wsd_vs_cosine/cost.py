"""Chapter 3's compute: the plan's size and cost, and the ledger of what each protocol spent.

The ledger (:func:`ledger`) counts, from the records, the optimizer steps, tokens, FLOPs and wall time each
protocol needs for the whole budget curve: cosine one run per budget, WSD the stable run up to the largest
cooldown start plus the cooldowns; :func:`closed_form_steps` is its closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.experiments.wsd_vs_cosine.claims import DEFAULT_FRAC, DEFAULT_SHAPE
from scalelab.experiments.wsd_vs_cosine.design import _is_control_record, _seed0, branch_start, chapter_plan, plan
from scalelab.runner import EVAL_FACTOR, estimated_seconds


# ----------------------------------------------------------------------------- cost
def plan_summary(scale: str, seed: int = 0):
    """Runs, optimizer steps (incl. evaluation work in step-equivalents) and estimated hours per protocol.

    Hours from :func:`scalelab.sweep.estimated_seconds` (the reference machine's measured speed on cpu,
    a rough guess on gpu).
    """
    p = chapter_plan(scale)
    rows = {}
    for s in plan(scale, seed):
        c = s.config
        steps = c.total_steps - c.init_step
        n_eval = (len(range(c.init_step + 1, c.total_steps + 1)) // c.eval_every if c.eval_every else 0) + 1
        eval_equiv = n_eval * c.eval_tokens * EVAL_FACTOR / c.tokens_per_step
        r = rows.setdefault(s.experiment, {"protocol": s.experiment, "runs": 0, "steps": 0, "eval_step_equiv": 0.0,
                                           "est_hours": 0.0})
        r["est_hours"] += estimated_seconds(c, "gpu" if scale == "gpu" else "cpu") / 3600
        r["runs"] += 1
        r["steps"] += steps
        r["eval_step_equiv"] += eval_equiv
    df = pd.DataFrame(list(rows.values()))
    total = {"protocol": "total", "runs": int(df["runs"].sum()), "steps": int(df["steps"].sum()),
             "eval_step_equiv": float(df["eval_step_equiv"].sum()), "est_hours": float(df["est_hours"].sum())}
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    df["tokens_per_step"] = p.batch_size * p.seq_len
    return df


# ----------------------------------------------------------------------------- ledger
def closed_form_steps(budgets, frac: float = DEFAULT_FRAC, warmup: int = 0) -> dict:
    """Optimizer steps to obtain every budget: cosine ΣB; WSD the stable run to the largest cooldown
    start plus the cooldowns (exactly (1−f)·B_max + f·ΣB up to rounding of the cooldown lengths)."""
    budgets = sorted(budgets)
    starts = [branch_start(b, warmup, frac) for b in budgets]
    return {"cosine": int(sum(budgets)), "wsd": int(max(starts) + sum(b - s for b, s in zip(budgets, starts)))}


def ledger(records: list[dict], scale: str, budgets=None):
    """Compute spent per protocol to obtain the whole budget curve, from what the trainer processed.

    One row per (protocol, LR) of the plan's first seed, and a total over the grid: steps, tokens,
    FLOPs, wall seconds; the stable run is counted up to the largest cooldown start (the steps the
    protocol needs; the rest of it only serves the constant-LR comparison). ``closed_form_steps``
    is the formula of :func:`closed_form_steps`. ``budgets`` restricts the curve to a subset of the
    plan's budgets (default: all).
    """
    p = chapter_plan(scale)
    if not records:
        return pd.DataFrame()
    budgets = tuple(sorted(budgets if budgets is not None else p.budgets))
    seed0 = min(r["config"]["seed"] for r in records)
    by_ckey = {r.get("config_key"): r for r in records if r["config"]["seed"] == seed0}
    recs = [r for r in by_ckey.values() if r["experiment"] == "constant" or r["config"]["total_steps"] in budgets]
    cf = closed_form_steps(budgets, DEFAULT_FRAC, p.warmup_steps)
    rows = []
    for lr in sorted({r["config"]["lr"] for r in recs}):
        cos = [r for r in recs if r["experiment"] == "cosine" and r["config"]["lr"] == lr]
        br = [r for r in recs if r["experiment"] == "wsd" and r["config"]["lr"] == lr
              and math.isclose(r["config"]["decay_frac"], DEFAULT_FRAC) and r["config"]["decay_shape"] == DEFAULT_SHAPE]
        for prot, runs in (("cosine", cos), ("wsd", br)):
            steps = sum(r["result"]["steps"] for r in runs)
            tokens = sum(r["result"]["tokens"] for r in runs)
            flops = sum(r["result"]["flops"] for r in runs)
            wall = sum(r["result"]["wall_s"] for r in runs)
            finished = all(r["result"]["status"] == "finished" for r in runs) and len(runs) == len(budgets)
            if prot == "wsd" and runs:
                parent = by_ckey.get(runs[0]["config"]["init_from"])
                if parent is None:
                    finished = False
                else:
                    need = max(r["config"]["init_step"] for r in runs)
                    pres = parent["result"]
                    share = need / max(pres["steps"], 1)
                    steps += need
                    tokens += round(pres["tokens"] * share)
                    flops += pres["flops"] * share
                    wall += pres["wall_s"] * share
            rows.append({"protocol": prot, "lr": lr, "log2_lr": math.log2(lr), "runs": len(runs) + (prot == "wsd"),
                         "steps": steps,
                         "tokens": tokens, "flops": flops, "wall_s": wall, "closed_form_steps": cf[prot],
                         "complete": finished})
    return pd.DataFrame(rows)


def ledger_totals(led):
    """The ledger summed over the LR grid (complete LRs only), one row per protocol, with the ratio."""
    if led.empty:
        return pd.DataFrame()
    ok = led.groupby("lr")["complete"].all()
    d = led[led["lr"].isin(ok[ok].index)]
    t = d.groupby("protocol")[["steps", "tokens", "flops", "wall_s", "closed_form_steps"]].sum()
    t["n_lrs"] = d.groupby("protocol")["lr"].nunique()
    if {"cosine", "wsd"} <= set(t.index):
        t["fraction_of_cosine"] = t["steps"] / t.loc["cosine", "steps"]
    return t.reset_index()


def saving_curve(scale: str, n_max: int = 16, frac: float = DEFAULT_FRAC):
    """Closed-form compute of both protocols as the number of budgets n grows (steps, relative to
    one run of the smallest budget), for budgets spaced linearly (B_i = i·B_1) and geometrically
    (B_i = 2^{i−1}·B_1, as in this chapter). WSD: (1−f)·B_max + f·ΣB."""
    rows = []
    for spacing in ("linear", "geometric"):
        for n in range(1, n_max + 1):
            bs = [i for i in range(1, n + 1)] if spacing == "linear" else [2.0 ** (i - 1) for i in range(1, n + 1)]
            cos = float(sum(bs))
            wsd = (1 - frac) * max(bs) + frac * cos
            rows.append({"spacing": spacing, "n_budgets": n, "cosine": cos, "wsd": wsd, "ratio": wsd / cos})
    return pd.DataFrame(rows)


def measured_saving(records: list[dict], scale: str):
    """C_WSD / C_cos for the first n of the chapter's budgets, n = 1…len: closed form, and measured from
    the records (steps and wall time over the LR grid)."""
    p = chapter_plan(scale)
    rows = []
    for n in range(1, len(p.budgets) + 1):
        bs = sorted(p.budgets)[:n]
        cf = closed_form_steps(bs, DEFAULT_FRAC, p.warmup_steps)
        row = {"n_budgets": n, "closed_form_ratio": cf["wsd"] / cf["cosine"], "measured_ratio": np.nan,
               "measured_wall_ratio": np.nan}
        tot = ledger_totals(ledger(records, scale, bs)) if records else pd.DataFrame()
        if len(tot) and "fraction_of_cosine" in tot:
            t = tot.set_index("protocol")
            row["measured_ratio"] = float(t.loc["wsd", "fraction_of_cosine"])
            row["measured_wall_ratio"] = float(t.loc["wsd", "wall_s"] / t.loc["cosine", "wall_s"])
        rows.append(row)
    return pd.DataFrame(rows)


def unit_costs(records: list[dict]) -> dict:
    """Process-hours of one more unit, from the records' measured seconds: a seed (every run of the second
    seed) and a trunk (a first-seed stable run with its branches, averaged over the trunks)."""
    s0 = _seed0(records)

    def sec(r):
        return float((r.get("meta") or {}).get("seconds") or r["result"].get("wall_s") or 0.0)

    base = [r for r in records if not _is_control_record(r)]
    seed1 = sum(sec(r) for r in base if r["config"]["seed"] == s0 + 1)
    stables = [r for r in base if r["experiment"] == "constant" and r["config"]["seed"] == s0]
    keys = {r.get("config_key") for r in stables}
    trunk = (sum(sec(r) for r in stables) + sum(sec(r) for r in base if r["config"].get("init_from") in keys))
    return {"seed": seed1 / 3600 if seed1 else None, "trunk": trunk / len(stables) / 3600 if stables else None}
