"""Chapter 2 — does μ-transfer survive modern architectures? Lingle-style robustness ablations.

Lingle, "A Large-Scale Exploration of μ-Transfer" (arXiv 2404.05728; six versions, v6 retitled "An
Empirical Study of μP Learning Rate Transfer"; we cite **v1**, April 2024, the version the CS336
lecture 11 summarises) asks whether the μP-optimal base learning rate still transfers across width
when the transformer is changed the way modern LLMs are. His code is JAX/TPU
(``lucaslingle/mu_transformer``) and his per-run losses were never released; here every ablation is
re-run in PyTorch and its records are published.

The design:

* One μP **baseline** (:data:`BASELINE`), stated once: RMSNorm without trainable gains, attention
  logits ∝ 1/d_head (calibrated to 1/√d_head at the base width), μP's default readout (σ with the
  1/m multiplier; Lingle's zero-initialised readout is an ablation, see :data:`BASELINE`), Adam
  without weight decay, warmup then **linear decay to zero** (Lingle's schedule), fixed depth,
  fixed tokens per run, base width = narrowest width.
* Each **ablation** is a config delta (:data:`ABLATIONS`, a dict of ``TrainConfig.replace``
  changes) swept over a powers-of-2 LR grid at every width with several seeds.
* The **optimum** per (ablation, width) is the vertex of a local quadratic in log2 LR around the
  best grid point of the seed-mean held-out loss (:mod:`scalelab.optimum`).
* The **statistic** is the effect per doubling of width: the least-squares slope of log2 η* on log2
  width for the ablation minus that of its baseline, with an interval that resamples seeds jointly
  across widths and arms.
* The **transfer criterion** (:data:`TRANSFER_RULE`) is applied mechanically to that effect; the
  verdict compares the outcome with the paper's (transfers / breaks) for each claim C2.1–C2.11.

The package, by concern: :mod:`.claims` (the constants, criteria and claims stated before any result),
:mod:`.design` (ablations, scale plans, configs, stages, ``run``), :mod:`.cost` (runs and process-hours),
:mod:`.statistic` (optima per width and the effect per doubling with its interval), :mod:`.tables` (records
to tables) and :mod:`.analysis` (checks, controls, verdicts and the numbers the page glues). This module is
the chapter's public surface.

Used by ``notebooks/02_mu_transfer_ablations.ipynb``.
"""

from __future__ import annotations

from .analysis import analyze, controls, disagreements, glue_values, mechanism_gate, rule_change_table, verdict_table
from .claims import (
    BASELINE,
    BREAK_CLAIMED,
    BREAK_DELTA,
    LEVEL,
    MEASURE,
    MECHANISM_TAUS,
    MECHANISM_WIDTHS,
    MIN_SEEDS,
    MIN_STEPS,
    MIN_WIDTH_RATIO,
    NB,
    NOTEBOOK,
    OLD_VERDICTS,
    PAPER,
    PROVENANCE,
    SETTLE,
    SLUG,
    SOURCES,
    SP_CONTROL_CLAIMED,
    SP_CONTROL_DELTA,
    STATEMENTS,
    TRANSFER_DELTA,
    TRANSFER_RULE,
    VERSION,
    WD_INDEPENDENT,
    WD_TORCH,
)
from .cost import plan_summary, stage_summary
from .design import (
    ABLATIONS,
    ANALYSED_STAGES,
    GRAD_CLIP,
    HALF_CENTRE,
    HALF_OFFSETS,
    LONG_HORIZON_STEPS,
    PLANS,
    STAGE2,
    STAGE2_ARMS,
    STAGE2_BASE,
    STAGE2_CLAIMS,
    STAGE2_SEEDS,
    Ablation,
    ChapterPlan,
    ablations,
    attention_scales,
    baseline_config,
    baseline_of,
    chapter_plan,
    claim_arms,
    long_horizon_plan,
    lr_grid,
    model_config,
    plan,
    stage2_grid,
    stage2_plan,
    stage_complete,
    stage_plans,
)
from .statistic import arm_slope, effect_interval, loss_cube, magnitude_interval, optima_per_width, seed_mean
from .tables import curve, decay_timescales, finals, optima, shifts

__all__ = [
    "ANALYSED_STAGES",
    "Ablation", "ABLATIONS", "ablations", "analyze", "arm_slope", "attention_scales", "BASELINE", "baseline_config",
    "baseline_of", "BREAK_CLAIMED", "BREAK_DELTA", "chapter_plan", "ChapterPlan", "claim_arms", "controls", "curve",
    "decay_timescales", "disagreements", "effect_interval", "finals", "glue_values", "GRAD_CLIP", "HALF_CENTRE",
    "HALF_OFFSETS", "LEVEL", "long_horizon_plan", "LONG_HORIZON_STEPS", "loss_cube", "lr_grid",
    "magnitude_interval", "MEASURE", "mechanism_gate", "MECHANISM_TAUS", "MECHANISM_WIDTHS", "MIN_SEEDS",
    "MIN_STEPS", "MIN_WIDTH_RATIO", "model_config", "NB", "NOTEBOOK", "OLD_VERDICTS", "optima", "optima_per_width",
    "PAPER", "plan", "plan_summary", "PLANS", "PROVENANCE", "rule_change_table", "seed_mean", "SETTLE",
    "shifts", "SLUG", "SOURCES", "SP_CONTROL_CLAIMED", "SP_CONTROL_DELTA", "STAGE2", "STAGE2_ARMS", "STAGE2_BASE",
    "STAGE2_CLAIMS", "stage2_grid", "stage2_plan", "STAGE2_SEEDS", "stage_complete", "stage_plans", "stage_summary",
    "STATEMENTS", "TRANSFER_DELTA", "TRANSFER_RULE", "verdict_table", "VERSION", "WD_INDEPENDENT", "WD_TORCH"
]
