"""Figures of chapter 5 (Chinchilla's approaches 1–3, Epoch's points, Porian et al., inference-aware sizing).

Each function draws one figure from :mod:`scalelab.experiments.chinchilla` results and returns the
matplotlib ``Figure``. Scaling plots are log–log; loss is in nats per byte for our runs and nats
per token for the published data.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _fig(ncols: int = 1, width: float = 6.0, height: float = 4.0):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def isoflop_curves(pa):
    """Part A: final (cooldown) loss vs N per IsoFLOP budget, with each budget's parabola in log N."""
    fig, (ax,) = _fig()
    ep = pa.endpoints[pa.endpoints.status == "finished"]
    cmap = plt.get_cmap("viridis")
    budgets = sorted(ep["budget"].unique())
    for i, c in enumerate(budgets):
        sub = ep[ep.budget == c].sort_values("N")
        held = (sub.role == "heldout").all()
        col = "crimson" if held else cmap(i / max(len(budgets) - 1, 1))
        ax.plot(sub["N"], sub["loss"], "s" if held else "o", color=col,
                label=f"C = {c:.2g} FLOPs" + (" (held out)" if held else ""))
        if len(sub) >= 3:
            q = np.polyfit(np.log(sub["N"]), sub["loss"], 2)
            xs = np.linspace(np.log(sub["N"].min()), np.log(sub["N"].max()), 50)
            ax.plot(np.exp(xs), np.polyval(q, xs), "-", color=col, lw=1)
    pred = pa.prediction
    if "N_opt_a3" in pred and "loss_a3" in pred:
        ax.plot([pred["N_opt_a3"]], [pred["loss_a3"]], "*", ms=14, color="crimson", mfc="none",
                label="approach-3 prediction (held-out budget)")
    ax.set_xscale("log")
    ax.set(xlabel="parameters N (total)", ylabel="final held-out loss L (nats/byte)", title="IsoFLOP profiles")
    ax.legend(fontsize=7)
    return fig


def frontier(pa):
    """Part A: N_opt(C) from approaches 1, 2 (vertices and lowest runs) and 3, log–log."""
    fig, (ax,) = _fig()
    cs = []
    if pa.approach1 is not None:
        o = pa.approach1.optima
        ax.plot(o["C"], o["N_opt"], ".", color="0.6", ms=3, label=f"approach 1 envelope (a={pa.approach1.a:.2f})")
        cs += list(o["C"])
    if pa.approach2 is not None:
        o = pa.approach2.optima
        ax.plot(o["C"], o["N_opt"], "o", color="C0", label=f"approach 2 vertices (a={pa.approach2.a:.2f})")
        ax.plot(o["C"], o["N_lowest"], "x", color="C1", label=f"lowest run (a={pa.approach2.lowest.a:.2f})")
        cs += list(o["C"])
    pred = pa.prediction
    cs.append(pred["budget"])
    grid = np.logspace(np.log10(min(cs)), np.log10(max(cs)), 50)
    if pa.approach3 is not None:
        ax.plot(grid, pa.approach3.n_opt(grid), "-", color="C2", label=f"approach 3 (a={pa.approach3.a:.2f})")
    if pa.approach2 is not None:
        ax.plot(grid, pa.approach2.n_opt(grid), "--", color="C0", lw=1)
    if "vertex_N" in pred:
        ax.plot([pred["budget"]], [pred["vertex_N"]], "s", color="crimson", label="held-out vertex (measured)")
    ax.axvline(pred["budget"], color="crimson", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="compute C = 6ND (FLOPs)", ylabel="compute-optimal parameters N_opt", title="Frontier")
    ax.legend(fontsize=7)
    return fig


def envelope(pa, stable):
    """Part A: loss vs C of the constant-LR runs (lines) and the cooldown endpoints (markers)."""
    fig, (ax,) = _fig()
    for i, (_run, g) in enumerate(stable.groupby("run", sort=False)):
        ax.plot(g["flops"], g["loss"], "-", color=f"C{i}", lw=1, label=f"stable, N={g['N'].iloc[0]:.3g}")
        ep = pa.endpoints[(pa.endpoints.N == g["N"].iloc[0]) & (pa.endpoints.status == "finished")]
        ax.plot(ep["C"], ep["loss"], "o", color=f"C{i}")
    ax.set_xscale("log")
    ax.set(xlabel="compute C = 6ND (FLOPs)", ylabel="held-out loss L (nats/byte)",
           title="Constant-LR curves (lines) vs cooldown endpoints (dots)")
    ax.legend(fontsize=7)
    return fig


def epoch_residuals(b):
    """Part B: log L̂ − log L on Epoch's points for Hoffmann's published surface and our refit."""
    fig, (ax,) = _fig()
    r = b["residuals"]
    ax.scatter(r["C"], r["resid_hoffmann"], s=8, label="Hoffmann et al. published (unrounded)")
    ax.scatter(r["C"], r["resid_refit"], s=8, marker="x", label="refit (Hoffmann's procedure, ours)")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="compute C (FLOPs)", ylabel="residual log L̂ − log L", title="Residuals on Epoch's 240 points")
    ax.legend(fontsize=7)
    return fig


def sensitivity(b):
    """Part B: the fit-sensitivity panel — a and tokens/param at Chinchilla's compute per variant."""
    fig, (ax1, ax2) = _fig(2, width=5.0)
    s = b["sensitivity"]
    y = np.arange(len(s))
    ax1.plot(s["a"], y, "o")
    ax1.axvline(0.5, color="k", lw=0.8, ls=":")
    ax1.set_yticks(y, s["variant"], fontsize=7)
    ax1.set(xlabel="a in N_opt ∝ C^a", title="exponent")
    tpp = np.clip(s["tokens_per_param"].to_numpy(), 1e-2, None)
    ax2.plot(tpp, y, "o")
    ax2.axvline(20, color="k", lw=0.8, ls=":")
    ax2.set_xscale("log")
    ax2.set_yticks(y, [""] * len(y))
    ax2.set(xlabel="D_opt/N_opt at C = 5.76e23 (tokens/param)", title="tokens per parameter")
    fig.tight_layout()
    return fig


def cs336(b):
    """Part B: CS336's synthetic IsoFLOPs and the approach-2 frontier with its 1e23/1e24 predictions."""
    fig, (ax1, ax2) = _fig(2, width=5.0)
    cs = b["cs336"]
    for _i, (c, g) in enumerate(cs.groupby("C")):
        ax1.plot(g["N"], g["loss"], "o-", ms=3, lw=0.8, label=f"{c:.1e}")
    ax1.set_xscale("log")
    ax1.set(xlabel="parameters N", ylabel="final loss", title="CS336 IsoFLOP data (synthetic)")
    ax1.legend(fontsize=6, ncol=2)
    f = b["cs336_fit"]
    o = f.optima
    grid = np.logspace(np.log10(o["C"].min()), 24, 50)
    ax2.plot(o["C"], o["N_opt"], "o", label=f"vertex (a={f.a:.3f})")
    ax2.plot(o["C"], o["N_lowest"], "x", label=f"lowest run (a={f.lowest.a:.3f})")
    ax2.plot(grid, f.n_opt(grid), "-", color="C0")
    ax2.plot(grid, f.lowest.n_opt(grid), "--", color="C1")
    p = b["cs336_pred"]
    ax2.plot(p["C"], p["N_opt"], "*", ms=10, color="crimson", label="predictions at 1e23, 1e24")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set(xlabel="compute C (FLOPs)", ylabel="N_opt", title="Approach 2 and its extrapolation")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def porian(b):
    """Part B: the exponent a as each of Porian et al.'s corrections is applied."""
    fig, (ax,) = _fig(width=7.0)
    po = b["porian"]
    for i, (ds, g) in enumerate(po.groupby("dataset", sort=False)):
        x = np.arange(len(g))
        lo = [c[0] for c in g["a_porian_ci"]]
        hi = [c[1] for c in g["a_porian_ci"]]
        ax.errorbar(x + 0.05 * i, g["a_porian"], yerr=[g["a_porian"] - lo, np.array(hi) - g["a_porian"]], fmt="s",
                    color=f"C{i}", mfc="none", label=f"{ds}: Porian et al. (95% CI)")
        olo = np.array([c[0] for c in g["a_ours_interval"]])
        ohi = np.array([c[1] for c in g["a_ours_interval"]])
        ax.errorbar(x + 0.05 * i + 0.15, g["a_ours"], yerr=[g["a_ours"] - olo, ohi - g["a_ours"]], fmt="o",
                    color=f"C{i}", label=f"{ds}: our IsoFLOP method on their curves (95%, budgets)")
        ax.plot(x + 0.05 * i, g["a_their_optima"], "x", color=f"C{i}", label=f"{ds}: power law through their optima")
        ax.set_xticks(x, list(g["step"]), rotation=20, fontsize=8)
    ax.axhline(0.73, color="0.5", ls=":", lw=0.8)
    ax.axhline(0.5, color="k", ls=":", lw=0.8)
    ax.set(ylabel="a in N_opt ∝ C^a", title="Kaplan → Chinchilla, one correction at a time")
    ax.legend(fontsize=6)
    return fig


def inference(b):
    """Part C: inference-aware optimum vs lifetime inference tokens (Sardana et al.)."""
    fig, (ax1, ax2) = _fig(2, width=5.0)
    d = b["inference"]
    ax1.plot(d["inference_tokens"], d["tokens_per_param"], "o-", ms=3)
    ax1.axhline(d["tokens_per_param"].iloc[0], color="0.5", ls=":", lw=0.8)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set(xlabel="lifetime inference tokens D_inf", ylabel="training tokens per parameter D/N",
            title=f"target loss {b['inference_target_loss']:.3f} nats/token")
    ax2.plot(d["inference_tokens"], d["N_over_chinchilla"], "o-", ms=3, label="N / N_compute-optimal")
    ax2.plot(d["inference_tokens"], d["total_over_chinchilla"], "s-", ms=3,
             label="total FLOPs / compute-optimal model's total")
    ax2.set_xscale("log")
    ax2.set(xlabel="lifetime inference tokens D_inf", ylabel="ratio", title="smaller model, less total compute")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig
