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
resampling those points. Chapter 4 keeps this procedure only to place its first held-out grid (as it was
placed); its verdicts use :func:`optimum_law`.

:func:`optimum_law` is the book's replacement (issue: grid counting cannot resolve a 0.25% band
when grid cells are an octave apart): one optimum per budget, the vertex of a quadratic surface
fitted to that budget's grid (:func:`scalelab.optimum.optimum_2d`), and a power law through those
optima by least squares in log2–log2, with its interval from resampling *budgets*
(:func:`scalelab.resample.array_interval`: a t interval below five budgets, a bootstrap from five).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelab.fit._common import FitInputError, TableResult, as_positive_array, require_columns
from scalelab.fit.powerlaw import PowerLawFit, fit_power_law
from scalelab.resample import Interval, array_interval

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


# ----------------------------------------------------------------------------- laws through surface optima


def ols_line(x, y):
    """Least-squares line y = a + p·x along the last axis (any leading axes: one fit per row).

    Returns:
        ``(p, a, residual_sd)``: slope, intercept and the residual SD with n − 2 degrees of freedom (NaN
        below 3 points or when x does not vary).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.shape[-1]
    xm, ym = x.mean(-1, keepdims=True), y.mean(-1, keepdims=True)
    sxx = ((x - xm) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(sxx > 0, ((x - xm) * (y - ym)).sum(-1) / np.where(sxx > 0, sxx, 1.0), np.nan)
        a = ym[..., 0] - p * xm[..., 0]
        res = y - (a[..., None] + p[..., None] * x)
        rsd = np.sqrt((res ** 2).sum(-1) / (n - 2)) if n > 2 else np.full(np.shape(p), np.nan)
    return p, a, rsd


@dataclass(frozen=True)
class OptimumLaw:
    """opt(C) = k·C^p fitted through one optimum per budget (log2 units), its exponent's interval over budgets.

    Attributes:
        p: the exponent (slope of log2 opt on log2 C).
        k: the coefficient (2^intercept).
        interval: the exponent's :class:`scalelab.resample.Interval` (unit: budget).
        residual_sd: the residual SD about the line, in octaves (n − 2 degrees of freedom).
        n: budgets.
    """

    p: float
    k: float
    interval: Interval
    residual_sd: float
    n: int

    @property
    def se(self) -> float:
        """The exponent's standard error over budgets."""
        return float(self.interval.se)

    def __call__(self, C):
        """The law at compute C (FLOPs)."""
        return self.k * np.asarray(C, dtype=float) ** self.p

    def log2_at(self, C) -> np.ndarray:
        """log2 of the law at C."""
        return np.log2(self.k) + self.p * np.log2(np.asarray(C, dtype=float))


def optimum_law(flops, log2_opt, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> OptimumLaw:
    """A power law through per-budget optima, the exponent's interval resampling budgets.

    Args:
        flops: compute C of each budget (FLOPs, > 0).
        log2_opt: log2 of each budget's optimum (e.g. the vertex of its loss surface).
        level: the interval's confidence level.
        n_boot: bootstrap resamples (from five budgets on).
        seed: resampling seed.

    Returns:
        An :class:`OptimumLaw`; with a non-finite optimum anywhere its numbers are NaN (nothing is dropped
        silently).

    Raises:
        FitInputError: mismatched lengths, non-positive compute, or fewer than 2 budgets.
    """
    C = np.asarray(flops, dtype=float).ravel()
    y = np.asarray(log2_opt, dtype=float).ravel()
    if C.shape != y.shape:
        raise FitInputError(f"flops has {C.size} values and log2_opt {y.size}: one optimum per budget")
    if C.size < 2:
        raise FitInputError(f"optimum_law needs at least 2 budgets, got {C.size}")
    if not (np.isfinite(C).all() and (C > 0).all()):
        raise FitInputError("flops must be finite and > 0")
    values = np.stack([np.log2(C), y], axis=1)  # one row per budget: a resample draws whole budgets
    iv = array_interval(values, lambda a: ols_line(a[..., 0], a[..., 1])[0], unit="budget", level=level,
                        n_boot=n_boot, seed=seed, vectorized=True)
    p, a, rsd = ols_line(values[:, 0], values[:, 1])
    return OptimumLaw(p=float(p), k=float(2.0 ** a), interval=iv, residual_sd=float(rsd), n=int(C.size))
