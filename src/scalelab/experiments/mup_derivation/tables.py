"""Section 4's records as tables: one row per run, the loss cube, optima and curves per width, seed noise and cost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.experiments.mup_derivation.claims import MIN_SEEDS, MIN_STEPS, MIN_WIDTH_RATIO
from scalelab.optimum import optimum_1d


def loss_table(records: list[dict]):
    """One row per run: parametrization, d_model, log2_lr, seed, status, loss (NaN if diverged)."""
    rows = []
    for r in records:
        c, res = r["config"], r["result"]
        loss = res.get("final_eval_loss")
        rows.append({
            "parametrization": c["model"]["parametrization"], "d_model": c["model"]["d_model"],
            "base_d_model": c["model"]["base_d_model"], "log2_lr": round(math.log2(c["lr"]), 6),
            "seed": c["seed"], "status": res["status"], "steps": res["steps"], "tokens": res["tokens"],
            "total_steps": c["total_steps"], "seconds": float((r.get("meta") or {}).get("seconds") or float("nan")),
            "loss": float(loss) if (loss is not None and res["status"] == "finished") else float("nan"),
        })
    return pd.DataFrame(rows)


def loss_cube(records: list[dict], parametrization: str):
    """(widths, log2 LRs, seeds, losses[seed, width, lr]) of one parametrization; NaN where diverged or missing."""
    df = loss_table(records)
    g = df[df["parametrization"] == parametrization]
    W, x, S = (np.sort(g[c].unique()) for c in ("d_model", "log2_lr", "seed"))
    L = np.full((len(S), len(W), len(x)), np.nan)
    L[np.searchsorted(S, g["seed"]), np.searchsorted(W, g["d_model"]), np.searchsorted(x, g["log2_lr"])] = g["loss"]
    return W, x, S, L


def optimum_table(records: list[dict]):
    """Optimal log2 LR per (parametrization, width) by :func:`scalelab.optimum.optimum_1d`: of the seed-mean curve,
    and per seed.

    A diverged seed makes the mean at that LR NaN (that LR is unusable, a diverged point of the grid). Columns:
    parametrization, d_model, log2_lr_opt, lr_opt, loss_opt, interior, fitted, reason, seed_opt_mean,
    seed_opt_std (spread of the per-seed optima, log2 units), n_seeds.
    """
    rows = []
    for param in dict.fromkeys(loss_table(records)["parametrization"]):
        W, x, S, L = loss_cube(records, param)
        for j, d in enumerate(W):
            o = optimum_1d(x, L[:, j].mean(axis=0))
            ps = np.array([optimum_1d(x, L[i, j]).x_opt for i in range(len(S))])
            ps = ps[np.isfinite(ps)]
            rows.append({"parametrization": param, "d_model": int(d), "log2_lr_opt": o.x_opt, "lr_opt": 2.0 ** o.x_opt,
                         "loss_opt": o.loss_at_opt, "interior": bool(o.interior), "fitted": bool(o.fitted),
                         "reason": o.reason, "seed_opt_mean": float(ps.mean()) if len(ps) else float("nan"),
                         "seed_opt_std": float(ps.std(ddof=1)) if len(ps) > 1 else float("nan"), "n_seeds": len(S)})
    return pd.DataFrame(rows)


def curve_table(records: list[dict]):
    """Seed mean and standard error of the final loss per (parametrization, width, LR), for the figure.

    A cell where any seed diverged has a NaN mean, as in :func:`optimum_table` (that LR is unusable).
    """
    df = loss_table(records)
    agg = df.groupby(["parametrization", "d_model", "log2_lr"])["loss"].agg(["mean", "std", "count", "size"])
    agg.loc[agg["count"] < agg["size"], ["mean", "std"]] = np.nan
    agg["se"] = agg["std"] / np.sqrt(agg["count"])
    return agg.drop(columns="size").reset_index()


def seed_noise(records: list[dict]) -> float:
    """Pooled standard deviation of the final loss across seeds (nats/byte) over all finished cells."""
    df = loss_table(records)
    var = df.groupby(["parametrization", "d_model", "log2_lr"])["loss"].var(ddof=1).dropna()
    return float(math.sqrt(var.mean())) if len(var) else float("nan")



def seed_hours(records: list[dict]) -> float:
    """Process-hours of one more seed of the LR-transfer grid (both parametrizations), from the records' seconds."""
    df = loss_table(records)
    n = df["seed"].nunique()
    return float(df["seconds"].sum()) / max(n, 1) / 3600.0 if len(df) else float("nan")



def transfer_resolvable(records: list[dict]) -> bool:
    """Whether the LR-transfer records meet the verdict minimums (width span, steps, seeds)."""
    lt = loss_table(records)
    w = sorted(lt["d_model"].unique())
    return bool(w[-1] / w[0] >= MIN_WIDTH_RATIO and int(lt["total_steps"].min()) >= MIN_STEPS
                and int(lt.groupby(["parametrization", "d_model", "log2_lr"])["seed"].nunique().min()) >= MIN_SEEDS)


