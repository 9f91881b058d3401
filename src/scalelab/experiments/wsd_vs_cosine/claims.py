"""Chapter 3's claims and the criteria that judge them, stated before the results.

The constants the design and the analysis share (protocols, the default cooldown, tolerances), the claims
(STATEMENTS, SOURCES), the criteria (RULE, CRITERIA), the first rules' verdicts (RULE_CHANGES) and the
controls stage's cooldown shape.
"""

from __future__ import annotations

SLUG = "wsd_vs_cosine"
NOTEBOOK = "03_wsd_vs_cosine.ipynb"
NB = NOTEBOOK[:2]
VERSION = 2  # v1 (SP d64, σ 0.02, attention 1/√d_head): 18 records, left unused; see ChapterPlan
PROTOCOLS = ("cosine", "constant", "wsd", "multistep")
LABELS = {"cosine": "cosine (→10%)", "cosine_to_zero": "cosine (→0)", "constant": "constant (no cooldown)",
          "wsd": "WSD", "multistep": "multi-step"}
DEFAULT_FRAC = 0.2  # Hägele's README example; MiniCPM find ~10% enough
DEFAULT_SHAPE = "1-sqrt"
COSINE_FINAL_FRAC = 0.1  # Hägele's cosine baseline ends at 10% of the peak
WSD_FINAL_FRAC = 0.0  # Hägele's code cools down to 0

# ----------------------------------------------------------------------------- criteria
# Stated before the results (the notebook prints them) and applied mechanically by analyze() through
# scalelab.verdicts. Version 3 of the rules (issue 19): the first rules (τ = 2·√2·σ_seed, per-budget
# holds/fails) were replaced after their results had been seen; RULE_CHANGES lists what changed.
LEVEL = 0.95  # confidence level of every interval
NEAR_STEPS = 1  # a trunk enters a paired comparison at budget B when its LR is within this many grid steps of
#                 the reference schedule's best grid LR at B (the neighbourhood the tuned losses come from)
# Tolerances in nats per byte, stated in advance. 0.01 nats is a 1% change of perplexity (e^0.01 − 1): our
# smallest gap of interest, not a value taken from the papers, which report their gaps in figures.
MATCH_DELTA = 0.01  # "matches / on par / suffices": worse by at most this (region (−∞, δ])
GAP_CLAIMED = 0.01  # "A beats B / falls short": the claimed gap (the power target) ...
GAP_DELTA = 0.005  # ... and its tolerance: reproduced when the interval lies above GAP_CLAIMED − GAP_DELTA
COOLDOWN_RATIO = 2.0  # C3.2: the cooldown's drop is ≥ this × the constant run's drop over the same window
HALF_CLAIMED, HALF_DELTA = -1.0, 0.5  # C3.5: log2(LR*_const / LR*_cos) = −1 ± 0.5 octaves (ratio 0.35–0.71)
CONTROL_MIN_GAIN = 0.01  # positive control: a cooldown lowers the loss by more than this against no cooldown
LEDGER_RTOL = 0.01  # measured ledger vs closed form (C3.6, arithmetic)
# Scales whose controls gate validity. Smoke runs (20–40 steps, a cooldown of 4–8 steps) are code paths: a
# cooldown there need not lower the loss (measured: it does not), so smoke reports its controls without gating.
CONTROL_SCALES = ("cpu", "gpu")

RULE = ("Each claim is judged on one statistic, an effect against its matching control, with a 95% interval "
        "over the unit the comparison replicates (scalelab.verdicts, book page 'How a verdict is reached'): "
        "reproduced when the interval lies inside the claim's region; contradicted when it lies outside and the "
        "minimum detectable effect (mde, 80% power) is at most the claimed effect; otherwise not resolved. "
        "Comparisons between separately trained schedules (cosine, multi-step, WSD at their tuned LRs) pair "
        "runs by seed: the unit is the seed, averaged over the budgets every seed has. Comparisons between "
        "branches of one stable run pair them by trunk: the unit is the trunk (seed, peak LR), with the trunks "
        f"within {NEAR_STEPS} grid step of the tuned LR at each budget. Tuned losses and LRs are the grid "
        "optimum of the seed-mean curve (scalelab.optimum). With fewer than 5 units the interval is a t "
        "interval (n − 1 degrees of freedom).")

CRITERIA = {
    "C3.1": f"Statistic: L*_WSD − L*_cos (WSD 20%, 1−√, to 0; cosine to 10%), seeds as units. Reproduced if the "
            f"interval lies in (−∞, {MATCH_DELTA}] nats.",
    "C3.1b": f"As C3.1 against cosine to zero (the like-for-like control: both end at LR 0). Reproduced if the "
             f"interval lies in (−∞, {MATCH_DELTA}] nats. Judged once the 'controls' stage is recorded.",
    "C3.2": f"Statistic: φ = Σ[L_const(S) − L_const(B)] / Σ[L_const(S) − L_WSD(B)] over the same window [S, B] "
            f"(S the 20% cooldown start): the stable run's drop over the cooldown's steps as a fraction of the "
            f"cooldown's drop, trunks as units. Reproduced if the interval lies in (−∞, {1 / COOLDOWN_RATIO:g}] "
            f"(the cooldown drops at least {COOLDOWN_RATIO:g}× as much as continuing at the peak LR).",
    "C3.3a": f"Statistic: L(2.5%) − L(10%) (1−√ cooldowns from one trunk), trunks as units. Claimed "
             f"{GAP_CLAIMED} nats; reproduced if the interval lies in [{GAP_CLAIMED - GAP_DELTA:g}, ∞).",
    "C3.3b": f"Statistic: max over the fractions f of the mean of L(10%) − L(f) (2.5–40%, 1−√, one trunk), "
             f"trunks as units. Reproduced if the interval lies in (−∞, {MATCH_DELTA}] nats. (That 20% matches "
             f"cosine is C3.1.)",
    "C3.4": f"Statistic: L(linear) − L(1−√) (20%, to 0, one trunk), trunks as units. Claimed {GAP_CLAIMED} nats; "
            f"reproduced if the interval lies in [{GAP_CLAIMED - GAP_DELTA:g}, ∞).",
    "C3.5": f"Statistic: log2(LR*_const / LR*_cos), the constant LR *without* a cooldown (the stable run's "
            f"evaluation at step B) against cosine to 10%, seeds as units. Reproduced if the interval lies in "
            f"[{HALF_CLAIMED - HALF_DELTA:g}, {HALF_CLAIMED + HALF_DELTA:g}] octaves. The 'about half' is "
            f"unverified against the paper (see the page).",
    "C3.6": f"Arithmetic: the ledger from the records (optimizer steps the trainer counted; the stable run up to "
            f"the largest cooldown start) equals the closed form C_cos = ΣB, C_WSD = (1−f)·B_max + f·ΣB within "
            f"{LEDGER_RTOL:.0%} and C_WSD < C_cos. The claim is restated: with a fixed cooldown fraction f the "
            f"WSD cost is (1−f)·B_max + f·ΣB, f·O(n²) for linearly spaced budgets, not O(n) (O(n) needs "
            f"cooldowns of fixed length). Wall time is reported, not judged (the machine is shared).",
    "C3.7": f"Statistic: L*_ms − L*_cos (multi-step against cosine to 10%), seeds as units. Reproduced if the "
            f"interval lies in (−∞, {MATCH_DELTA}] nats (on par or better).",
}

STATEMENTS = {
    "C3.1": "WSD matches or beats cosine (to 10% of the peak) at every token budget.",
    "C3.1b": "WSD matches or beats cosine decayed to zero (like with like) at every token budget.",
    "C3.2": "Most of the loss drop happens in the cooldown; the stable phase decreases slowly.",
    "C3.3a": "A 2.5% decay falls short of 10% (MiniCPM).",
    "C3.3b": "A ~10% decay suffices: no decay fraction beats it by more than the tolerance (MiniCPM).",
    "C3.4": "A 1−√ cooldown beats linear.",
    "C3.5": "The best constant LR (no cooldown) is about half of cosine's best peak LR (unverified in the paper).",
    "C3.6": "One WSD run with branched cooldowns measures a data-scaling curve for (1−f)·B_max + f·ΣB steps "
            "instead of ΣB (f·O(n²), not O(n), for a fixed cooldown fraction).",
    "C3.7": "DeepSeek's multi-step schedule (80/10/10%) performs on par with cosine.",
}
SOURCES = {
    "C3.1": "Hu et al. 2024 (arXiv 2404.06395) §4 Fig. 3; Hägele et al. 2024 (arXiv 2405.18392) §3",
    "C3.1b": "Hägele et al. 2024 (arXiv 2405.18392) §3 (cooldown to 0 against cosine); issue 22's control",
    "C3.2": "Hu et al. 2024 (arXiv 2404.06395) §4; lecture 11",
    "C3.3a": "Hu et al. 2024 (arXiv 2404.06395) §4.2",
    "C3.3b": "Hu et al. 2024 (arXiv 2404.06395) §4.2",
    "C3.4": "Hägele et al. 2024 (arXiv 2405.18392) §3, Fig. 5",
    "C3.5": "Hägele et al. 2024 (arXiv 2405.18392) §3 (not verified at a cited version and figure)",
    "C3.6": "Hägele et al. 2024 (arXiv 2405.18392) §5; Hu et al. 2024 (arXiv 2404.06395) §4; lecture 11",
    "C3.7": "DeepSeek-AI 2024 (arXiv 2401.02954) §2.3, Fig. 1",
}

# The verdicts under the first rules (v2, from the committed records before this change) and what changed.
RULE_CHANGES = {
    "C3.1": ("reproduced", "one σ_seed pooled over systematically different runs set τ for every "
                           "budget; now the WSD − cosine gap paired by seed, with a t interval over the two seeds"),
    "C3.2": ("not resolved at this scale", "the stable drop came from single evaluations over the d steps before "
                                           "the cooldown; now both drops are taken over the same window [S, B]"),
    "C3.3": ("not resolved at this scale", "one verdict for three comparisons; now 2.5% (C3.3a) and 10% (C3.3b) "
                                           "paired by trunk, and '20% matches cosine' is C3.1"),
    "C3.4": ("not resolved at this scale", "τ from the pooled σ_seed against gaps of branches that "
                                           "share a trunk, whose paired noise is several times smaller; now "
                                           "paired by trunk"),
    "C3.5": ("reproduced", "per-budget parabola vertices; now the optimum rule of scalelab.optimum with seeds as "
                           "units, and the paper's 'about half' marked unverified"),
    "C3.6": ("reproduced", "judged together with C3.1; now arithmetic on the ledger alone, with the O(n) wording "
                           "corrected to f·O(n²)"),
    "C3.7": ("reproduced", "τ from the pooled σ_seed; now the gap paired by seed with a t interval"),
}


# ----------------------------------------------------------------------------- controls stage
CONTROL_SHAPE = "exp"  # MiniCPM's exponential cooldown (half-life: scalelab.schedules.EXP_HALF_LIFE_FRAC)


# ----------------------------------------------------------------------------- reproducibility across chapters
REPRO_ATOL = 1e-3  # nats/byte: same config trained in two chapters (thread counts may differ in the last bits)
