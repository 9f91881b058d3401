"""Chapter 5's cost: what sharing a stable phase saves (:func:`ledger`), the plan's estimated hours
(:func:`plan_summary`), and a stage's cost from the records' measured seconds per step (:func:`stage_cost`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelab.experiments.chinchilla.claims import EXP_FIT, EXP_HELDOUT, EXP_STABLE
from scalelab.experiments.chinchilla.design import chapter_plan, num_params, plan, stage_plans
from scalelab.sweep import estimated_seconds


def seconds_per_step(records: list[dict]) -> dict[int, float]:
    """Measured seconds per optimizer step by width (median over the records' meta.seconds; evaluation included)."""
    per: dict = {}
    for r in records:
        sec = r.get("meta", {}).get("seconds")
        c = r["config"]
        steps = c["total_steps"] - (c.get("init_step") or 0)
        if sec and steps > 0:
            per.setdefault(int(c["model"]["d_model"]), []).append(sec / steps)
    return {d: float(np.median(v)) for d, v in per.items()}


def stage_cost(records: list[dict], scale: str, stage: str = "controls", seed: int = 0) -> pd.DataFrame:
    """Runs, steps and estimated process-hours of a stage, from measured per-step seconds of the records (the
    nearest measured width where a width has none). Existing trunks that need new checkpoints are retrained once
    to their last new branch point ("trunk recreation"), which is counted too."""
    sps = seconds_per_step(records)
    if not sps:
        raise ValueError("no records with meta.seconds: nothing to estimate the cost from")
    widths = np.array(sorted(sps))

    def rate(d: int) -> float:
        return sps[int(widths[np.argmin(np.abs(np.log(widths / d)))])]

    specs = stage_plans(scale, seed)[stage]
    have = {r.get("config_key") for r in records}
    rows: dict = {}
    trunks: dict = {}
    for sp in specs:
        c = sp.config
        steps = c.total_steps - c.init_step
        r = rows.setdefault(sp.experiment, {"part": sp.experiment, "runs": 0, "steps": 0, "process_hours": 0.0,
                                            "recorded": 0})
        r["runs"] += 1
        r["steps"] += steps
        r["process_hours"] += steps * rate(c.model.d_model) / 3600
        r["recorded"] += sp.config_key in have
        if c.init_from is not None and c.init_from in have:  # a branch of a first-stage trunk: its checkpoint is new
            trunks[c.init_from] = max(trunks.get(c.init_from, (0, 0))[0], c.init_step), c.model.d_model
    if trunks:
        steps = sum(t for t, _ in trunks.values())
        rows["trunk recreation"] = {"part": "trunk recreation", "runs": 0, "steps": steps, "recorded": 0,
                                    "process_hours": sum(t * rate(d) for t, d in trunks.values()) / 3600}
    df = pd.DataFrame(list(rows.values()), columns=["part", "runs", "steps", "process_hours", "recorded"])
    total = {"part": "total", "runs": int(df["runs"].sum()), "steps": int(df["steps"].sum()),
             "process_hours": float(df["process_hours"].sum()), "recorded": int(df["recorded"].sum())}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def ledger(scale: str, seed: int = 0) -> pd.DataFrame:
    """Compute per size: what the shared stable run plus branches cost vs training every point from scratch.

    Columns: d_model, n_layer, N, branches, steps_shared (stable + branch cooldowns), steps_scratch
    (Σ T over the branches), flops_shared, flops_scratch, saving (1 − shared/scratch).
    """
    p = chapter_plan(scale)
    rows = []
    specs = plan(scale, seed)
    for s in specs:
        if s.experiment != EXP_STABLE:
            continue
        m = s.config.model
        kids = [b for b in specs if b.config.init_from == s.config_key]
        shared = s.config.total_steps + sum(b.config.total_steps - b.config.init_step for b in kids)
        scratch = sum(b.config.total_steps for b in kids)
        n = num_params(m.d_model, m.n_layer, p.seq_len)
        rows.append({"d_model": m.d_model, "n_layer": m.n_layer, "N": n, "branches": len(kids),
                     "steps_shared": shared, "steps_scratch": scratch,
                     "flops_shared": 6.0 * n * p.tokens_per_step * shared,
                     "flops_scratch": 6.0 * n * p.tokens_per_step * scratch,
                     "saving": 1.0 - shared / scratch})
    return pd.DataFrame(rows)


def plan_summary(scale: str) -> pd.DataFrame:
    """Runs, steps and estimated hours of each part at ``scale``."""
    specs = plan(scale)
    dev = "gpu" if scale == "gpu" else "cpu"
    rows = []
    for exp in (EXP_STABLE, EXP_FIT, EXP_HELDOUT):
        sub = [s for s in specs if s.experiment == exp]
        steps = [s.config.total_steps - s.config.init_step for s in sub]
        rows.append({"part": exp, "runs": len(sub), "steps_min": min(steps, default=0),
                     "steps_max": max(steps, default=0), "steps_total": sum(steps),
                     "est_hours": sum(estimated_seconds(s.config, dev) for s in sub) / 3600})
    return pd.DataFrame(rows)


def _unit_cost_hours(records: list[dict], experiment: str) -> float | None:
    """Mean measured process-hours of one record of ``experiment`` (meta.seconds), or None without records."""
    secs = [r.get("meta", {}).get("seconds") for r in records if r["experiment"] == experiment]
    secs = [x for x in secs if x]
    return float(np.mean(secs)) / 3600 if secs else None
