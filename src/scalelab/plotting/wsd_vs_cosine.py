"""Figures of chapter 3 (WSD vs cosine); one function per figure, each returns the figure.

Inputs are the frames of :mod:`scalelab.experiments.wsd_vs_cosine`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from scalelab.experiments.wsd_vs_cosine.claims import DEFAULT_FRAC, DEFAULT_SHAPE, LABELS
from scalelab.experiments.wsd_vs_cosine.tables import pick

COLORS = {"cosine": "C0", "cosine_to_zero": "C9", "constant": "C7", "wsd": "C3", "multistep": "C2"}


def _plt():

    return plt


def schedules(curves):
    """LR multiplier η(t)/η_peak against the step: the four protocols (left), WSD variants (right)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True, sharey=True)
    names = list(dict.fromkeys(curves["schedule"]))
    main = [n for n in names if not n.startswith("WSD") or n == "WSD 20% 1-sqrt"]
    variants = [n for n in names if n.startswith("WSD")]
    for ax, group in ((axes[0], main), (axes[1], variants)):
        for n in group:
            g = curves[curves["schedule"] == n]
            ax.plot(g["step"], g["lr_mult"], label=n, lw=1.5)
        ax.set_xlabel("optimizer step $t$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(r"$\eta(t)/\eta_\mathrm{peak}$")
    axes[0].set_title("protocols")
    axes[1].set_title("WSD cooldowns (fraction, shape)")
    return fig


def loss_vs_tokens(curves):
    """Held-out loss against tokens: one cosine run per budget, the stable run and its cooldown branches."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.8), constrained_layout=True)
    if curves.empty:
        return fig
    tps = float((curves["tokens"] / curves["step"]).iloc[0])
    for prot, ls in (("cosine", "-"), ("constant", "-"), ("wsd", "-"), ("multistep", "--")):
        d = curves[curves["protocol"] == prot]
        for i, (_, g) in enumerate(d.groupby("budget")):
            x, y = list(g["tokens"]), list(g["loss"])
            if prot in ("wsd", "multistep"):
                st = curves[(curves["protocol"] == "constant")]
                start = int(g["start_step"].iloc[0])
                if len(st) and start in set(st["step"]):
                    x = [start * tps, *x]
                    y = [float(st.loc[st["step"] == start, "loss"].iloc[0]), *y]
            ax.plot(x, y, ls, color=COLORS[prot], lw=1.3 if prot != "constant" else 1.0,
                    marker="." if len(x) < 6 else None, label=g["label"].iloc[0] if i == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("tokens $D$ (bytes)")
    ax.set_ylabel("held-out loss $L$ (nats/byte)")
    # frame the cooldowns: from a quarter of the smallest budget on, up to the highest point a branch starts
    # from or a run ends at (the warmup's early losses would otherwise flatten every drop)
    first = float(curves["budget"].min()) * tps
    by_step = curves.sort_values("step", kind="stable")
    ends = by_step.groupby(["protocol", "budget"])["loss"].last()
    starts = by_step[by_step["step"] >= curves["budget"].min() * 0.75].groupby("protocol")["loss"].first()
    lo = float(np.nanmin(curves["loss"]))
    hi = float(np.nanmax([*ends.to_numpy(), *starts.to_numpy()]))
    pad = 0.05 * (hi - lo) if hi > lo else 0.05
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(left=first / 4)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("each protocol at its tuned peak LR")
    return fig


def final_loss(opt, sigma: float, tokens_per_step: int):
    """Best held-out loss (over the LR grid) against the budget, per protocol, with ±``sigma`` bars (the noise
    of one separately trained run); log–log. Cosine to zero appears once the controls stage is analysed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    err = sigma if np.isfinite(sigma) else 0.0
    for k, (prot, f, s) in enumerate((("cosine", None, None), ("constant", None, None),
                                      ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE), ("multistep", None, None),
                                      ("cosine_to_zero", None, None))):
        d = pick(opt, prot, f, s)
        if d.empty:
            continue
        x = d.index.to_numpy() * tokens_per_step * (1 + 0.02 * (k - 1.5))  # small offsets keep bars apart
        lab = LABELS[prot] + (" 20% 1−√" if prot == "wsd" else "")
        ax.errorbar(x, d["best_loss"], yerr=err, marker="o", capsize=3, color=COLORS[prot], label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("budget $D$ (tokens = bytes)")
    ax.set_ylabel(r"best held-out loss $L^*$ (nats/byte)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(r"tuned per schedule; bars: $\pm$ the noise of one run")
    return fig


def lr_sweeps(fin):
    """Final held-out loss against the peak LR, one panel per budget, seed-mean with seeds as dots."""
    plt = _plt()
    budgets = sorted(fin["budget"].unique())
    fig, axes = plt.subplots(1, len(budgets), figsize=(3.4 * len(budgets), 3.6), constrained_layout=True,
                             squeeze=False)
    f = fin[(fin["protocol"] != "wsd") | ((np.isclose(fin["decay_frac"].fillna(-1), DEFAULT_FRAC))
                                          & (fin["decay_shape"] == DEFAULT_SHAPE))]
    for ax, b in zip(axes[0], budgets):
        for prot in ("cosine", "cosine_to_zero", "constant", "wsd", "multistep"):
            g = f[(f["budget"] == b) & (f["protocol"] == prot)]
            if g.empty:
                continue
            m = g.groupby("lr")["loss"].mean()
            ax.plot(m.index, m.values, "-o", ms=3, color=COLORS[prot], label=LABELS[prot])
            ax.plot(g["lr"], g["loss"], ".", color=COLORS[prot], alpha=0.35, ms=3)
        ax.set_xscale("log", base=2)
        ax.set_title(f"B = {b} steps", fontsize=10)
        ax.set_xlabel(r"peak LR $\eta$")
        ax.grid(alpha=0.3, which="both")
        finite = f.loc[f["budget"] == b, "loss"]
        finite = finite[np.isfinite(finite)]
        if len(finite):
            lo = finite.min()
            ax.set_ylim(lo - 0.01, lo + max(0.3, 0.15 * lo))
    axes[0][0].set_ylabel("held-out loss $L$ (nats/byte)")
    axes[0][0].legend(fontsize=7)
    return fig


def sensitivity(opt, cos_best):
    """Best loss minus cosine's best against the decay fraction (1−√; left) and per cooldown shape (20%; right)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    w = opt[opt["protocol"] == "wsd"]
    fr = w[w["decay_shape"] == DEFAULT_SHAPE]
    for b, g in fr.groupby("budget"):
        g = g.sort_values("decay_frac")
        if len(g) < 2:
            continue
        axes[0].plot(g["decay_frac"] * 100, g["best_loss"] - cos_best.get(b, np.nan), "-o", label=f"B = {b}")
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].set_xscale("log")
    fr_ticks = sorted(fr["decay_frac"].unique() * 100)
    axes[0].set_xticks(fr_ticks, [f"{t:g}" for t in fr_ticks])
    axes[0].minorticks_off()
    axes[0].set_xlabel("decay fraction $f$ (% of the steps)")
    axes[0].set_ylabel(r"$L^*_\mathrm{WSD} - L^*_\mathrm{cos}$ (nats/byte)")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3, which="both")
    sh = w[np.isclose(w["decay_frac"], DEFAULT_FRAC)]
    shapes = sorted(sh["decay_shape"].unique())
    budgets = sorted(sh["budget"].unique())
    width = 0.8 / max(len(shapes), 1)
    for i, s in enumerate(shapes):
        g = sh[sh["decay_shape"] == s].set_index("budget")
        ys = [g.loc[b, "best_loss"] - cos_best.get(b, np.nan) if b in g.index else np.nan for b in budgets]
        axes[1].bar(np.arange(len(budgets)) + i * width, ys, width, label=s)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xticks(np.arange(len(budgets)) + width * (len(shapes) - 1) / 2, [f"B = {b}" for b in budgets])
    axes[1].set_ylabel(r"$L^*_\mathrm{WSD} - L^*_\mathrm{cos}$ (nats/byte)")
    axes[1].set_title("cooldown shape (20%)")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3, axis="y")
    axes[0].set_title("decay fraction (1−√)")
    return fig


def ledger_saving(curve, measured):
    """C_WSD / C_cos against the number of budgets n: closed form (lines) and this chapter's records (dots)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
    for sp, g in curve.groupby("spacing"):
        ax.plot(g["n_budgets"], g["ratio"], "-", label=f"closed form, {sp} budgets")
    ax.plot(measured["n_budgets"], measured["closed_form_ratio"], "s", mfc="none", color="k",
            label="closed form, this chapter's budgets")
    m = measured.dropna(subset=["measured_ratio"])
    ax.plot(m["n_budgets"], m["measured_ratio"], "o", color="C3", ms=8, label="measured: steps")
    ax.plot(m["n_budgets"], m["measured_wall_ratio"], "x", color="C3", ms=8, label="measured: wall time")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of budgets $n$")
    ax.set_ylabel(r"$C_\mathrm{WSD}/C_\mathrm{cos}$ (optimizer steps)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig
