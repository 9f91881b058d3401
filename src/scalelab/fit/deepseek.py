"""DeepSeek LLM's hyperparameter scaling laws: η_opt(C) and B_opt(C) from near-optimal configs.

DeepSeek-AI, "DeepSeek LLM: Scaling Open-Source Language Models with Longtermism", arXiv
2401.02954, §3.1 (Fig. 3): per compute budget, a grid of (batch size, learning rate) configs is
trained; every config whose loss is within 0.25% of the budget's best counts as near-optimal,
and η_opt = 0.3118·C^−0.1250 and B_opt = 0.2920·C^0.3271 (B in tokens) are fitted through
them. Used by chapter 4 (``04_deepseek_lr_batch.ipynb``); the book writes the batch as B_tok.

Which points enter the fit (stated so the chapter can say it): every near-optimal config of every
budget, pooled, one point per config — (C, lr) for η_opt and (C, batch_tokens) for B_opt —
fitted by unweighted least squares in log–log (:func:`scalelab.fit.fit_power_law`). A budget
thus weighs as many times as it has near-optimal configs. CIs are percentile intervals from
resampling those points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scalelab.fit._common import FitInputError, TableResult, as_positive_array, require_columns
from scalelab.fit.powerlaw import PowerLawFit, fit_power_law

NEAR_OPTIMAL_COLUMNS = ("flops", "batch_tokens", "lr", "loss")


@dataclass(frozen=True)
class NearOptimalResult(TableResult):
    """η_opt(C) = k_η·C^p_η and B_opt(C) = k_B·C^p_B fitted through near-optimal configs.

    Attributes:
        eta: the learning-rate law (:class:`PowerLawFit`).
        batch: the batch-size law in tokens per step (:class:`PowerLawFit`).
        points: the near-optimal configs that entered both fits (``flops, batch_tokens, lr,
            loss, best_loss, excess``; excess = loss/best_loss − 1).
        best: the best config of each budget.
        band: the relative band (0.0025 = 0.25%).
    """

    eta: PowerLawFit
    batch: PowerLawFit
    points: pd.DataFrame = field(repr=False)
    best: pd.DataFrame = field(repr=False)
    band: float = 0.0025

    def eta_opt(self, C):
        """Near-optimal peak learning rate at compute C (FLOPs)."""
        return self.eta(C)

    def batch_opt(self, C):
        """Near-optimal batch size at compute C, in tokens per step."""
        return self.batch(C)

    def rows(self):
        return [("eta_k", self.eta.k, self.eta.k_ci), ("eta_p", self.eta.p, self.eta.p_ci),
                ("batch_k", self.batch.k, self.batch.k_ci), ("batch_p", self.batch.p, self.batch.p_ci),
                ("points", float(len(self.points)), None), ("budgets", float(len(self.best)), None)]

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["band"] = self.band
        d["points"] = self.points.to_dict(orient="list")
        return d


def near_optimal_fit(table: pd.DataFrame, *, band: float = 0.0025, bootstrap: int = 1000,
                     seed: int = 0) -> NearOptimalResult:
    """DeepSeek's procedure: power laws through the configs within ``band`` of each budget's best.

    Args:
        table: one row per trained config, columns ``flops`` (the budget C; rows with the same
            value form one budget), ``batch_tokens`` (tokens per optimizer step), ``lr`` (peak
            learning rate), ``loss`` (final eval loss, > 0).
        band: a config is near-optimal when loss ≤ (1 + band)·best loss of its budget.
        bootstrap: point resamples for the CIs (0: none).
        seed: resampling seed.

    Returns:
        A :class:`NearOptimalResult`.

    Raises:
        FitInputError: missing columns, NaN or non-positive values, fewer than 2 budgets, or
            near-optimal points that all share one budget.
    """
    require_columns(table, NEAR_OPTIMAL_COLUMNS, "near_optimal_fit")
    if not band >= 0:
        raise ValueError(f"band must be >= 0 (a relative loss margin), got {band!r}")
    df = table.loc[:, list(NEAR_OPTIMAL_COLUMNS)].copy()
    for col in NEAR_OPTIMAL_COLUMNS:
        df[col] = as_positive_array(col, df[col].to_numpy())
    if df["flops"].nunique() < 2:
        raise FitInputError(f"near_optimal_fit needs at least 2 compute budgets, got {df['flops'].nunique()}")
    df["best_loss"] = df.groupby("flops")["loss"].transform("min")
    df["excess"] = df["loss"] / df["best_loss"] - 1.0
    pts = df[df["loss"] <= df["best_loss"] * (1.0 + band)].sort_values(["flops", "loss"]).reset_index(drop=True)
    best = df.loc[df.groupby("flops")["loss"].idxmin()].reset_index(drop=True)
    bs = bootstrap if len(pts) >= 3 else 0
    eta = fit_power_law(pts["flops"], pts["lr"], bootstrap=bs, seed=seed)
    batch = fit_power_law(pts["flops"], pts["batch_tokens"], bootstrap=bs, seed=seed)
    return NearOptimalResult(eta=eta, batch=batch, points=pts, best=best, band=band)
