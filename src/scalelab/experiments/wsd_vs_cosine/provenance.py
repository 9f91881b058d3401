"""How exactly a stable run's checkpoint can be recreated on this machine (the exponential-cooldown stage needs
checkpoints the committed stable runs saved elsewhere): the measurement ``scripts/checkpoint_recreation.py``
commits, as a table for the page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from scalelab.checks import RECREATED_TOL
from scalelab.paths import repo_root
from scalelab.scales import validate_scale

COLUMNS = ["log2 LR", "sha256 equal", "|Δ eval| at the step (nats)", "within tolerance", "eval steps compared"]


def recreation_path(scale: str) -> Path:
    """Where the measurement for ``scale`` lives (``results/measurements/checkpoint_recreation_<scale>.json``)."""
    return repo_root() / "results" / "measurements" / f"checkpoint_recreation_{validate_scale(scale)}.json"


def checkpoint_recreation(scale: str, path: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """(one row per stable run, the measurement's metadata); an empty table and ``{}`` where it was not made."""
    path = path if path is not None else recreation_path(scale)
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS), {}
    d = json.loads(path.read_text())
    rows = [{"log2 LR": r["log2_lr"], "sha256 equal": r["sha256_equal"],
             "|Δ eval| at the step (nats)": r["abs_diff_at_step"],
             "within tolerance": r["abs_diff_at_step"] is not None and r["abs_diff_at_step"] <= RECREATED_TOL,
             "eval steps compared": len(r["eval_steps"])} for r in d["runs"]]
    meta = {k: d[k] for k in ("step", "threads", "torch", "platform", "git_sha", "measured_at") if k in d}
    return pd.DataFrame(rows, columns=COLUMNS), meta


def recreation_values(scale: str, path: Path | None = None) -> dict:
    """Plain numbers for the page: runs measured, runs within tolerance, the largest gap, the smallest LR that
    misses (NaN where none does or nothing was measured)."""
    t, meta = checkpoint_recreation(scale, path)
    if t.empty:
        return {"recreated_runs": 0, "recreated_ok": 0, "recreated_worst": float("nan"),
                "recreated_first_miss_log2_lr": float("nan"), "recreated_step": float("nan")}
    miss = t[~t["within tolerance"]]
    return {"recreated_runs": int(len(t)), "recreated_ok": int(t["within tolerance"].sum()),
            "recreated_worst": float(t["|Δ eval| at the step (nats)"].max()),
            "recreated_first_miss_log2_lr": float(miss["log2 LR"].min()) if len(miss) else float("nan"),
            "recreated_step": float(meta.get("step", float("nan")))}
