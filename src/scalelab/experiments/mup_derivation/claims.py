"""Chapter 1's claims: identity, the criteria stated before the results, statements, sources and the first rule's
verdicts (issue 19)."""

from __future__ import annotations

SLUG = "mup_derivation"
NOTEBOOK = "01_mup_derivation.ipynb"
NB = NOTEBOOK[:2]
EXPERIMENT = "lr_transfer"
VERSION = 1
PARAMETRIZATION_LABELS = {"sp": "SP", "mup": "μP"}

# ----------------------------------------------------------------------------- criteria
# Stated before the results (the notebook prints CRITERIA) and applied by scalelab.verdicts. They replace the
# first rule (thresholds on point estimates and regression SEs, a ratio of |x_t| for the coordinate check, a
# parabola's span in grid steps for transfer), which was changed after the first results were seen (issue 19);
# the page lists the old and new verdicts side by side (OLD_VERDICTS).
LEVEL = 0.95
EXPONENT = "exponent"  # a log–log slope against width, d log y / d log n
OCTAVES = "octaves per doubling"  # d log2 η* / d log2 width
NATS = "nats"
# C1.1/C1.3 "Θ(1) in width" is no effect on the exponent, tolerance ±0.1: a factor 1.4 over the numerics' 32×
# span, a tenth of the exponent 1 that the constant σ (C1.1) or the other optimizer's rule (C1.3) produce.
FLAT_SLOPE = 0.1
# C1.3 "requires": the other optimizer's rule must visibly fail. Derivation: exponent −1 (SGD with Adam's rule)
# and +1 (Adam with SGD's rule) at every layer; judged on the layer-mean exponent times the predicted sign,
# claimed 1, region ≥ 0.5 (half the predicted exponent).
SWAPPED_CLAIMED, SWAPPED_DELTA = 1.0, 0.5
# C1.4 "updates grow": the mean exponent of the hidden layers 2–3 (where the derivation predicts growth: 0.5 with
# SGD, 1 with Adam) is at least 0.25, a factor 2.4 over the 32× span.
GROWTH_SLOPE = 0.25
# The A1 instrument's positive control: the constant σ (GPT-2) must show its predicted exponent 1 at layer 3 at
# init (region ≥ 0.5); if it did not, a flat A1 exponent would say nothing.
CONST_SIGMA_CLAIMED, CONST_SIGMA_DELTA = 1.0, 0.5
OPNORM_TOL = 0.05  # C1.2 (arithmetic): |‖W‖_op / σ(√n_l+√n_{l−1}) − 1| at the widest width at most this …
OPNORM_BAD = 0.15  # … contradicted above this (Tracy–Widom fluctuations are O(n^(−2/3)), ~1e-3 at n = 2048)
# C1.5 on the change since init, |x_T − x_0| on one probe batch after T Adam updates (the init's own scale, e.g.
# the √8 of SP's constant-σ logits at step 1, does not enter it). μP: exponent 0 ± 0.2 at every site (a factor
# 1.5 over the coordinate check's 8× span, the first rule's band). SP (global LR): the hidden sites (q·k, attention
# and MLP outputs) and the logits grow; Adam's update moves h by Θ(η·n) (C1.4), claimed exponent 1, region ≥ 0.25.
COORD_DELTA = 0.2
COORD_GROWTH_CLAIMED = 1.0
# C1.6 "transfers": μP's own slope of log2 η* against log2 width, no effect ±0.25 octaves per doubling (as in
# chapter 2: half of the smallest break Lingle's 2-octave grid over 4 doublings could report).
TRANSFER_DELTA = 0.25
# The positive control of transfer: SP's optimum falls as 1/width under Adam and a global LR (Tensor Programs V,
# arXiv 2203.03466, §5): −1 octave per doubling against μP; it must register at least −0.25 (region ≤ −0.25).
SP_DRIFT_CLAIMED, SP_DRIFT_DELTA = -1.0, 0.75
# C1.7 "wider is better": the loss change from one width to the next (wider − narrower) at each grid LR near the
# μP optimum must be ≤ 0 (region (−∞, 0]); the gain the design must be able to see before it may call "wider is
# worse" is 0.01 nats (1% in perplexity).
WIDER_GAIN = 0.01
MIN_WIDTH_RATIO = 8  # widest/narrowest for a transfer verdict (the claim spans 128→2048, 16×)
MIN_STEPS = 500  # training steps per run for a transfer verdict
MIN_SEEDS = 2
BASE_MATCH_NATS = 1e-3  # μP == SP at the base width: final losses agree to this (batched sums reorder)

_RULE = (f"Reproduced if the {LEVEL:.0%} interval lies inside the region; contradicted only if it lies outside and "
         "the mde (80% power) is at most the claimed effect (δ for no effect); otherwise not resolved. A claim with "
         "several parts (layers, sites, LRs) is reproduced when every part is, contradicted when one part is; the "
         "verdict shown is the deciding part's.")
_SEEDS = ("Interval over seeds, resampled jointly across widths (one seed fixes the draws or the data order at "
          "every width): a t interval with n_seeds − 1 df below five seeds.")
CRITERIA = {
    "C1.1": f"Exponent of ‖h_l‖/√n_l against width under the A1 rule σ_l, every layer of the deep linear net and "
            f"the ReLU MLP: no effect, region ±{FLAT_SLOPE}. {_SEEDS} {_RULE}",
    "C1.2": f"Arithmetic: |‖W‖_op / (σ(√n_l+√n_{{l−1}})) − 1| ≤ {OPNORM_TOL} for every shape at the widest width → "
            f"reproduced; > {OPNORM_BAD} → contradicted; otherwise not resolved.",
    "C1.3": f"Exponent of ‖Δh_l‖/√n_l: μP+SGD (η_l ∝ n_l/n_{{l−1}}) and μP+Adam (η_l ∝ 1/n_{{l−1}}) no effect at every "
            f"layer (±{FLAT_SLOPE}); each optimizer with the other's rule fails: layer-mean exponent × predicted sign "
            f"≥ {SWAPPED_CLAIMED - SWAPPED_DELTA:g} (claimed {SWAPPED_CLAIMED:g}). Both nets. {_SEEDS} {_RULE}",
    "C1.4": f"SP (1/√fan_in init, one global LR), SGD and Adam, both nets: the mean exponent of ‖Δh_l‖/√n_l over "
            f"the hidden layers 2–3 is ≥ {GROWTH_SLOPE} (claimed: 0.5 with SGD, 1 with Adam). {_SEEDS} {_RULE}",
    "C1.5": f"Exponent of the change since init, mean |x_T − x_0| on a probe batch after T Adam updates, against "
            f"d_model: μP no effect at every site (±{COORD_DELTA}); SP ≥ {GROWTH_SLOPE} (claimed "
            f"{COORD_GROWTH_CLAIMED:g}) at the hidden sites (q·k, attention, MLP) and the logits. {_SEEDS} {_RULE}",
    "C1.6": f"η* per width: scalelab.optimum's local quadratic in log2 η on the seed-mean loss curve. μP's slope of "
            f"log2 η* against log2 width: no effect, region ±{TRANSFER_DELTA} {OCTAVES}. SP's drift is the positive "
            f"control (SP minus μP ≤ {SP_DRIFT_CLAIMED + SP_DRIFT_DELTA:g}). Needs widths spanning ≥ "
            f"{MIN_WIDTH_RATIO}×, ≥ {MIN_STEPS} steps, ≥ {MIN_SEEDS} seeds. {_SEEDS} {_RULE}",
    "C1.7": f"μP: at every grid LR within one grid step of the median μP optimum, the seed-paired loss change from "
            f"each width to the next (wider − narrower) lies in (−∞, 0] nats; the design must see a "
            f"{WIDER_GAIN} nat change before it may contradict. Same minimums as C1.6. {_SEEDS} {_RULE}",
}

STATEMENTS = {
    "C1.1": "A1: with σ_l = (1/√n_{l−1})·min(1, √(n_l/n_{l−1})) activations are Θ(1) per coordinate at init.",
    "C1.2": "Gaussian operator norm: ‖W‖_op ≈ σ(√n_l + √n_{l−1}).",
    "C1.3": "A2 with SGD requires η_l ∝ n_l/n_{l−1}; with Adam η_l ∝ 1/n_{l−1}.",
    "C1.4": "SP (one global LR) violates A2: updates grow with width.",
    "C1.5": "Coordinate check: under μP activations stay flat in width over the first steps; "
            "under SP the readout grows.",
    "C1.6": "Under μP the optimal base LR is constant across width; under SP it drifts down as width grows.",
    "C1.7": "Under μP, wider is better at every LR near the optimum.",
}
SOURCES = {
    "C1.1": "Yang, Simon & Bernstein 2023 (arXiv 2310.17813) §3; lecture 11",
    "C1.2": "Yang, Simon & Bernstein 2023 (arXiv 2310.17813) §3 (Vershynin's bound); lecture 11",
    "C1.3": "Yang, Simon & Bernstein 2023 (arXiv 2310.17813) §4; lecture 11",
    "C1.4": "Yang et al. 2022 (arXiv 2203.03466) §5; lecture 11",
    "C1.5": "Yang et al. 2022 (arXiv 2203.03466) §D.1 (coordinate check); microsoft/mup",
    "C1.6": "Dey et al. 2023 (arXiv 2304.03208); Hu et al. 2024 (arXiv 2404.06395); lecture 11 replication table",
    "C1.7": "Yang et al. 2022 (arXiv 2203.03466) Fig. 1; lecture 11",
}

COORD_SITES = ("embedding", "qk", "attention", "mlp", "logits")
HIDDEN_SITES = ("qk", "attention", "mlp")  # inside the blocks: where A2's Θ(1) updates are asked for

# The verdicts of the first rule (thresholds on point estimates, a |x_t| ratio for the coordinate check, a parabola's
# span in grid steps for transfer), recomputed from the committed cpu records before the rules changed (issue 19).
# Historical: not recomputed.
OLD_VERDICTS = {c: "reproduced" for c in ("C1.1", "C1.2", "C1.3", "C1.4", "C1.5", "C1.6", "C1.7")}
OLD_EVIDENCE = {
    "C1.5": "μP ratios attention 1.23, embedding 1.01, logits 1.06, mlp 1.03; SP logits 2.84 (d 64→512, step 10)",
    "C1.6": "μP optimum span 0.17 grid steps; SP optimum falls 2.32 steps",
    "C1.7": "largest loss increase with width −0.0902 nats (tolerance 0.0241)",
}

