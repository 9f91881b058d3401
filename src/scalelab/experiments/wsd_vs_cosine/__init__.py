"""Chapter 3 — WSD vs cosine, and WSD as a measuring instrument.

The chapter tests the warmup–stable–decay (WSD) schedule against the cosine baseline on one model
and four token budgets (claims C3.1–C3.7 of the book):

* MiniCPM (Hu et al. 2024, arXiv 2404.06395, §4): WSD with a short decay matches cosine; ~10% of the
  steps in the decay suffices and 2.5% falls short; the loss drops sharply in the decay.
* Hägele et al. 2024 (arXiv 2405.18392, §3–5): a constant LR with a ~20% cooldown matches cosine
  (to 10% of the peak, their baseline); a 1−√ cooldown beats a linear one; the best constant LR is
  about half of cosine's best peak; one long run with cooldowns branched from its checkpoints
  replaces one cosine run per budget in a data-scaling study.
* DeepSeek LLM (arXiv 2401.02954, §2.3): a multi-step schedule (full LR for 80% of the steps, then
  31.6%, then 10% from 90%) performs on par with cosine.

Protocols (one model size — chapter 1's μP model, whose 500-step cosine LR optimum chapter 1 measured —
a peak-LR grid with spacing √2):

* ``cosine``: one run per budget, linear warmup then a half cosine to 10% of the peak.
* ``constant`` (the *stable* run): one run per peak LR, warmup then a constant LR to the largest
  budget, saving a checkpoint at every cooldown start. Its held-out loss at step B is the
  "constant LR, no cooldown" loss at budget B (C3.5).
* ``wsd``: a cooldown branch per (budget, decay fraction, shape), started from the stable run's
  checkpoint at :func:`scalelab.schedules.cooldown_start` and cooling down to 0 (Hägele's code
  default ``final_lr = 0``). Default: 20%, 1−√. The trainer is deterministic and the batch of a step
  is a pure function of (seed, step), so a branch is exactly the from-scratch WSD run.
* ``multistep``: DeepSeek's schedule. Before its first drop at 80% of the budget it *is* the
  constant schedule, so it too branches from the stable checkpoint at 0.8·B (DeepSeek reuse the
  first stage in the same way) — the same step as the 20% cooldown start.

:func:`analyze` computes validity checks and verdicts by the criteria stated in :mod:`.claims`;
:func:`ledger` counts the compute each protocol actually spent, from the records.

Used by ``notebooks/03_wsd_vs_cosine.ipynb``.
"""

from __future__ import annotations

from .analysis import (
    analyze,
    control_changes,
    controls,
    glue_values,
    noise_table,
    rule_changes,
    shape_table,
)
from .claims import (
    CONTROL_MIN_GAIN,
    CONTROL_SCALES,
    CONTROL_SHAPE,
    COOLDOWN_RATIO,
    COSINE_FINAL_FRAC,
    CRITERIA,
    DEFAULT_FRAC,
    DEFAULT_SHAPE,
    GAP_CLAIMED,
    GAP_DELTA,
    HALF_CLAIMED,
    HALF_DELTA,
    LABELS,
    LEDGER_RTOL,
    LEVEL,
    MATCH_DELTA,
    NB,
    NEAR_STEPS,
    NOTEBOOK,
    PROTOCOLS,
    REPRO_ATOL,
    RULE,
    RULE_CHANGES,
    SLUG,
    SOURCES,
    STATEMENTS,
    VERSION,
    WSD_FINAL_FRAC,
)
from .cost import (
    closed_form_steps,
    ledger,
    ledger_totals,
    measured_saving,
    plan_summary,
    saving_curve,
    unit_costs,
)
from .design import (
    ANALYSED_STAGES,
    LATER_STAGES,
    PLANS,
    REPLICA_BRANCH,
    REPLICA_EXPERIMENTS,
    REPLICA_TRUNK,
    ChapterPlan,
    _base,
    _is_control_record,
    _stage_of,
    analysed_records,
    branch_start,
    chapter_plan,
    controls_plan,
    controls_progress,
    exp_cooldown_plan,
    model_config,
    plan,
    stage_complete,
    stage_plans,
)
from .intervals import (
    best_of_interval,
    paired_interval,
    seed_interval,
)
from .provenance import checkpoint_recreation, recreation_path, recreation_values
from .tables import (
    comparison_table,
    cooldown_drops,
    finals,
    loss_curves,
    near_optimal,
    optima,
    pick,
    replica_records,
    replica_reproducibility,
    replicated_budgets,
    schedule_curves,
    seed_spread,
    shared_runs,
    trunk_cells,
)

__all__ = [
    "ANALYSED_STAGES",
    "analysed_records", "analyze", "_base", "best_of_interval", "branch_start", "chapter_plan", "ChapterPlan",
    "closed_form_steps", "comparison_table", "control_changes", "CONTROL_MIN_GAIN", "CONTROL_SCALES",
    "CONTROL_SHAPE", "controls", "controls_plan", "controls_progress", "cooldown_drops", "COOLDOWN_RATIO",
    "COSINE_FINAL_FRAC", "CRITERIA", "DEFAULT_FRAC", "DEFAULT_SHAPE", "finals", "GAP_CLAIMED", "GAP_DELTA",
    "glue_values", "HALF_CLAIMED", "HALF_DELTA", "_is_control_record",
    "checkpoint_recreation", "recreation_path", "recreation_values",
    "_stage_of", "exp_cooldown_plan", "LATER_STAGES", "replica_records", "replica_reproducibility",
    "REPLICA_TRUNK", "REPLICA_BRANCH", "REPLICA_EXPERIMENTS", "LABELS", "ledger", "LEDGER_RTOL",
    "ledger_totals", "LEVEL", "loss_curves", "MATCH_DELTA", "measured_saving", "model_config", "NB", "near_optimal",
    "NEAR_STEPS", "noise_table", "NOTEBOOK", "optima", "paired_interval", "pick", "plan", "plan_summary", "PLANS",
    "PROTOCOLS", "replicated_budgets", "REPRO_ATOL", "RULE", "rule_changes", "RULE_CHANGES", "saving_curve",
    "schedule_curves", "seed_interval", "seed_spread", "shape_table", "shared_runs", "SLUG", "SOURCES",
    "stage_complete", "stage_plans", "STATEMENTS", "trunk_cells", "unit_costs", "VERSION", "WSD_FINAL_FRAC",
]
