"""Chapter 4's records → tables: the grid of runs, the fit rows, the noise at the grid centres, the loss surfaces
and their optima, the redesign's cells, the compute measures and the comparison with DeepSeek's laws.

Every function here is pure: it reads only the records or frames it is given.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalelab.fit import near_optimal_fit
from scalelab.optimum import optimum_2d
from scalelab.scales import validate_scale
from scalelab.store import config_key
from scalelab.units import BPE_VOCAB_SIZE

from .claims import (
    BAND,
    DEEPSEEK_FIT_FLOPS,
    EXP_GRID,
    EXP_HELDOUT,
    EXP_NOISE,
    EXP_RIDGE,
    EXP_RIDGE_HELDOUT,
    MEASURES,
    NOISE_Z,
    SURFACE_NEIGHBOURS,
    VERSION,
    deepseek_batch,
    deepseek_eta,
)
from .design import budget_of, chapter_plan, prior_budgets, ridge_plan_of, scale_measures

# ----------------------------------------------------------------------------- tables from records


def grid_table(records: list[dict], scale: str) -> pd.DataFrame:
    """One row per first-stage record of this scale's budgets (grid, noise and held-out runs; the ridge stage's
    records, at the same widths, belong to :func:`ridge_table` and never enter this one).

    Columns: experiment, d_model, budget (fitted/held-out), flops (nominal C = M·D), flops_run
    (M × tokens the run asked for), batch_tokens (B_tok), lr, batch_exp, lr_exp, seed, steps,
    status, loss (NaN when diverged), centre (the config is its budget's grid centre), config_key.
    """
    by_d = {b.d_model: b for b in prior_budgets(scale)}
    rows = []
    for r in records:
        if r.get("version", VERSION) != VERSION:  # superseded designs stay in the store, unused
            continue
        if r["experiment"] not in (EXP_GRID, EXP_NOISE, EXP_HELDOUT):
            continue
        c = r["config"]
        d = int(c["model"]["d_model"])
        if d not in by_d:
            continue
        b = by_d[d]
        b_tok = int(c["batch_size"]) * int(c["model"]["seq_len"])
        loss = r["result"].get("final_eval_loss")
        finished = r["result"].get("status") == "finished" and loss is not None and math.isfinite(loss)
        be, le = math.log2(b_tok), math.log2(float(c["lr"]))
        rows.append({
            "experiment": r["experiment"], "d_model": d, "budget": "held-out" if b.heldout else "fitted",
            "flops": b.flops, "flops_run": b.m * b_tok * int(c["total_steps"]), "batch_tokens": b_tok,
            "lr": float(c["lr"]), "batch_exp": be, "lr_exp": le, "seed": int(c["seed"]),
            "steps": int(c["total_steps"]), "status": r["result"].get("status"),
            "loss": float(loss) if finished else float("nan"),
            "centre": bool(abs(be - b.centre[0]) < 1e-9 and abs(le - b.centre[1]) < 1e-9),
            "config_key": config_key(r["experiment"], r.get("version", VERSION), c),
        })
    cols = ["experiment", "d_model", "budget", "flops", "flops_run", "batch_tokens", "lr", "batch_exp", "lr_exp",
            "seed", "steps", "status", "loss", "centre", "config_key"]
    return pd.DataFrame(rows, columns=cols)


def fit_table(grid: pd.DataFrame, *, heldout: bool = False) -> pd.DataFrame:
    """The rows DeepSeek's fit sees: one finished grid run per config (flops, batch_tokens, lr, loss)."""
    exp = EXP_HELDOUT if heldout else EXP_GRID
    g = grid[(grid["experiment"] == exp) & grid["loss"].notna()]
    return g[["flops", "batch_tokens", "lr", "loss", "d_model", "batch_exp", "lr_exp"]].reset_index(drop=True)


def noise_table(grid: pd.DataFrame) -> pd.DataFrame:
    """Per fitted budget: the seeds at the grid centre, their mean loss, SD and SD relative to the mean."""
    rows = []
    g = grid[(grid["budget"] == "fitted") & grid["centre"] & grid["experiment"].isin([EXP_GRID, EXP_NOISE])]
    for (d, C), h in g.groupby(["d_model", "flops"]):
        losses = h["loss"].dropna().to_numpy()
        n = len(losses)
        sd = float(np.std(losses, ddof=1)) if n >= 2 else float("nan")
        mean = float(losses.mean()) if n else float("nan")
        rows.append({"d_model": int(d), "flops": float(C), "seeds": n, "mean_loss": mean, "sd": sd,
                     "rel_sd": sd / mean if n >= 2 else float("nan"),
                     "range_rel": float(np.ptp(losses) / mean) if n >= 2 else float("nan")})
    return pd.DataFrame(rows, columns=["d_model", "flops", "seeds", "mean_loss", "sd", "rel_sd", "range_rel"])


def pooled_rel_sd(noise: pd.DataFrame, grid: pd.DataFrame) -> float:
    """Pooled within-budget SD of loss/mean (all budgets' centre seeds); NaN without ≥2 seeds anywhere."""
    g = grid[(grid["budget"] == "fitted") & grid["centre"] & grid["experiment"].isin([EXP_GRID, EXP_NOISE])]
    ss, dof = 0.0, 0
    for _, h in g.groupby("flops"):
        x = h["loss"].dropna().to_numpy()
        if len(x) >= 2:
            ss += float(((x / x.mean() - 1.0) ** 2).sum())
            dof += len(x) - 1
    return math.sqrt(ss / dof) if dof else float("nan")


def effective_band(rel_sd: float) -> float:
    """The noise-widened band max(BAND, NOISE_Z·SD): a config within seed noise of the best counts too."""
    return BAND if not math.isfinite(rel_sd) else max(BAND, NOISE_Z * rel_sd)


def with_measure(table: pd.DataFrame, scale: str, measure: str) -> pd.DataFrame:
    """The fit table with ``flops`` recomputed as measure × D (D of the budget, per token measure)."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; valid: {', '.join(MEASURES)}")
    p = chapter_plan(scale)
    by_d = {b.d_model: b for b in prior_budgets(scale)}
    out = table.copy()
    out["flops"] = [scale_measures(int(d), p.n_layer, p.seq_len)[measure] * by_d[int(d)].num_tokens
                    for d in out["d_model"]]
    return out


def near_optimal_fit_table(grid: pd.DataFrame, scale: str, *, band: float = BAND):
    """DeepSeek's grid-counting point fit (measure M, no resampling) on the fitted budgets of ``grid``: kept only
    because it placed the first held-out grid's centre (the placement must not move), never for a verdict."""
    return near_optimal_fit(with_measure(fit_table(grid), scale, "M"), band=band, bootstrap=0)


def as_grid(records_or_grid, scale: str) -> pd.DataFrame:
    """``records_or_grid`` as a :func:`grid_table` frame (a frame is returned as it is)."""
    return records_or_grid if isinstance(records_or_grid, pd.DataFrame) else grid_table(records_or_grid, scale)


# ----------------------------------------------------------------------------- surfaces (issue 19)
SURFACE_COLUMNS = ["d_model", "budget", "flops", "log2_B_opt", "log2_eta_opt", "loss_opt", "fitted", "interior",
                   "B_span_oct", "eta_span_oct", "wide_oct", "inside_window", "reason", "optimum"]


def _surface_rows(cells: pd.DataFrame, neighbours: int) -> pd.DataFrame:
    """One :func:`scalelab.optimum.optimum_2d` per budget of ``cells`` (d_model, budget, flops, batch_exp,
    lr_exp, loss; NaN loss = diverged)."""
    rows = []
    for (d, kind, C), h in cells.groupby(["d_model", "budget", "flops"], sort=True):
        o = optimum_2d(h["batch_exp"], h["lr_exp"], h["loss"], neighbours=neighbours, band=BAND,
                       axes=("log2 B_tok", "log2 η"))
        span = [float("nan"), float("nan")] if o.band_extent is None else [hi - lo for lo, hi in o.band_extent]
        rows.append({"d_model": int(d), "budget": kind, "flops": float(C), "log2_B_opt": o.x_opt[0],
                     "log2_eta_opt": o.x_opt[1], "loss_opt": o.loss_at_opt, "fitted": o.fitted,
                     "interior": o.interior, "B_span_oct": span[0], "eta_span_oct": span[1],
                     "wide_oct": float(np.nanmax(span)) if np.isfinite(span).any() else float("nan"),
                     "inside_window": o.band_inside_window, "reason": o.reason, "optimum": o})
    out = pd.DataFrame(rows, columns=SURFACE_COLUMNS)
    return out.sort_values(["budget", "flops"], ascending=[False, True]).reset_index(drop=True)


def surface_table(grid: pd.DataFrame, scale: str) -> pd.DataFrame:
    """First stage: per budget (fitted, then held-out), the optimum of its (log2 B_tok, log2 η) loss surface by
    :func:`scalelab.optimum.optimum_2d` on the grid runs (seed ``seed``; the noise seeds are not grid cells),
    its 0.25% contour's extent along each axis (octaves) and why the rule did what it did."""
    validate_scale(scale)
    g = grid[grid["experiment"].isin([EXP_GRID, EXP_HELDOUT])]
    return _surface_rows(g, SURFACE_NEIGHBOURS)


def ridge_table(records: list[dict], scale: str) -> pd.DataFrame:
    """Stage "ridge": one row per record (d_model, budget, flops, batch_exp, lr_exp, seed, loss, seconds)."""
    rp = ridge_plan_of(scale)
    if rp is None:
        return pd.DataFrame(columns=["d_model", "budget", "flops", "batch_exp", "lr_exp", "seed", "loss"])
    rows = []
    for r in records:
        if r["experiment"] not in (EXP_RIDGE, EXP_RIDGE_HELDOUT) or r.get("version", VERSION) != VERSION:
            continue
        c = r["config"]
        d = int(c["model"]["d_model"])
        loss = r["result"].get("final_eval_loss")
        ok = r["result"].get("status") == "finished" and loss is not None and math.isfinite(loss)
        rows.append({"d_model": d, "budget": "held-out" if r["experiment"] == EXP_RIDGE_HELDOUT else "fitted",
                     "flops": budget_of(scale, d, False).flops,
                     "batch_exp": math.log2(int(c["batch_size"]) * int(c["model"]["seq_len"])),
                     "lr_exp": math.log2(float(c["lr"])), "seed": int(c["seed"]),
                     "loss": float(loss) if ok else float("nan")})
    return pd.DataFrame(rows, columns=["d_model", "budget", "flops", "batch_exp", "lr_exp", "seed", "loss"])


def ridge_surface_table(records: list[dict], scale: str) -> pd.DataFrame:
    """Stage "ridge": :func:`surface_table`'s columns from the seed-mean loss of every cell (a cell where a seed
    diverged counts as diverged), with the stage's wider window (``RidgePlan.neighbours``)."""
    t = ridge_table(records, scale)
    cells = t.groupby(["d_model", "budget", "flops", "batch_exp", "lr_exp"], as_index=False)["loss"].agg(
        lambda x: float(x.mean()) if x.notna().all() else float("nan"))
    return _surface_rows(cells, ridge_plan_of(scale).neighbours)


def measure_table(scale: str) -> pd.DataFrame:
    """M, 6N₁ and 6N₂ per token for the chapter's models and their ratios (DeepSeek Table 3)."""
    p = chapter_plan(scale)
    rows = []
    for b in prior_budgets(scale):
        ms = scale_measures(b.d_model, p.n_layer, p.seq_len)
        rows.append({"d_model": b.d_model, "budget": "held-out" if b.heldout else "fitted", **ms,
                     "6N1/M": ms["6N1"] / ms["M"], "6N2/M": ms["6N2"] / ms["M"]})
    return pd.DataFrame(rows)


def measure_comparison(scale: str) -> pd.DataFrame:
    """C4.5's arithmetic: M, 6N₁, 6N₂ per token and their ratios at this chapter's shapes and where they differ.

    Rows: the scale's fitted widths (byte vocabulary, 256), the same shapes with a BPE vocabulary of
    :data:`scalelab.units.BPE_VOCAB_SIZE` (where 6N₂ ≠ M), and the gpu plan's shapes (longer context).
    """
    rows = []
    cases = [(scale, 256, "bytes"), (scale, BPE_VOCAB_SIZE, "BPE vocabulary"), ("gpu", 256, "gpu shape, bytes")]
    seen = set()
    for sc, vocab, label in cases:
        p = chapter_plan(sc)
        rp = ridge_plan_of(sc)
        widths = sorted(set(p.widths) | set(rp.widths if rp else ()))
        for d in widths:
            if (sc, vocab, d) in seen:
                continue
            seen.add((sc, vocab, d))
            ms = scale_measures(d, p.n_layer, p.seq_len, vocab)
            rows.append({"shape": f"{label} (n_layer {p.n_layer}, seq_len {p.seq_len}, vocab {vocab})",
                         "d_model": d, **ms, "6N1/M": ms["6N1"] / ms["M"], "6N2/M": ms["6N2"] / ms["M"]})
    return pd.DataFrame(rows)


def versus_deepseek(surf: pd.DataFrame) -> pd.DataFrame:
    """Per budget (held-out included): the surface optimum against DeepSeek's two laws at the same C = M·D.

    ``B_octaves`` and ``eta_octaves`` are log2(ours / DeepSeek's): negative means our optimum lies below the
    published law.
    """
    rows = []
    for r in surf.itertuples():
        if not math.isfinite(r.log2_B_opt):
            continue
        law_b, law_eta = float(deepseek_batch(r.flops)), float(deepseek_eta(r.flops))
        rows.append({"d_model": r.d_model, "budget": r.budget, "flops": r.flops, "B_tok_opt": 2 ** r.log2_B_opt,
                     "deepseek_B_tok": law_b, "B_octaves": r.log2_B_opt - math.log2(law_b),
                     "eta_opt": 2.0 ** r.log2_eta_opt, "deepseek_lr": law_eta,
                     "eta_octaves": r.log2_eta_opt - math.log2(law_eta)})
    return pd.DataFrame(rows)


def fit_range_ratio(surf: pd.DataFrame) -> dict[str, float]:
    """Where DeepSeek's fit range lies against ours: their smallest budget over our largest, and their largest
    over our smallest (the factor the laws are extrapolated down by)."""
    f = surf[surf["budget"] == "fitted"]["flops"]
    return {"ours_min": float(f.min()), "ours_max": float(f.max()),
            "low_ratio": DEEPSEEK_FIT_FLOPS[0] / float(f.max()), "high_ratio": DEEPSEEK_FIT_FLOPS[1] / float(f.min())}


