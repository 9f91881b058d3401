"""Figures of chapter 2 (μ-transfer ablations); one function per figure, each returns the figure.

Inputs are the frames of :mod:`scalelab.experiments.mu_transfer_ablations` (``finals``, ``optima``,
``shifts``).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np


def _plt():

    return plt


def lr_sweeps(fin, opt, labels: dict[str, str] | None = None, ncols: int = 4):
    """Small multiples: held-out loss against log2 η, one panel per ablation, one curve per width.

    Lines are seed means (over LRs where every seed finished), dots single seeds, crosses at the top of
    a panel mark diverged runs, and a vertical tick marks each width's fitted optimum η*.
    """
    plt = _plt()
    present = set(fin["ablation"])
    # panels in the order of ``labels`` (the chapter's ablation order), then any others in record order
    names = [n for n in (labels or {}) if n in present] + [n for n in dict.fromkeys(fin["ablation"])
                                                          if n not in (labels or {})]
    widths = sorted(fin["d_model"].unique())
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows), constrained_layout=True,
                             squeeze=False)
    cmap = plt.get_cmap("viridis")
    colors = {w: cmap(i / max(1, len(widths) - 1) * 0.85) for i, w in enumerate(widths)}
    for ax, name in zip(axes.flat, names):
        d = fin[fin["ablation"] == name]
        finite = d["loss"].dropna()
        top = float(finite.quantile(0.9)) if len(finite) else 1.0
        lo = float(finite.min()) if len(finite) else 0.0
        for w in widths:
            g = d[d["d_model"] == w]
            if g.empty:
                continue
            ax.plot(g["log2_lr"], g["loss"], ".", color=colors[w], alpha=0.35, ms=4)
            m = g.groupby("log2_lr")["loss"].apply(lambda x: x.mean() if x.notna().all() else np.nan)
            ax.plot(m.index, m.values, "-", color=colors[w], lw=1.4, label=f"d={w}")
            div = g[g["loss"].isna()]["log2_lr"].unique()
            ax.plot(div, [top] * len(div), "x", color=colors[w], ms=5)
            o = opt[(opt["ablation"] == name) & (opt["d_model"] == w)]
            if len(o) and np.isfinite(o["opt_log2_lr"].iloc[0]):
                ax.axvline(o["opt_log2_lr"].iloc[0], color=colors[w], lw=0.8, ls=":")
        ax.set_ylim(lo - 0.02 * max(top - lo, 1e-3), top + 0.05 * max(top - lo, 1e-3))
        ax.set_title((labels or {}).get(name, name), fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes[-1, :]:
        ax.set_xlabel(r"$\log_2 \eta$ (base LR)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("held-out loss (nats/byte)", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    return fig


def shift_summary(sh, transfer_delta: float = 0.25, break_claimed: float = 0.5):
    """Effect of each ablation on the optimum, relative to its baseline, per doubling of width, with its interval.

    The statistic is slope(log2 η* vs log2 width) of the ablation minus that of its baseline (octaves per
    doubling; the intervals resample seeds jointly across widths). The shaded band is "transfers" (±
    ``transfer_delta``); dashed lines mark ±``break_claimed``, the smallest break Lingle's grid could show.
    Hollow markers: some optimum of the arm sits at a grid edge.
    """
    plt = _plt()
    sh = sh[~sh["ablation"].isin(["baseline", "baseline_nhead"])]  # their effect is 0 by construction
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(sh) + 1.2), constrained_layout=True)
    y = np.arange(len(sh))[::-1]
    ax.axvspan(-transfer_delta, transfer_delta, color="C2", alpha=0.1)
    for x in (-break_claimed, break_claimed):
        ax.axvline(x, color="C3", ls="--", lw=0.8)
    for yi, (_, r) in zip(y, sh.iterrows()):
        lo, hi = r["effect_lo"], r["effect_hi"]
        xerr = [[r["effect"] - lo], [hi - r["effect"]]] if np.isfinite(lo) and np.isfinite(hi) else None
        c = "C3" if r["paper"] == "breaks" else ("C2" if r["paper"] == "transfers" else "C7")
        ax.errorbar(r["effect"], yi, xerr=xerr, fmt="o", color=c, mfc="none" if r["edge"] else c, capsize=3)
    ax.set_yticks(y, [f"{r['label']} ({r['claim']})" if r["claim"] else r["label"] for _, r in sh.iterrows()],
                  fontsize=8)
    ax.set_xlabel(r"effect on $\log_2 \eta^*$ vs baseline (octaves per doubling of width, 95% interval)")
    ax.grid(alpha=0.3, axis="x")
    return fig
