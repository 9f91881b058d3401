"""Chapter 1 — μP derivation checks: the two conditions, the rules table, coordinate checks, LR transfer.

The chapter tests, on the book's own code, each step of the μP argument as the CS336 lecture 11
presents it (after Yang, Simon & Bernstein 2023, "A Spectral Condition for Feature Learning",
arXiv 2310.17813, §3–4; and Yang et al. 2022, "Tensor Programs V", arXiv 2203.03466, §5 and
Table 3/8):

1. **The two conditions** on deep linear nets and a ReLU MLP (float64, pure numerics, recomputed in
   the notebook at every scale): A1 — at init ‖h_l‖₂ = Θ(√n_l) with
   σ_l = (1/√n_{l−1})·min(1, √(n_l/n_{l−1})); the Gaussian operator norm ‖W‖_op ≈ σ(√n_l + √n_{l−1});
   A2 — after one step ‖Δh_l‖₂ = Θ(√n_l) with η_l ∝ n_l/n_{l−1} (SGD) or η_l ∝ 1/n_{l−1} (Adam), and
   its violation by SP's one global LR. Verdicts come from log–log slopes against width with
   standard errors (:func:`spectral_checks`, :func:`operator_norm_check`).
2. **The rules table** of :mod:`scalelab.parametrization` beside the published Cerebras-GPT and
   MiniCPM recipes (:func:`published_recipes`).
3. **Coordinate check** on :class:`scalelab.model.GPT`: mean |activation| at five sites over the
   first Adam steps, SP vs μP, several widths and seeds (:func:`coord_check`, by
   :func:`scalelab.coordcheck.get_coord_data`; cheap, recomputed).
4. **LR transfer**: an LR grid × widths × {SP, μP} × seeds of real training runs, stored as records
   (:func:`plan`, :func:`run`); :func:`analyze` turns records into validity checks and verdicts on
   C1.1–C1.7 by the criteria stated in :mod:`.claims`.

The package, by concern (each module imports the ones it needs directly, never this one):

- ``claims``: identity, criteria constants, ``CRITERIA``/``STATEMENTS``/``SOURCES``, the first rule's verdicts;
- ``design``: the dials of each scale (``ChapterPlan``, ``PLANS``), model and train configs, ``plan``, ``run``,
  the cost table and the later stages;
- ``numerics``: section 1 (the two conditions, the operator norm);
- ``recipes``: section 2 (the published μP recipes);
- ``coords``: section 3 (the coordinate check);
- ``tables``: section 4's records as tables (losses, optima, curves, seed noise);
- ``stats``: the intervals behind the verdicts (exponents, optimum slopes, loss changes);
- ``analysis``: ``analyze``, the controls, the verdict tables and ``glue_values``.

Used by ``notebooks/01_mup_derivation.ipynb``.
"""

from __future__ import annotations

from scalelab.experiments.mup_derivation.analysis import (
    analyze,
    conjunction,
    controls,
    controls_table,
    glue_values,
    rule_change_table,
)
from scalelab.experiments.mup_derivation.claims import (
    BASE_MATCH_NATS,
    CONST_SIGMA_CLAIMED,
    CONST_SIGMA_DELTA,
    COORD_DELTA,
    COORD_GROWTH_CLAIMED,
    COORD_SITES,
    CRITERIA,
    EXPERIMENT,
    EXPONENT,
    FLAT_SLOPE,
    GROWTH_SLOPE,
    HIDDEN_SITES,
    LEVEL,
    MIN_SEEDS,
    MIN_STEPS,
    MIN_WIDTH_RATIO,
    NATS,
    NB,
    NOTEBOOK,
    OCTAVES,
    OLD_EVIDENCE,
    OLD_VERDICTS,
    OPNORM_BAD,
    OPNORM_TOL,
    PARAMETRIZATION_LABELS,
    SLUG,
    SOURCES,
    SP_DRIFT_CLAIMED,
    SP_DRIFT_DELTA,
    STATEMENTS,
    SWAPPED_CLAIMED,
    SWAPPED_DELTA,
    TRANSFER_DELTA,
    VERSION,
    WIDER_GAIN,
)
from scalelab.experiments.mup_derivation.coords import (
    coord_check,
    coord_ratios,
)
from scalelab.experiments.mup_derivation.design import (
    COORD_LR,
    PLANS,
    STAGE2,
    STAGE2_SEEDS,
    ChapterPlan,
    chapter_plan,
    model_config,
    plan,
    plan_summary,
    stage2_plan,
    stage_complete,
    stage_plans,
)
from scalelab.experiments.mup_derivation.numerics import (
    NETS,
    NUMERIC_BASE_WIDTH,
    NUMERIC_CASES,
    NUMERIC_INPUT_DIM,
    NUMERIC_LR,
    OPNORM_SEEDS,
    OPNORM_SHAPES,
    NumericCase,
    a1_init_std,
    fit_slope,
    numeric_dims,
    one_step,
    operator_norm_check,
    slope_table,
    spectral_checks,
    standard_draws,
)
from scalelab.experiments.mup_derivation.recipes import (
    PUBLISHED_RECIPES,
    published_recipes,
)
from scalelab.experiments.mup_derivation.stats import (
    coord_interval,
    coord_summary,
    near_optimal_lrs,
    numeric_interval,
    optimum_slope,
    transfer_interval,
    wider_intervals,
)
from scalelab.experiments.mup_derivation.tables import (
    curve_table,
    loss_cube,
    loss_table,
    optimum_table,
    seed_hours,
    seed_noise,
    transfer_resolvable,
)

__all__ = [
    # claims
    "BASE_MATCH_NATS", "CONST_SIGMA_CLAIMED", "CONST_SIGMA_DELTA", "COORD_DELTA", "COORD_GROWTH_CLAIMED",
    "COORD_SITES", "CRITERIA", "EXPERIMENT", "EXPONENT", "FLAT_SLOPE", "GROWTH_SLOPE", "HIDDEN_SITES", "LEVEL",
    "MIN_SEEDS", "MIN_STEPS", "MIN_WIDTH_RATIO", "NATS", "NB", "NOTEBOOK", "OCTAVES", "OLD_EVIDENCE", "OLD_VERDICTS",
    "OPNORM_BAD", "OPNORM_TOL", "PARAMETRIZATION_LABELS", "SLUG", "SOURCES", "SP_DRIFT_CLAIMED", "SP_DRIFT_DELTA",
    "STATEMENTS", "SWAPPED_CLAIMED", "SWAPPED_DELTA", "TRANSFER_DELTA", "VERSION", "WIDER_GAIN",
    # design
    "COORD_LR", "PLANS", "STAGE2", "STAGE2_SEEDS", "ChapterPlan", "chapter_plan", "model_config", "plan",
    "plan_summary", "stage2_plan", "stage_complete", "stage_plans",
    # numerics
    "NETS", "NUMERIC_BASE_WIDTH", "NUMERIC_CASES", "NUMERIC_INPUT_DIM", "NUMERIC_LR", "OPNORM_SEEDS", "OPNORM_SHAPES",
    "NumericCase", "a1_init_std", "fit_slope", "numeric_dims", "one_step", "operator_norm_check", "slope_table",
    "spectral_checks", "standard_draws",
    # recipes
    "PUBLISHED_RECIPES", "published_recipes",
    # coords
    "coord_check", "coord_ratios",
    # tables
    "curve_table", "loss_cube", "loss_table", "optimum_table", "seed_hours", "seed_noise", "transfer_resolvable",
    # stats
    "coord_interval", "coord_summary", "near_optimal_lrs", "numeric_interval", "optimum_slope", "transfer_interval",
    "wider_intervals",
    # analysis
    "analyze", "conjunction", "controls", "controls_table", "glue_values", "rule_change_table",
]
