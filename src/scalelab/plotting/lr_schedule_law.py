"""Figures of chapter 6 (``notebooks/06_lr_schedule_law.ipynb``): predicted against measured loss curves, and the
prediction error per schedule family."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from scalelab.experiments.lr_schedule_law.claims import LAW_LABELS, LAWS


def curves(runs, fits, log2_lr: float, budget: int, schedules=("cosine→10%", "multistep", "WSD .2 1-sqrt",
                                                                    "WSD .2 linear"), min_step: int = 0):
    """Measured held-out loss (dots) and each law's prediction (lines) for a few schedules at one LR and budget."""
    fig, axes = plt.subplots(1, len(LAWS), figsize=(11, 3.8), sharey=True)
    sel = runs[np.isclose(runs["log2_lr"], log2_lr) & (runs["budget"] == budget) & (runs["seed"] == 0)]
    for ax, law in zip(axes, LAWS):
        f = fits.get((law, 2.0 ** log2_lr)) or next((v for (k, lr), v in fits.items()
                                                     if k == law and math.isclose(math.log2(lr), log2_lr)), None)
        for i, sch in enumerate(schedules):
            row = sel[sel["schedule"] == sch]
            if row.empty or f is None:
                continue
            c = row["curve"].iloc[0]
            steps = np.arange(max(min_step, 1), len(c.multipliers) + 1, max(1, len(c.multipliers) // 200))
            ax.plot(steps, f.law.predict(c.multipliers, steps, c.warmup_steps), color=f"C{i}", label=sch)
            ax.plot(c.steps, c.loss, "o", color=f"C{i}", ms=3)
        ax.set_title(LAW_LABELS[law], fontsize=10)
        ax.set_xlabel("step $s$")
    axes[0].set_ylabel("held-out loss $L(s)$ (nats/byte)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"peak LR $2^{{{log2_lr:g}}}$, budget {budget} steps: lines predicted, dots measured", fontsize=10)
    fig.tight_layout()
    return fig


def errors(table, tau: float):
    """Mean signed final-loss error (predicted − measured) per held-out schedule family and law, with ±τ."""
    fig, ax = plt.subplots(figsize=(8, 4))
    fams = sorted(table["schedule"].unique())
    y = np.arange(len(fams))
    for j, law in enumerate(LAWS):
        d = table[table["law"] == law].set_index("schedule").reindex(fams)
        ax.barh(y + 0.4 * j - 0.2, d["mean_error"], height=0.4, label=law)
    if np.isfinite(tau):
        ax.axvspan(-tau, tau, color="grey", alpha=0.15, label="±τ (seed noise)")
    ax.set_yticks(y, fams)
    ax.set_xlabel("mean error of the final loss, predicted − measured (nats/byte)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def virtual(table):
    """Chapter 5's cooldowns: predicted (virtual) against measured final loss, one colour per size."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for i, (d, g) in enumerate(table.groupby("d_model")):
        ax.plot(g["measured"], g["predicted"], "o" if not g["in_fit"].all() else "s", color=f"C{i}",
                label=f"d {d}")
    lo, hi = table[["measured", "predicted"]].min().min(), table[["measured", "predicted"]].max().max()
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("measured cooldown loss (nats/byte)")
    ax.set_ylabel("virtual cooldown loss (nats/byte)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
