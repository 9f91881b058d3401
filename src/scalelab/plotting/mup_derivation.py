"""Figures of chapter 1 (μP derivation checks); one function per figure, each returns the figure.

Inputs are the frames of :mod:`scalelab.experiments.mup_derivation`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

LABELS = {"sp": "SP", "mup": "μP"}


def _plt():

    return plt


def norm_scaling(numerics, net: str = "linear", layer: int = 2):
    """‖h_l‖/√n_l at init (A1 cases) and ‖Δh_l‖/√n_l after one step (A2 cases) against width, log–log."""
    plt = _plt()
    d = numerics[(numerics["net"] == net) & (numerics["layer"] == layer)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, cond, ylabel in ((axes[0], "A1", r"$\|h_l\|_2/\sqrt{n_l}$ at init"),
                             (axes[1], "A2", r"$\|\Delta h_l\|_2/\sqrt{n_l}$ after one step")):
        for case, g in d[d["condition"] == cond].groupby("case", sort=False):
            m = g.groupby("n")["value"].agg(["mean", "min", "max"])
            ax.errorbar(m.index, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]], marker="o",
                        capsize=2, label=case)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(r"width $n$ (layer $l$ = %d maps $n \to 2n$)" % layer)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(f"{'Deep linear net' if net == 'linear' else 'ReLU MLP'}: the two conditions across width")
    return fig


def operator_norms(opnorms):
    """Measured ‖W‖_op over σ(√n_l + √n_{l−1}) against width, per shape."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for shape, g in opnorms.groupby("shape", sort=False):
        m = g.groupby("n")["ratio"].agg(["mean", "min", "max"])
        ax.errorbar(m.index, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]], marker="o", capsize=2,
                    label=r"$n_l \times n_{l-1}$ = " + shape)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"width $n$ (shapes are multiples of $n$)")
    ax.set_ylabel(r"$\|W\|_{op} \,/\, \sigma(\sqrt{n_l}+\sqrt{n_{l-1}})$")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def coord_check(coords):
    """Mean |activation| against width at each of the first steps, SP (top) and μP (bottom), log–log."""
    plt = _plt()
    if "measure" in coords:
        coords = coords[coords["measure"] == "abs"]
    sites = list(dict.fromkeys(coords["site"]))
    fig, axes = plt.subplots(2, len(sites), figsize=(3.2 * len(sites), 6), constrained_layout=True, sharex=True)
    steps = sorted(coords["step"].unique())
    cmap = plt.get_cmap("viridis")
    for i, param in enumerate(("sp", "mup")):
        for j, site in enumerate(sites):
            ax = axes[i, j]
            g = coords[(coords["parametrization"] == param) & (coords["site"] == site)]
            m = g.groupby(["step", "d_model"])["mean_abs"].mean()
            for k, t in enumerate(steps):
                mt = m.loc[t]
                ax.plot(mt.index, mt.values, marker=".", color=cmap(k / max(len(steps) - 1, 1)),
                        label=f"step {t}" if (i, j) == (0, 0) and k in (0, len(steps) - 1) else None)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{LABELS[param]}: {site}", fontsize=10)
            if i == 1:
                ax.set_xlabel(r"$d_\mathrm{model}$")
            if j == 0:
                ax.set_ylabel("mean |activation|")
            ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=8)
    return fig


def coord_change(coords):
    """Mean |x_T − x_0| (the change since init on the probe batch) against d_model per site, SP and μP, log–log;
    seed mean with the seeds' range."""
    plt = _plt()
    c = coords[coords["measure"] == "change"]
    sites = list(dict.fromkeys(c["site"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True, sharey=True)
    for ax, param in zip(axes, ("sp", "mup")):
        for site in sites:
            m = c[(c["parametrization"] == param) & (c["site"] == site)].groupby("d_model")["mean_abs"]
            m = m.agg(["mean", "min", "max"])
            ax.errorbar(m.index, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]], marker="o",
                        capsize=2, label=site)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(r"$d_\mathrm{model}$")
        ax.set_title(f"{LABELS[param]}: change since init after {int(c['step'].max())} updates", fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(r"mean $|x_T - x_0|$")
    axes[1].legend(fontsize=8)
    return fig


def lr_transfer(curves, optima=None):
    """Final held-out loss against peak LR, one line per width; SP left, μP right (shared y axis)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True, sharey=True)
    widths = sorted(curves["d_model"].unique())
    cmap = plt.get_cmap("plasma")
    for ax, param in zip(axes, ("sp", "mup")):
        for k, d in enumerate(widths):
            g = curves[(curves["parametrization"] == param) & (curves["d_model"] == d)].sort_values("log2_lr")
            color = cmap(k / max(len(widths) - 1, 1) * 0.85)
            ax.errorbar(2.0 ** g["log2_lr"], g["mean"], yerr=g["se"].fillna(0), marker="o", ms=3, capsize=2,
                        color=color, label=rf"$d$ = {d}")
            if optima is not None:
                o = optima[(optima["parametrization"] == param) & (optima["d_model"] == d)]
                if len(o):
                    ax.plot(o["lr_opt"], o["loss_opt"], marker="*", ms=12, color=color, mec="k", ls="none")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(r"peak learning rate $\eta$ (base LR under μP)")
        ax.set_title(LABELS[param])
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("final held-out loss (nats/byte)")
    finite = curves["mean"][np.isfinite(curves["mean"])]
    if len(finite):
        lo = finite.min()
        axes[0].set_ylim(lo - 0.05, min(finite.max(), lo + 1.0) + 0.05)
    axes[1].legend(fontsize=8, title="width (★ fitted optimum)")
    return fig


def optimum_vs_width(optima):
    """Fitted optimal LR against width for SP and μP (log–log), with the per-seed spread as error bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for param, marker in (("sp", "s"), ("mup", "o")):
        o = optima[optima["parametrization"] == param].sort_values("d_model")
        err = o["seed_opt_std"].fillna(0.0).to_numpy()
        x = o["log2_lr_opt"].to_numpy()
        ax.errorbar(o["d_model"], 2.0 ** x, yerr=[2.0 ** x - 2.0 ** (x - err), 2.0 ** (x + err) - 2.0 ** x],
                    marker=marker, capsize=3, label=LABELS[param])
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel(r"$d_\mathrm{model}$")
    ax.set_ylabel(r"optimal peak LR $\eta^*$")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return fig
