"""Chapter 6 — One law for every schedule: predict cosine from constant-LR runs and their cooldowns.

Two laws model the whole loss curve as a function of the learning-rate schedule
(:mod:`scalelab.fit.schedule_law`): the LR-annealing law of Tissue et al. (arXiv 2408.11029v1) and the
multi-power law of Luo et al. (arXiv 2503.12811v1). Both claim that, fitted on one or a few
schedules, they predict the loss under unseen ones (claims C6.1–C6.4 of the book).

The chapter trains almost nothing: it reads chapter 3's store (``wsd_vs_cosine``: per peak LR a
constant-LR trunk with WSD, multi-step branches and cosine runs, at four budgets, two seeds at the two
smallest) and chapter 5's (``chinchilla``: one constant-LR run per model size with 1−√ cooldown
branches). Design, per peak LR of chapter 3's grid:

* **fit set** — the constant-LR trunk up to ``fit_max_budget`` steps and the *linear* WSD cooldowns
  (20 %, to 0) at the budgets ≤ ``fit_max_budget`` (seed ``seed``);
* **held out** — everything else at that LR: cosine to 10 % (and to 0 once chapter 3's "controls"
  stage is recorded), multi-step, the 1−√ and cosine cooldown shapes, the other fractions, the
  exponential shape (once its "exp_cooldown" stage is recorded), and every schedule at the largest budget
  (a horizon twice the fit's).

The prediction error of a held-out run is predicted minus measured final held-out loss; it is judged
against the chapter-3 seed noise τ = 2·√2·σ_seed (two standard errors of a difference of two runs).
C6.3 minimises each fitted law's predicted final loss over a family of schedules at one budget
(:func:`propose`, run once when the runs were planned; its output is :data:`PROPOSED`) and plans two
seeds of each proposal (:func:`plan`, this chapter's own store). C6.4 fits the annealing law per
model size on chapter 5's stable curve plus its first cooldown and predicts the other cooldowns
("virtual cooldowns").

Used by ``notebooks/06_lr_schedule_law.ipynb``.
"""

from __future__ import annotations

from .analysis import (
    Analysis,
    analysis,
    analyze,
    glue_values,
)
from .claims import (
    BEAT_MARGIN,
    CH3,
    CH5,
    CRITERIA,
    EXP_PROPOSED,
    FIT_FRAC,
    FIT_SHAPE,
    LAW_LABELS,
    LAWS,
    NB,
    NOISE_SE,
    NOTEBOOK,
    READS,
    SLUG,
    SOURCES,
    STATEMENTS,
    VERSION,
    WSD_LIKE_FINAL,
    WSD_LIKE_STABLE,
)
from .design import (
    PLANS,
    PROPOSED,
    ChapterPlan,
    chapter_plan,
    input_plans,
    plan,
    stage_complete,
    stage_plans,
)
from .proposals import (
    design_lr,
    family,
    propose,
    schedule_scores,
    wsd_like,
)
from .tables import (
    annealing_areas,
    error_by_schedule,
    fit_laws,
    fit_set_mask,
    fit_table,
    per_lr_error,
    predictions,
    ranking_agreement,
    rankings,
    runs_table,
    schedule_label,
    seed_noise,
)
from .virtual import (
    ch5_design_decay,
    virtual_cooldowns,
)

__all__ = [
    "Analysis", "analysis", "analyze", "annealing_areas", "BEAT_MARGIN", "CH3", "CH5", "ch5_design_decay",
    "chapter_plan", "ChapterPlan", "CRITERIA", "design_lr", "error_by_schedule", "EXP_PROPOSED", "family",
    "FIT_FRAC", "fit_laws", "fit_set_mask", "FIT_SHAPE", "fit_table", "glue_values", "input_plans", "LAW_LABELS",
    "LAWS", "NB", "NOISE_SE", "NOTEBOOK", "per_lr_error", "plan", "PLANS", "predictions", "propose", "PROPOSED",
    "ranking_agreement", "rankings", "READS", "runs_table", "schedule_label", "schedule_scores",
    "seed_noise", "SLUG", "SOURCES", "stage_complete", "stage_plans", "STATEMENTS", "VERSION", "virtual_cooldowns",
    "wsd_like", "WSD_LIKE_FINAL", "WSD_LIKE_STABLE",
]
