"""Chapter 4's cost: the plan's budgets, grids, runs and estimated hours, and the redesign's estimate scaled by
the measured seconds of the chapter's records. Pure: the caller passes the records (None: no records).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.runner import RunSpec, estimated_seconds
from scalelab.train import TrainConfig

from .claims import EXP_HELDOUT, VERSION
from .design import budget_of, chapter_plan, ridge_plan_of, train_config
from .stages import budgets, plan, ridge_centres, ridge_plan
from .tables import grid_table


def seconds_per_run_model(records: list[dict]) -> float:
    """Measured over estimated seconds (median over the records with ``meta.seconds``): the factor that turns
    :func:`scalelab.sweep.estimated_seconds` into this machine's measured per-run seconds."""
    ratios = []
    for r in records:
        s = (r.get("meta") or {}).get("seconds")
        if s and r.get("version") == VERSION:
            ratios.append(float(s) / estimated_seconds(TrainConfig.from_dict(r["config"]), "cpu"))
    return float(np.median(ratios)) if ratios else float("nan")


def ridge_summary(scale: str, seed: int = 0, records: list[dict] | None = None) -> pd.DataFrame:
    """One row per redesigned budget: width, C, C / smallest C, runs, estimated process-hours (the sweep's
    estimate scaled by the measured/estimated seconds of ``records``; with none, the sweep's estimate itself);
    a total row last. The centres are placed on ``records`` (:func:`ridge_centres`; None: no records)."""
    records = [] if records is None else records
    factor = seconds_per_run_model(records)
    specs = ridge_plan(scale, seed, records)
    rp = ridge_plan_of(scale)
    if rp is None:
        return pd.DataFrame()
    centres = ridge_centres(scale, records, seed)
    C0 = budget_of(scale, rp.widths[0], False).flops
    rows = []
    for d in (*rp.widths, rp.heldout_width):
        mine = [s for s in specs if s.config.model.d_model == d]
        est = sum(estimated_seconds(s.config, "cpu") for s in mine)
        C = budget_of(scale, d, False).flops
        rows.append({"budget": "held-out" if d == rp.heldout_width else "fitted", "d_model": d, "C=M·D": C,
                     "C / C_min": C / C0, "centre log2 B_tok": centres[d][0], "centre log2 η": centres[d][1],
                     "runs": len(mine), "est_process_hours": est * factor / 3600 if math.isfinite(factor) else
                     est / 3600})
    df = pd.DataFrame(rows)
    total = {"budget": "total", "runs": int(df["runs"].sum()),
             "est_process_hours": float(df["est_process_hours"].sum())}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def plan_summary(scale: str, seed: int = 0, records: list[dict] | None = None) -> pd.DataFrame:
    """One row per budget: model, tokens, C, grid, runs, steps and estimated hours; a total row last.

    The held-out row shows the grid placed on the fitted laws' prediction once ``records`` hold the first stage;
    before that (and with ``records=None``, no records), the a-priori grid (published laws plus offsets), for the
    cost estimate only.
    """
    p = chapter_plan(scale)
    records = [] if records is None else records
    specs = plan(scale, seed, records=records)
    bs = budgets(scale, grid_table(records, scale)) if records else budgets(scale)
    rows = []
    for b in bs:
        mine = [s for s in specs if s.config.model.d_model == b.d_model]
        if not mine:  # the held-out grid is not placed yet: estimate it on the a-priori grid
            mine = [RunSpec(EXP_HELDOUT, train_config(scale, b, be, le, seed), VERSION) for be, le in b.nodes]
        steps = [s.config.total_steps for s in mine]
        rows.append({
            "budget": "held-out" if b.heldout else "fitted", "d_model": b.d_model, "n_layer": p.n_layer,
            "seq_len": p.seq_len, "N1": 12 * p.n_layer * b.d_model ** 2, "M": b.m, "D": b.num_tokens,
            "C=M·D": b.flops,
            "B_tok grid": f"2^{b.batch_exps[0]}…2^{b.batch_exps[-1]} ({len(b.batch_exps)})",
            "η grid": f"2^{b.all_lr_exps[0]:g}…2^{b.all_lr_exps[-1]:g} ({len(b.lr_exps)} per B_tok"
                      + (f", +{b.lr_slope:g} octave per B_tok octave)" if b.lr_slope else ")"),
            "runs": len(mine), "steps": f"{min(steps)}…{max(steps)}",
            "grid placed": ("on the fitted laws' prediction"
                            + (f", +{b.extended} column (best in an end column)" if b.extended else "")
                            if b.predicted else
                            "a priori (estimate; placed after the fitted budgets)" if b.heldout else
                            "published laws + offsets"),
            "est_hours": sum(estimated_seconds(s.config, "gpu" if scale == "gpu" else "cpu") for s in mine) / 3600,
        })
    df = pd.DataFrame(rows)
    total = {"budget": "total", "runs": int(df["runs"].sum()), "est_hours": float(df["est_hours"].sum())}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)
