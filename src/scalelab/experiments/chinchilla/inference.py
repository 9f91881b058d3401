"""Part C of chapter 5, beyond compute-optimal: the inference-aware allocation of Sardana et al.
(arXiv 2401.00448), which minimises training plus inference FLOPs at a target loss."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar


def tokens_for_loss(params: dict, n: float, target_loss: float) -> float:
    """D such that L(N, D) = target (inf when N alone cannot reach it)."""
    gap = target_loss - params["E"] - params["A"] / n ** params["alpha"]
    if gap <= 0:
        return math.inf
    return (params["B"] / gap) ** (1.0 / params["beta"])


def inference_optimal(params: dict, target_loss: float, inference_tokens: float) -> dict:
    """N, D minimising 6·N·D + 2·N·D_inf subject to L(N, D) = target (Sardana et al. arXiv 2401.00448 §2).

    Args:
        params: E, A, B, alpha, beta of L(N, D) = E + A/N^α + B/D^β.
        target_loss: the loss to reach (> E).
        inference_tokens: lifetime inference tokens D_inf (≥ 0); each costs 2·N FLOPs.

    Returns:
        dict with N, D, tokens_per_param, train_flops, inference_flops, total_flops.

    Raises:
        ValueError: when the target is at or below the irreducible loss E.
    """
    if not target_loss > params["E"]:
        raise ValueError(f"target_loss {target_loss} must exceed the irreducible loss E={params['E']}")
    if inference_tokens < 0:
        raise ValueError("inference_tokens must be >= 0")
    # smallest N that can reach the target with infinite data
    n_min = (params["A"] / (target_loss - params["E"])) ** (1.0 / params["alpha"])

    def cost(logn):
        n = math.exp(logn)
        d = tokens_for_loss(params, n, target_loss)
        return math.log(6.0 * n * d + 2.0 * n * inference_tokens) if math.isfinite(d) else 1e300

    lo, hi = math.log(n_min) + 1e-9, math.log(n_min) + 40.0
    xs = np.linspace(lo + 1e-6, hi, 400)
    j = int(np.argmin([cost(x) for x in xs]))
    res = minimize_scalar(cost, bounds=(xs[max(j - 1, 0)], xs[min(j + 1, len(xs) - 1)]), method="bounded",
                          options={"xatol": 1e-10})
    n = math.exp(res.x)
    d = tokens_for_loss(params, n, target_loss)
    return {"N": n, "D": d, "tokens_per_param": d / n, "train_flops": 6.0 * n * d,
            "inference_flops": 2.0 * n * inference_tokens, "total_flops": 6.0 * n * d + 2.0 * n * inference_tokens}


def inference_curve(params: dict, target_loss: float, inference_tokens) -> pd.DataFrame:
    """:func:`inference_optimal` over a grid of D_inf, with the compute-optimal (D_inf = 0) point's N for scale."""
    base = inference_optimal(params, target_loss, 0.0)
    rows = []
    for di in inference_tokens:
        r = inference_optimal(params, target_loss, float(di))
        rows.append({"inference_tokens": float(di), **r, "N_over_chinchilla": r["N"] / base["N"],
                     "total_over_chinchilla": r["total_flops"] / (base["train_flops"] + 2 * base["N"] * float(di))})
    return pd.DataFrame(rows)
