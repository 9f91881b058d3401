"""Chapter 4 — DeepSeek's batch-size and learning-rate scaling laws, on real runs.

DeepSeek LLM (DeepSeek-AI 2024, arXiv 2401.02954, §3.1, Fig. 3–4) tuned hyperparameters without μP:
per compute budget a grid of batch sizes × peak learning rates was trained, every config whose
final loss is within 0.25% of the budget's best counted as near-optimal, and power laws were fitted
through those configs, η_opt = 0.3118·C^−0.1250 and B_opt = 0.2920·C^0.3271 (B in tokens per step;
the book writes it B_tok). Compute is C = M·D with M = 72·n_layer·d² + 12·n_layer·d·seq_len the
non-embedding FLOPs per token (§3.1, Eq. 2), not 6·N·D.

This package repeats the procedure on the book's byte-level GPT:

* **Budgets.** Each fitted budget is one model width d_model (``n_layer`` fixed) trained on
  D = ``tokens_per_param``·N₁ tokens, N₁ = 12·n_layer·d² the non-embedding parameters (Chinchilla's
  20 tokens per parameter at cpu/gpu), so C = M·D grows with d. A larger held-out budget follows
  the same rule and is never fitted: its grid is placed **after** the fitted budgets' records are
  complete, centred on the prediction of the laws fitted to them (:func:`heldout_budget`), so the
  plan grows in stages, each run when the one before is done (by :func:`scalelab.runner.chapter_records`,
  which passes the records it has, or by the sweep CLI given the store's records; planning itself reads no
  store): the first stage
  (:func:`fitted_plan`), the held-out grid (:func:`heldout_plan`), and — when the held-out best lands in an
  end column of B_tok — one more column beyond it (``HELDOUT_EXTEND``), so that the held-out optimum is
  bracketed.
* **Grid.** Centred on DeepSeek's published laws at that C shifted by stated offsets
  (``batch_offset``, ``lr_offset`` octaves; log2 rounded to the grid), ± ``batch_side`` octaves in
  B_tok (the smallest batch is one sequence) and, in each B_tok column, ± ``lr_side`` steps of
  ``lr_step`` octaves in η around a column centre that moves ``lr_slope`` octaves of η per octave of
  B_tok (a diagonal grid: the η optimum rises with the batch). If the published laws transferred
  to our data, the optimum would sit ``−offset`` from the centre; the interior check says whether
  the grid was wide enough. Steps = D / B_tok. The cpu offsets and slope come from a first grid
  centred on the laws themselves (version 1: seq_len 128, 95 runs, left unused in the store): the
  best batch was the smallest in the grid at d 32 and d 48 (2–4 sequences, 2^8–2^9 tokens, against
  the laws' 2^10–2^11); one-sequence pilots at d 48 tied with two (1.7473 vs 1.7471 at η 2^-8); η
  optima fell to 2^-7…2^-8 at these batches (laws: 2^-6.3…2^-6.5) and rose about half an octave
  per octave of batch (d 32: 2^-7 at 2^8 tokens, 2^-6 at 2^11). Hence cpu uses 64-token
  sequences (so the grid can go below 128 tokens), centres 3 octaves below the B law and 1.5
  octaves below the η law, and a slope of ½.
* **Schedule.** DeepSeek's multi-step schedule (§2.3; 100% → 31.6% at 80% of the steps → 10% at
  90%), after a linear warmup over ``warmup_frac`` of the steps: it is the schedule the published
  laws were fitted under, and its end-of-run loss is that of a decayed schedule (chapter 3).
* **Noise floor.** ``noise_seeds`` seeds at each budget's grid centre, chosen before any run.
* **Parametrization.** Standard parametrization as in chapter 1's SP baseline: one global AdamW LR,
  one init σ at every width (σ = 1/√32 at cpu scale, chapter 1's base-width value), a fixed head
  count, attention 1/√d_head — DeepSeek did not use μP, and under μP the LR law would be
  flat by construction (chapter 1).

:func:`analyze` turns the records into validity checks and verdicts on C4.1–C4.6 by the criteria in
:mod:`.claims` (printed in the notebook before the results). The surfaces come from
:func:`scalelab.optimum.optimum_2d`, the laws from :func:`scalelab.fit.deepseek.optimum_law`. Loss: nats per byte
(byte tokens). Used by ``notebooks/04_deepseek_lr_batch.ipynb`` and :mod:`scalelab.plotting.deepseek_lr_batch`.

The package, by concern (each module imports only the ones above it):

* :mod:`.claims`: the chapter's identity, DeepSeek's published values, the criteria, the controls;
* :mod:`.design`: the dials of each scale, the budgets and their grids, the run configs, the first stage;
* :mod:`.tables`: records → tables (grid, noise, surfaces, measures, the comparison with DeepSeek's laws);
* :mod:`.laws`: the laws through the surface optima and the held-out comparison (C4.4);
* :mod:`.stages`: the later stages placed on the records (held-out grid, ridge), :func:`plan`;
* :mod:`.cost`: the plan's and the redesign's runs and estimated hours;
* :mod:`.analysis`: :func:`analyze`, the rule-change table and :func:`glue_values`.
"""

from __future__ import annotations

from .analysis import (
    analyze,
    glue_values,
    interior_table,
    verdict_changes,
)
from .claims import (
    ARITH_GAP,
    BAND,
    BUDGET_TOL,
    C46_MARGIN,
    CRITERIA,
    DEEPSEEK_FIT_FLOPS,
    EXP_GRID,
    EXP_HELDOUT,
    EXP_NOISE,
    EXP_RIDGE,
    EXP_RIDGE_HELDOUT,
    EXP_TOL,
    HELDOUT_CLIP,
    HELDOUT_EXTEND,
    HELDOUT_GAIN,
    HELDOUT_MIN_RATIO,
    INTERIOR_AXES,
    MEASURES,
    MIN_NOISE_SEEDS,
    MIN_RIDGE_BUDGETS,
    MIN_RIDGE_SPAN,
    NB,
    NOISE_Z,
    NOTEBOOK,
    OLD_VERDICTS,
    SE_TARGET,
    SLUG,
    SOURCES,
    STATEMENTS,
    SURFACE_NEIGHBOURS,
    SURFACE_REQUIRED,
    VERSION,
    WHY_CHANGED,
    WIDE_OCTAVES,
    controls,
    criteria_table,
    deepseek_batch,
    deepseek_eta,
    published_band,
    published_laws,
)
from .cost import (
    plan_summary,
    ridge_summary,
    seconds_per_run_model,
)
from .design import (
    PLANS,
    RIDGE,
    Budget,
    ChapterPlan,
    RidgePlan,
    budget_of,
    chapter_plan,
    fitted_plan,
    model_config,
    prior_budgets,
    ridge_nodes,
    ridge_plan_of,
    scale_measures,
    train_config,
)
from .laws import (
    heldout_comparison,
    laws_table,
    log2_optima,
    surface_laws,
    width_exponent,
)
from .stages import (
    ANALYSED_STAGES,
    budgets,
    heldout_budget,
    heldout_plan,
    plan,
    ridge_centres,
    ridge_plan,
    stage_complete,
    stage_plans,
)
from .tables import (
    SURFACE_COLUMNS,
    as_grid,
    effective_band,
    fit_range_ratio,
    fit_table,
    grid_table,
    measure_comparison,
    measure_table,
    near_optimal_fit_table,
    noise_table,
    pooled_rel_sd,
    ridge_surface_table,
    ridge_table,
    surface_table,
    versus_deepseek,
    with_measure,
)

__all__ = [
    "ANALYSED_STAGES",
    "ARITH_GAP", "BAND", "BUDGET_TOL", "C46_MARGIN", "CRITERIA", "DEEPSEEK_FIT_FLOPS", "EXP_GRID", "EXP_HELDOUT",
    "EXP_NOISE", "EXP_RIDGE", "EXP_RIDGE_HELDOUT", "EXP_TOL", "HELDOUT_CLIP", "HELDOUT_EXTEND", "HELDOUT_GAIN",
    "HELDOUT_MIN_RATIO", "INTERIOR_AXES", "MEASURES", "MIN_NOISE_SEEDS", "MIN_RIDGE_BUDGETS", "MIN_RIDGE_SPAN", "NB",
    "NOISE_Z", "NOTEBOOK", "OLD_VERDICTS", "PLANS", "RIDGE", "SE_TARGET", "SLUG", "SOURCES", "STATEMENTS",
    "SURFACE_COLUMNS", "SURFACE_NEIGHBOURS", "SURFACE_REQUIRED", "VERSION", "WHY_CHANGED", "WIDE_OCTAVES", "Budget",
    "ChapterPlan", "RidgePlan", "analyze", "as_grid", "budget_of", "budgets", "chapter_plan", "controls",
    "criteria_table", "deepseek_batch", "deepseek_eta", "effective_band", "fit_range_ratio", "fit_table",
    "fitted_plan", "glue_values", "grid_table", "heldout_budget", "heldout_comparison", "heldout_plan",
    "interior_table", "laws_table", "log2_optima", "measure_comparison", "measure_table", "model_config",
    "near_optimal_fit_table", "noise_table", "plan", "plan_summary", "pooled_rel_sd", "prior_budgets",
    "published_band", "published_laws", "ridge_centres", "ridge_nodes", "ridge_plan", "ridge_plan_of",
    "ridge_summary", "ridge_surface_table", "ridge_table", "scale_measures", "seconds_per_run_model",
    "stage_complete", "stage_plans", "surface_laws", "surface_table", "train_config", "verdict_changes",
    "versus_deepseek", "width_exponent", "with_measure",
]
