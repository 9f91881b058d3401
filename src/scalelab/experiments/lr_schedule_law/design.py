"""Chapter 6's design: the scale plans, the proposed-schedule runs (C6.3), and the records the chapter reads
from chapters 3 and 5."""

from __future__ import annotations

from dataclasses import dataclass

from scalelab.chapter import recorded_all
from scalelab.experiments import chinchilla
from scalelab.experiments import wsd_vs_cosine as ch3
from scalelab.experiments.lr_schedule_law.claims import EXP_PROPOSED, LAWS, VERSION
from scalelab.runner import RunSpec
from scalelab.scales import validate_scale


# ----------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale (the rest is chapters 3 and 5's plans).

    Attributes:
        min_step: evaluations before this step are left out of every fit (and of the curve RMSE).
        fit_max_budget: the fit set's trunk points and cooldowns stop at this many steps; larger budgets
            are a horizon the fit never saw.
        design_budget: C6.3's budget (one with a second seed in chapter 3, for the paired comparison).
        proposed_seeds: seeds of each proposed schedule.
        family_fracs: C6.3's WSD cooldown fractions.
        family_finals: C6.3's final LRs (fractions of the peak).
    """

    fit_max_budget: int
    design_budget: int
    min_step: int  # evaluations before this step are not fitted (the fast initial drop no power law in S1 follows)
    proposed_seeds: int = 2
    max_nfev: int = 300  # optimiser evaluations per fit start (smoke's few points need more to settle)
    family_fracs: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 21))
    family_finals: tuple[float, ...] = (0.0, 0.05, 0.1)


PLANS = {
    "smoke": ChapterPlan(fit_max_budget=40, design_budget=20, min_step=8, max_nfev=3000,
                         family_fracs=(0.1, 0.2, 0.5, 0.9)),
    "cpu": ChapterPlan(fit_max_budget=2000, design_budget=1000, min_step=300),
    "gpu": ChapterPlan(fit_max_budget=8000, design_budget=2000, min_step=600),
}

# C6.3's proposals: the output of ``propose(records, scale)`` on the records as they were when the runs were
# planned (chapter 3's base stage, complete). Recomputing them is not part of the analysis (CI never re-optimises);
# the notebook shows them and what produced them. None: not planned at that scale.
PROPOSED: dict[str, dict | None] = {
    "smoke": None,  # smoke records are throwaway; the stage is exercised at cpu
    # propose(run("cpu", records_only=True), "cpu"), chapter 3's base stage complete (396 records), at commit time
    "cpu": {"lr": 0.015625, "budget": 1000,
            "schedules": {"annealing": {"schedule": "wsd", "decay_frac": 0.15, "decay_shape": "cosine",
                                        "final_frac": 0.0},
                          "multi-power": {"schedule": "wsd", "decay_frac": 0.1, "decay_shape": "exp",
                                          "final_frac": 0.05}},
            "predicted": {"annealing": 1.476512406601742, "multi-power": 1.4859615550138212}},
    "gpu": None,
}


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def input_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The runs this chapter reads, by the store that holds them: chapter 3's base plan, chapter 5's plan."""
    return {"wsd_vs_cosine": ch3.plan(scale, seed=seed), "chinchilla": chinchilla.plan(scale, seed=seed)}


def plan(scale: str, seed: int = 0) -> list:
    """This chapter's own runs (its store): each proposed schedule of :data:`PROPOSED` at the design budget
    and LR, seeds ``seed`` … ``seed + proposed_seeds − 1``, on chapter 3's model. Empty where nothing is
    proposed yet.

    Raises:
        ValueError: on an unknown scale.
    """
    p = chapter_plan(scale)
    prop = PROPOSED[scale]
    if not prop:
        return []
    q = ch3.chapter_plan(scale)
    seen, specs = set(), []
    for law in LAWS:
        sch = prop["schedules"][law]
        key = tuple(sorted(sch.items()))
        if key in seen:
            continue
        seen.add(key)
        for s in range(seed, seed + p.proposed_seeds):
            cfg = ch3._base(scale, prop["lr"], s, total_steps=p.design_budget, eval_every=q.eval_every, **sch)
            specs.append(RunSpec(EXP_PROPOSED, cfg, VERSION))
    return specs


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """Stages of this chapter's own runs: ``proposed`` (C6.3), rendered only once complete."""
    return {"proposed": plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = "proposed", seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (and the stage has runs)."""
    specs = stage_plans(scale, seed)[stage]
    return bool(specs) and recorded_all(specs, records)

