"""Chapter 2's cost: runs, tokens and estimated process-hours per ablation and per stage."""

from __future__ import annotations

import pandas as pd

from scalelab.runner import estimated_seconds

from .design import ablations, chapter_plan, lr_grid, plan, stage_plans


def plan_summary(scale: str):
    """One row per ablation: claim, the delta, runs, steps, tokens per run, LR grid, estimated hours."""
    p = chapter_plan(scale)
    dev = "gpu" if scale == "gpu" else "cpu"
    specs = plan(scale)
    cache: dict = {}
    rows = {}
    for s in specs:
        c = s.config
        key = (c.model, c.batch_size, c.total_steps, c.eval_tokens)
        if key not in cache:
            cache[key] = estimated_seconds(c, dev)
        r = rows.setdefault(s.experiment, {"runs": 0, "sec": 0.0, "steps": c.total_steps, "batch": c.batch_size,
                                           "tokens_per_run": c.num_tokens})
        r["runs"] += 1
        r["sec"] += cache[key]
    out = []
    for name, a in ablations(scale).items():
        g = lr_grid(scale, name)
        r = rows[name]
        out.append({"ablation": name, "claim": a.claim or "—", "paper": a.paper or "—", "layout": a.layout,
                    "delta": ", ".join(f"{k}={v}" for k, v in a.changes.items())
                    or (f"batch ×{a.batch_mult:g} ({p.batch_hold} fixed)" if a.batch_mult != 1 else "—"),
                    "runs": r["runs"], "steps": r["steps"], "batch": r["batch"], "tokens_per_run": r["tokens_per_run"],
                    "lr_grid": f"2^{g[0]:g} … 2^{g[-1]:g}", "est_hours": r["sec"] / 3600})
    df = pd.DataFrame(out)
    total = {"ablation": "total", "claim": "", "paper": "", "layout": "", "delta": f"widths {p.widths}, "
             f"{p.seeds} seeds", "runs": int(df["runs"].sum()), "steps": "", "batch": "", "tokens_per_run": "",
             "lr_grid": "", "est_hours": float(df["est_hours"].sum())}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)



def stage_summary(scale: str, seed: int = 0, seconds: dict | None = None):
    """Runs and estimated process-hours of each stage: measured mean seconds per run per width from the first
    stage's records when given (``seconds``: {d_model: s per 500-step run}), scaled by steps."""
    p = chapter_plan(scale)
    rows = []
    for name, specs in stage_plans(scale, seed).items():
        sec = 0.0
        for sp in specs:
            c = sp.config
            per = (seconds or {}).get(c.model.d_model, float("nan"))
            sec += per * c.total_steps / p.total_steps * c.batch_size / p.batch_size
        rows.append({"stage": name, "runs": len(specs), "process_hours": sec / 3600.0})
    return pd.DataFrame(rows)
