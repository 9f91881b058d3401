"""Figures of chapter 4 (DeepSeek's B_tok and η laws); one function per figure, each returns the figure.

Inputs are the frames and fits of :mod:`scalelab.experiments.deepseek_lr_batch` (``heldout`` from its
:func:`~scalelab.experiments.deepseek_lr_batch.heldout_comparison`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from scalelab.experiments import deepseek_lr_batch as ch


def _plt():

    return plt


def heatmaps(grid, scale: str, *, band: float = 0.0025, heldout: dict | None = None):
    """Final loss over (log2 B_tok, log2 η) per budget (DeepSeek Fig. 3), near-optimal cells outlined.

    ★ marks the best config, × the grid centre (DeepSeek's laws at that C plus the plan's offsets; on the
    held-out panel the fitted laws' prediction rounded to the grid), ○ on the held-out panel the unrounded
    prediction and □ the naive rule's config (``heldout`` from ``heldout_comparison``).
    """

    plt = _plt()
    bs = ch.budgets(scale, grid)
    step = ch.chapter_plan(scale).lr_step
    fig, axes = plt.subplots(1, len(bs), figsize=(3.3 * len(bs), 3.6), constrained_layout=True, squeeze=False)
    for ax, b in zip(axes[0], bs):
        t = ch.fit_table(grid, heldout=b.heldout)
        t = t[t["d_model"] == b.d_model]
        rows = np.array(b.all_lr_exps)  # a diagonal grid leaves the corners empty (white)
        mat = np.full((len(rows), len(b.batch_exps)), np.nan)
        for r in t.itertuples():
            i = int(np.argmin(np.abs(rows - r.lr_exp)))
            j = int(np.argmin(np.abs(np.array(b.batch_exps) - r.batch_exp)))
            mat[i, j] = r.loss
        extent = (b.batch_exps[0] - 0.5, b.batch_exps[-1] + 0.5, rows[0] - step / 2, rows[-1] + step / 2)
        im = ax.imshow(mat, origin="lower", aspect="auto", extent=extent, cmap="viridis_r")
        if len(t):
            best = t["loss"].min()
            for r in t[t["loss"] <= best * (1 + band)].itertuples():
                ax.add_patch(Rectangle((r.batch_exp - 0.5, r.lr_exp - step / 2), 1.0, step, fill=False,
                                       edgecolor="red", lw=1.8))
            rb = t.loc[t["loss"].idxmin()]
            ax.plot(rb["batch_exp"], rb["lr_exp"], "*", color="white", ms=12, mec="k")
        ax.plot(*b.centre, "x", color="k", ms=8)
        if b.heldout and heldout:
            ax.plot(*heldout["pred"], "o", mfc="none", mec="magenta", ms=12, mew=2)
            ax.plot(*heldout["naive"], "s", mfc="none", mec="orange", ms=10, mew=2)
        ax.set_title(f"{'held-out ' if b.heldout else ''}d={b.d_model}, C={b.flops:.2g}", fontsize=9)
        ax.set_xlabel(r"$\log_2 B_\mathrm{tok}$ (tokens/step)")
        fig.colorbar(im, ax=ax, shrink=0.8, label="loss (nats/byte)")
    axes[0][0].set_ylabel(r"$\log_2 \eta$ (peak LR)")
    return fig


def laws(surf, fitted_laws, *, heldout: dict | None = None):
    """η_opt(C) and B_opt(C): one surface optimum per budget, our laws through them, DeepSeek's laws (log–log)."""
    plt = _plt()
    f = surf[surf["budget"] == "fitted"]
    h = surf[surf["budget"] == "held-out"]
    xs = np.geomspace(float(surf["flops"].min()) / 1.5, float(surf["flops"].max()) * 1.5, 100)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for ax, key, col, ds, name in ((axes[0], "eta", "log2_eta_opt", ch.deepseek_eta, r"\eta_\mathrm{opt}"),
                                   (axes[1], "batch", "log2_B_opt", ch.deepseek_batch, r"B_\mathrm{tok,opt}")):
        law = fitted_laws[key]
        iv = law.interval
        ax.scatter(f["flops"], 2.0 ** f[col], c="C0", s=30, label=f"surface optima ({len(f)} budgets)")
        ax.plot(xs, law(xs), "C0-", label=f"ours: ${name}={law.k:.3g}\\,C^{{{law.p:.3f}}}$ "
                f"(95% [{iv.lo:.2f}, {iv.hi:.2f}] over budgets)")
        pub = ch.published_laws()[key]
        ax.plot(xs, ds(xs), "k--", label=f"DeepSeek: ${pub['coef']}\\,C^{{{pub['exp']}}}$")
        if len(h):
            ax.plot(h["flops"], 2.0 ** h[col], "*", color="magenta", ms=12, label="held-out: surface optimum")
        if heldout:
            j = 1 if key == "eta" else 0
            ax.plot(heldout["C_heldout"], 2.0 ** heldout["pred"][j], "o", mfc="none", mec="magenta", ms=10, mew=2,
                    label="held-out: laws' prediction")
            ax.plot(heldout["C_heldout"], 2.0 ** heldout["naive"][j], "s", mfc="none", mec="orange", ms=9, mew=2,
                    label="held-out: naive rule")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"compute $C = M\cdot D$ (FLOPs)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel(r"peak learning rate $\eta$")
    axes[1].set_ylabel(r"batch size $B_\mathrm{tok}$ (tokens/step)")
    return fig


def measures(table):
    """Per-token FLOPs M, 6N₁, 6N₂ against d_model (log–log, left) and the ratios 6N/M (right)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for m, style in (("M", "k-o"), ("6N1", "C0-s"), ("6N2", "C1-^")):
        axes[0].plot(table["d_model"], table[m], style, label=m)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel(r"$d_\mathrm{model}$")
    axes[0].set_ylabel("FLOPs per token")
    axes[0].legend()
    for m, style in (("6N1/M", "C0-s"), ("6N2/M", "C1-^")):
        axes[1].plot(table["d_model"], table[m], style, label=m)
    axes[1].axhline(1.0, color="k", lw=0.8)
    axes[1].set_xscale("log")
    axes[1].set_xlabel(r"$d_\mathrm{model}$")
    axes[1].set_ylabel("ratio to M")
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    return fig


def noise(grid, *, band: float = 0.0025):
    """Seed-to-seed spread at each grid centre, as loss / seed mean − 1, beside the ±band."""
    plt = _plt()
    g = grid[(grid["budget"] == "fitted") & grid["centre"] & grid["experiment"].isin([ch.EXP_GRID, ch.EXP_NOISE])]
    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    ds = sorted(g["d_model"].unique())
    for i, d in enumerate(ds):
        x = g[g["d_model"] == d]["loss"].dropna().to_numpy()
        if len(x):
            ax.plot(np.full(len(x), i), 100 * (x / x.mean() - 1), "o", color="C0")
    ax.axhspan(-100 * band, 100 * band, color="red", alpha=0.2, label=f"±{band:.2%} band")
    ax.set_xticks(range(len(ds)), [f"d={d}" for d in ds])
    ax.set_ylabel("loss / seed mean − 1 (%)")
    ax.set_xlabel("budget (model width)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
