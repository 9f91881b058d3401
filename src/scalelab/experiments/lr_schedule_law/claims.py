"""Chapter 6's claims, the criteria that judge them, and the constants the design and the analysis share."""

from __future__ import annotations

SLUG = "lr_schedule_law"
NOTEBOOK = "06_lr_schedule_law.ipynb"
NB = NOTEBOOK[:2]
VERSION = 1
READS = ("wsd_vs_cosine", "chinchilla")  # the stores of chapters 3 and 5 (the book re-executes on their change)
EXP_PROPOSED = "proposed"
LAWS = ("annealing", "multi-power")
LAW_LABELS = {"annealing": "LR-annealing law (Tissue et al.)", "multi-power": "multi-power law (Luo et al.)"}
FIT_FRAC = 0.2  # the fit set's cooldown fraction …
FIT_SHAPE = "linear"  # … and shape (chapter 3 has linear cooldowns at 20 % only)
NOISE_SE = 2.0  # τ = NOISE_SE·√2·σ_seed, as chapter 3
WSD_LIKE_STABLE = 0.5  # C6.3: "resembles WSD" = at least this fraction of the steps at the peak LR …
WSD_LIKE_FINAL = 0.1  # … and a final LR at most this fraction of the peak
BEAT_MARGIN = 0.01  # nats: C6.3's claimed gain over cosine, stated as the smallest gain worth calling a win

CRITERIA = {
    "C6.1": "Per peak LR (the unit), the worst schedule family's mean |predicted − measured| final held-out loss "
            "over its held-out runs (seed 0), the annealing law fitted on the fit set. Claim: this error is at most "
            "τ = 2·√2·σ_seed (a law that good is as good as a rerun). Region (−∞, τ]; interval over LRs; "
            "contradicted only with an mde ≤ τ.",
    "C6.2": "As C6.1, for the multi-power law.",
    "C6.3": f"At the design budget and LR, each law's predicted-best schedule over the family (WSD fraction, "
            f"shape, final LR; cosine) is trained with 2 seeds. If no proposal resembles WSD (≥ "
            f"{WSD_LIKE_STABLE:.0%} of the steps at the peak, final LR ≤ {WSD_LIKE_FINAL:.0%} of it): "
            f"contradicted. Else the statistic is L_proposed − L_cosine paired by seed (best proposal); claimed "
            f"−{BEAT_MARGIN} nats, region ≤ 0; until the runs are recorded: not resolved.",
    "C6.4": "Per model size of chapter 5 (the unit): the annealing law (λ from chapter 3 at the same LR) fitted on "
            "the stable curve plus the first cooldown predicts the other cooldowns' final losses; statistic the "
            "mean |error| per size; region (−∞, τ].",
}
STATEMENTS = {
    "C6.1": "L = L0 + A·S1^−α − C·S2, fitted on one or two curves, predicts the loss at every step under other "
            "LR schedules.",
    "C6.2": "The multi-power law, fitted on a few schedules, predicts the loss curves of unseen schedules of other "
            "shapes and horizons.",
    "C6.3": "The schedule that minimises the fitted law's final loss beats cosine and resembles WSD.",
    "C6.4": "A fitted schedule law replaces per-budget runs in a scaling-law fit (virtual cooldowns).",
}
SOURCES = {
    "C6.1": "Tissue et al. 2024 (arXiv 2408.11029v1) Eq. 1, §4",
    "C6.2": "Luo et al. 2025 (arXiv 2503.12811v1) §3–4",
    "C6.3": "Luo et al. 2025 (arXiv 2503.12811v1) §5",
    "C6.4": "Tissue et al. 2024 (arXiv 2408.11029v1) §5",
}


# ----------------------------------------------------------------------------- the experiments read
CH3 = ("cosine", "constant", "wsd", "multistep", "cosine_to_zero")
CH5 = ("stable", "isoflop", "heldout")
