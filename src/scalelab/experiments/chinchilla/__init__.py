"""Chapter 5: Chinchilla's three methods on our runs, on Chinchilla's own points, and beyond compute-optimal.

Hoffmann et al. (arXiv 2203.15556) estimated the compute-optimal allocation N_opt ∝ C^a, D_opt ∝ C^b
three ways: §3.1 the lower envelope of training curves (approach 1), §3.2 IsoFLOP parabolas
(approach 2) and §3.3 a parametric fit L(N, D) = E + A/N^α + B/D^β (approach 3), and reported
a ≈ 0.50 / 0.49 / 0.46 (Table 2). Besiroglu et al. (arXiv 2404.10102) re-extracted the points
behind approach 3 and found the published fit inconsistent with them.

* **Part A — our runs.** Per model size one constant-LR ("stable") run, and one WSD cooldown
  branch (1-sqrt, last 20 % of the steps, down to 0; Hägele et al. arXiv 2405.18392) started from
  its checkpoint at every token count that lands on an IsoFLOP budget, so a size's runs share their
  stable phase (:func:`ledger`). Approaches 1–3 (:mod:`scalelab.fit`) on the cooldown endpoints;
  then a held-out budget ≥ 3× the largest fitted one, predicted before it is looked at.
* **Part B — published data** (no training; :func:`part_b`): Epoch's points, the fit-sensitivity
  panel, CS336's synthetic IsoFLOPs, Porian et al.'s (arXiv 2406.19146) IsoFLOP curves.
* **Part C — beyond compute-optimal**: tokens per parameter in practice, and the inference-aware
  allocation of Sardana et al. (arXiv 2401.00448): minimise 6·N·D + 2·N·D_inf at a target loss
  (:func:`inference_optimal`).

FLOP convention of Part A: C = 6·N·D with N the total parameter count (embeddings, positions and
readout included, as the trainer counts it); :func:`convention_table` shows how the answer moves
under non-embedding N and Hoffmann et al.'s App. F FLOP count. Loss: nats per byte (byte tokens).
Used by ``notebooks/05_chinchilla.ipynb``.
"""

from __future__ import annotations

from .analysis import (
    _checks_a,
    _checks_b,
    _verdicts_a,
    _verdicts_b,
    analyze,
    control_results,
    controls,
    glue_values,
    mean_start_summary,
    rule_changes,
)
from .claims import (
    A_CLAIMED,
    A_DELTA,
    A_EPOCH_GAP,
    BUDGET_TOL,
    CHINCHILLA_C,
    CRITERIA,
    CS336_TOL,
    DECAY_FRAC,
    DECAY_SHAPE,
    DENSE_BRANCHES,
    DENSE_SPAN,
    EARLY_REL,
    EPOCH_TOL,
    EXP_DENSE,
    EXP_FIT,
    EXP_HELDOUT,
    EXP_LR,
    EXP_LR_STABLE,
    EXP_STABLE,
    HELDOUT_EXTRA_SEEDS,
    LLAMA_TOL,
    LOSS_TOL,
    LR_CHECK_OCTAVES,
    MIN_BUDGETS,
    MIN_C_SPAN,
    MIN_HELDOUT_RATIO,
    MIN_N_SPAN,
    MIN_SIZES,
    MIN_SIZES_PER_BUDGET,
    NB,
    NOTEBOOK,
    OLD_VERDICTS,
    PORIAN_CORRECTED_A,
    PORIAN_DATASETS,
    PORIAN_DELTA,
    PORIAN_FIRST_MIN,
    PORIAN_KAPLAN_A,
    PORIAN_MAIN,
    PORIAN_STEPS,
    SLUG,
    SOURCES,
    START_MAJORITY,
    STATEMENTS,
    TPP_OCTAVES,
    VERSION,
    criteria_table,
)
from .cost import (
    ledger,
    plan_summary,
    seconds_per_step,
    stage_cost,
)
from .design import (
    ANALYSED_STAGES,
    PLANS,
    ChapterPlan,
    branch_steps,
    chapter_plan,
    controls_plan,
    design_ok,
    grid,
    model_config,
    num_params,
    plan,
    stage_complete,
    stage_plans,
)
from .frontier import (
    CONVENTIONS,
    PartA,
    convention_table,
    exponents_table,
    part_a,
)
from .inference import (
    inference_curve,
    inference_optimal,
    tokens_for_loss,
)
from .laws import (
    _starts,
    hoffmann_params,
    huber_objective,
    law_from_params,
)
from .published_data import (
    epoch_intervals,
    mean_start_table,
    part_b,
    practice_table,
)
from .tables import (
    endpoint_curves,
    endpoints,
    heldout_best,
    stable_curves,
    vertex_interval,
)

# every name the notebook, the plotting module, other chapters, scripts and tests use as chinchilla.X (the
# underscored ones are helpers the unit tests call directly)
__all__ = [
    "ANALYSED_STAGES",
    "A_CLAIMED",
    "A_DELTA",
    "A_EPOCH_GAP",
    "BUDGET_TOL",
    "CHINCHILLA_C",
    "CONVENTIONS",
    "CRITERIA",
    "CS336_TOL",
    "ChapterPlan",
    "DECAY_FRAC",
    "DECAY_SHAPE",
    "DENSE_BRANCHES",
    "DENSE_SPAN",
    "EARLY_REL",
    "EPOCH_TOL",
    "EXP_DENSE",
    "EXP_FIT",
    "EXP_HELDOUT",
    "EXP_LR",
    "EXP_LR_STABLE",
    "EXP_STABLE",
    "HELDOUT_EXTRA_SEEDS",
    "LLAMA_TOL",
    "LOSS_TOL",
    "LR_CHECK_OCTAVES",
    "MIN_BUDGETS",
    "MIN_C_SPAN",
    "MIN_HELDOUT_RATIO",
    "MIN_N_SPAN",
    "MIN_SIZES",
    "MIN_SIZES_PER_BUDGET",
    "NB",
    "NOTEBOOK",
    "OLD_VERDICTS",
    "PLANS",
    "PORIAN_CORRECTED_A",
    "PORIAN_DATASETS",
    "PORIAN_DELTA",
    "PORIAN_FIRST_MIN",
    "PORIAN_KAPLAN_A",
    "PORIAN_MAIN",
    "PORIAN_STEPS",
    "PartA",
    "SLUG",
    "SOURCES",
    "START_MAJORITY",
    "STATEMENTS",
    "TPP_OCTAVES",
    "VERSION",
    "_checks_a",
    "_checks_b",
    "_starts",
    "_verdicts_a",
    "_verdicts_b",
    "analyze",
    "branch_steps",
    "chapter_plan",
    "control_results",
    "controls",
    "controls_plan",
    "convention_table",
    "criteria_table",
    "design_ok",
    "endpoint_curves",
    "endpoints",
    "epoch_intervals",
    "exponents_table",
    "glue_values",
    "grid",
    "heldout_best",
    "hoffmann_params",
    "huber_objective",
    "inference_curve",
    "inference_optimal",
    "law_from_params",
    "ledger",
    "mean_start_summary",
    "mean_start_table",
    "model_config",
    "num_params",
    "part_a",
    "part_b",
    "plan",
    "plan_summary",
    "practice_table",
    "rule_changes",
        "seconds_per_step",
    "stable_curves",
    "stage_complete",
    "stage_cost",
    "stage_plans",
    "tokens_for_loss",
    "vertex_interval",
]
