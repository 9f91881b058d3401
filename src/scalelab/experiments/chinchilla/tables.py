"""Chapter 5's records as tables: the cooldown endpoints (three N and FLOP conventions), the stable runs' curves,
the per-size curves of approach 1, the held-out budget's best runs, and the interval of an exponent through
per-budget optima."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelab.experiments.chinchilla.claims import EXP_DENSE, EXP_FIT, EXP_HELDOUT, EXP_STABLE
from scalelab.experiments.chinchilla.design import chapter_plan
from scalelab.flops import chinchilla_flops_per_token
from scalelab.optimum import optimum_1d
from scalelab.resample import array_interval
from scalelab.train import TrainConfig


def endpoints(records: list[dict], scale: str) -> pd.DataFrame:
    """One row per cooldown branch record: role, budget, size, N (three conventions), D, C, loss.

    N is the trainer's total count (``result.num_params.total``); D = total_steps · tokens_per_step
    (the branch's endpoint has seen its parent's tokens too); C = 6·N·D; ``C_exact`` is Hoffmann et
    al.'s App. F count (:func:`scalelab.flops.chinchilla_flops`) for the same tokens.
    """
    p = chapter_plan(scale)
    budgets = np.array(list(p.budgets) + [p.heldout_budget])
    rows = []
    for r in records:
        if r["experiment"] not in (EXP_FIT, EXP_HELDOUT, EXP_DENSE):
            continue
        cfg = TrainConfig.from_dict(r["config"])
        m = cfg.model
        res = r["result"]
        n = float(res["num_params"]["total"])
        d = float(cfg.total_steps * cfg.tokens_per_step)
        c = 6.0 * n * d
        nominal = (float(budgets[np.argmin(np.abs(np.log(budgets / c)))]) if r["experiment"] == EXP_FIT else
                   p.heldout_budget if r["experiment"] == EXP_HELDOUT else np.nan)
        fpt = chinchilla_flops_per_token(n_layer=m.n_layer, d_model=m.d_model, n_head=m.d_model // 16, d_head=16,
                                         d_ff=4 * m.d_model, vocab_size=m.vocab_size, seq_len=m.seq_len)
        loss = res.get("final_eval_loss")
        n_ne = float(res["num_params"].get("non_embedding", np.nan))
        rows.append({"role": r["experiment"], "budget": nominal, "d_model": m.d_model, "n_layer": m.n_layer,
                     "N": n, "N_nonemb": n_ne, "D": d, "C": c, "C_nonemb": 6.0 * n_ne * d,
                     "C_exact": fpt * d, "status": res["status"],
                     "loss": float(loss) if loss is not None else np.nan, "steps": cfg.total_steps,
                     "init_step": cfg.init_step, "seed": cfg.seed})
    cols = ["role", "budget", "d_model", "n_layer", "N", "N_nonemb", "D", "C", "C_nonemb", "C_exact", "status",
            "loss", "steps", "init_step", "seed"]
    return pd.DataFrame(rows, columns=cols).sort_values(["role", "budget", "N"]).reset_index(drop=True)


def stable_curves(records: list[dict]) -> pd.DataFrame:
    """The stable (constant-LR) runs' held-out loss curves: run, N, tokens, flops (6ND), loss."""
    rows = []
    for r in records:
        if r["experiment"] != EXP_STABLE or r["result"]["status"] != "finished":
            continue
        n = float(r["result"]["num_params"]["total"])
        ev = r["result"]["eval_curve"]
        for t, l in zip(ev["tokens"], ev["loss"]):
            if t > 0 and l is not None and np.isfinite(l):
                rows.append({"run": r["config_key"][:12] if "config_key" in r else r["key"][:12], "N": n,
                             "tokens": float(t), "flops": 6.0 * n * float(t), "loss": float(l)})
    return pd.DataFrame(rows, columns=["run", "N", "tokens", "flops", "loss"])


def endpoint_curves(ep: pd.DataFrame, flops_col: str = "C") -> pd.DataFrame:
    """Cooldown endpoints of the fitted budgets (and the dense ``envelope`` branches, once recorded) as per-size
    curves for approach 1."""
    sub = ep[ep.role.isin([EXP_FIT, EXP_DENSE]) & (ep.status == "finished")]
    out = pd.DataFrame({"run": sub["d_model"].astype(str) + "x" + sub["n_layer"].astype(str), "N": sub["N"],
                        "tokens": sub["D"], "flops": sub[flops_col], "loss": sub["loss"]})
    return out.sort_values(["run", "flops"]).reset_index(drop=True)


def _slope(xy: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on x for a stack of point sets: (..., m, 2) → (...)."""
    x, y = xy[..., 0], xy[..., 1]
    xc = x - x.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * (y - y.mean(axis=-1, keepdims=True))).sum(axis=-1) / (xc * xc).sum(axis=-1)


def vertex_interval(optima: pd.DataFrame, n_col: str = "N_opt", *, seed: int = 0, n_boot: int = 2000):
    """The interval of the exponent a of N_opt ∝ C^a through per-budget IsoFLOP vertices, resampling budgets.

    A budget's vertex depends only on that budget's grid points, so drawing vertices draws budgets with all their
    points. Under 5 budgets the interval is a jackknife t interval with (budgets − 1) degrees of freedom
    (:mod:`scalelab.resample`), not a bootstrap of a handful of vertices.
    """
    xy = np.column_stack([np.log(optima["C"].to_numpy(float)), np.log(optima[n_col].to_numpy(float))])
    return array_interval(xy, _slope, unit="budget", vectorized=True, seed=seed, n_boot=n_boot)


def _fit_table(ep: pd.DataFrame) -> pd.DataFrame:
    return ep[(ep.role == EXP_FIT) & (ep.status == "finished")].reset_index(drop=True)


def heldout_best(ep: pd.DataFrame) -> pd.DataFrame:
    """Per seed at the held-out budget: the lowest loss over its sizes, its N, and the grid vertex of log2 N
    (:func:`scalelab.optimum.optimum_1d`, the book's one optimum rule)."""
    held = ep[(ep.role == EXP_HELDOUT) & (ep.status == "finished")]
    rows = []
    for sd, g in held.groupby("seed"):
        g = g.groupby("N", as_index=False)["loss"].mean().sort_values("N")
        j = int(np.argmin(g["loss"].to_numpy()))
        row = {"seed": int(sd), "sizes": len(g), "best_loss": float(g["loss"].iloc[j]), "best_N": float(g["N"].iloc[j]),
               "vertex_N": np.nan, "vertex_interior": False}
        if len(g) >= 3:
            o = optimum_1d(np.log2(g["N"].to_numpy(float)), g["loss"].to_numpy(float))
            row.update(vertex_N=float(2.0 ** o.x_opt), vertex_interior=bool(o.interior and o.fitted))
        rows.append(row)
    return pd.DataFrame(rows, columns=["seed", "sizes", "best_loss", "best_N", "vertex_N", "vertex_interior"])
