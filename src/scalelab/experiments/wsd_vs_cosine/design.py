"""Chapter 3's design: the scale plans, the runs of each stage, and the records they produce.

:func:`plan` is the first stage (cosine, the stable runs and their branches); :func:`controls_plan` the
'controls' stage (cosine to zero, the exponential cooldown). :func:`analysed_records` admits a later stage
only once every one of its runs is recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from scalelab.chapter import recorded_all
from scalelab.experiments.wsd_vs_cosine.claims import (
    CONTROL_SHAPE,
    COSINE_FINAL_FRAC,
    DEFAULT_FRAC,
    DEFAULT_SHAPE,
    VERSION,
    WSD_FINAL_FRAC,
)
from scalelab.model import ModelConfig
from scalelab.runner import RunSpec
from scalelab.scales import validate_scale
from scalelab.schedules import MULTISTEP_LEVELS, ScheduleConfig, cooldown_start
from scalelab.train import TrainConfig


# ----------------------------------------------------------------------------- scale plans
@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale.

    One model: chapter 1's μP transformer (fixed head count, attention 1/d_head, σ = 1/√base_d_model
    at the base width), so the LR grid is placed around an optimum measured there. With a single width
    μP has nothing to transfer; it is used so the chapter's model is one whose LR landscape is known.

    Version 1 used a standard-parametrization d64 (σ = 0.02, 1/√d_head): at 500 cosine steps it reached
    only 2.17–2.38 nats/byte (chapter 1's μP d64: 1.85 on the same tokens) and its loss-vs-LR curve was
    not smooth (2^-7.5 worse than both neighbours by 0.1–0.2 nats at seed 0), so it was replaced after
    18 of its runs.
    """

    d_model: int
    n_layer: int
    n_head: int
    base_d_model: int  # μP base width; σ = 1/√base_d_model there (chapter 1's rule)
    seq_len: int
    batch_size: int
    budgets: tuple[int, ...]  # total steps per budget (tokens = steps · batch_size · seq_len)
    warmup_steps: int
    lr_exponents: tuple[float, ...]  # log2 of the peak-LR grid, evenly spaced
    second_seed_budgets: tuple[int, ...]  # budgets run at a second seed at every grid LR (the spread)
    fractions: tuple[float, ...]  # WSD decay fractions (1−√ shape)
    shapes: tuple[str, ...]  # WSD cooldown shapes (20%)
    sweep_budgets: tuple[int, ...]  # budgets with the fraction and shape variants
    eval_every: int  # held-out evaluation period of the stable run and the branches (divides 0.6B and 0.8B)
    cosine_eval_every: int
    eval_tokens: int

    @property
    def init_std(self) -> float:
        return 1.0 / math.sqrt(self.base_d_model)

    @property
    def grid_step(self) -> float:
        e = self.lr_exponents
        return (e[-1] - e[0]) / (len(e) - 1) if len(e) > 1 else float("inf")

    @property
    def variants(self) -> tuple[tuple[float, str], ...]:
        """All (decay_frac, decay_shape) of the WSD branches at the sweep budgets; the default first."""
        out = [(DEFAULT_FRAC, DEFAULT_SHAPE)]
        out += [(f, DEFAULT_SHAPE) for f in self.fractions if f != DEFAULT_FRAC]
        out += [(DEFAULT_FRAC, s) for s in self.shapes if s != DEFAULT_SHAPE]
        return tuple(out)


PLANS = {
    "smoke": ChapterPlan(
        d_model=32, n_layer=1, n_head=2, base_d_model=32, seq_len=32, batch_size=4, budgets=(20, 40), warmup_steps=2,
        lr_exponents=(-9.0, -6.0, -3.0), second_seed_budgets=(20,), fractions=(0.025, 0.1, 0.2),
        shapes=("linear", "1-sqrt"), sweep_budgets=(40,), eval_every=4, cosine_eval_every=4,
        eval_tokens=2048,
    ),
    "cpu": ChapterPlan(
        # chapter 1's cpu model at d64 (base 32): its 500-step cosine optimum is 2^-5.43, loss at 2^-4 already
        # 0.43 above it; constant-LR optima are expected ~1 octave lower (C3.5), hence 2^-8 … 2^-4
        d_model=64, n_layer=2, n_head=4, base_d_model=32, seq_len=128, batch_size=16, budgets=(500, 1000, 2000, 4000),
        warmup_steps=50, lr_exponents=tuple(e / 2 for e in range(-16, -7)),
        second_seed_budgets=(500, 1000), fractions=(0.025, 0.05, 0.1, 0.2, 0.4),
        shapes=("linear", "cosine", "1-sqrt"), sweep_budgets=(500, 1000, 2000, 4000), eval_every=100,
        cosine_eval_every=250, eval_tokens=65536,
    ),
    "gpu": ChapterPlan(
        # chapter 1's gpu model family (base 128) at d256; its LR grid is centred on the cpu optimum (μP transfer)
        d_model=256, n_layer=4, n_head=4, base_d_model=128, seq_len=256, batch_size=32,
        budgets=(1000, 2000, 4000, 8000, 16000), warmup_steps=100, lr_exponents=tuple(e / 2 for e in range(-18, -7)),
        second_seed_budgets=(1000, 2000, 4000), fractions=(0.025, 0.05, 0.1, 0.2, 0.4),
        shapes=("linear", "cosine", "1-sqrt"), sweep_budgets=(1000, 2000, 4000, 8000, 16000), eval_every=200,
        cosine_eval_every=500, eval_tokens=262144,
    ),
}


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def model_config(scale: str):
    """The one model of the chapter: μP with a fixed head count, attention 1/d_head, σ = 1/√base_d_model
    at the base width (chapter 1's model family)."""
    p = chapter_plan(scale)
    return ModelConfig(d_model=p.d_model, n_layer=p.n_layer, n_head=p.n_head, d_head=None, seq_len=p.seq_len,
                       parametrization="mup", attn_scale="inv_d", base_d_model=p.base_d_model,
                       init_std=p.init_std)


def _base(scale: str, lr: float, seed: int, **kw):
    p = chapter_plan(scale)
    return TrainConfig(model=model_config(scale), lr=lr, warmup_steps=p.warmup_steps, batch_size=p.batch_size,
                       eval_tokens=p.eval_tokens, seed=seed, **kw)


def branch_start(total_steps: int, warmup_steps: int, decay_frac: float, schedule: str = "wsd") -> int:
    """Step at which a branch leaves the constant LR: the WSD cooldown start, or multistep's first drop."""
    if schedule == "multistep":
        frac = MULTISTEP_LEVELS[0][0]
        return -(-round(10 * frac) * total_steps // 10)  # first s with 10·s ≥ 8·total (the schedule's own test)
    return cooldown_start(ScheduleConfig(name="wsd", warmup_steps=warmup_steps, total_steps=total_steps,
                                         decay_frac=decay_frac, decay_shape=DEFAULT_SHAPE, final_frac=WSD_FINAL_FRAC))


def _branch_points(p: ChapterPlan, budgets) -> list[tuple[int, float, str, str]]:
    """(budget, decay_frac, shape, schedule) of every branch at these budgets."""
    out = []
    for b in budgets:
        variants = p.variants if b in p.sweep_budgets else ((DEFAULT_FRAC, DEFAULT_SHAPE),)
        out += [(b, f, s, "wsd") for f, s in variants]
        out.append((b, DEFAULT_FRAC, DEFAULT_SHAPE, "multistep"))
    return out


def _cosine(scale: str, p: ChapterPlan, experiment: str, lr: float, seed: int, budget: int, final_frac: float):
    """One cosine run to ``final_frac`` of the peak (10% for ``cosine``, 0 for ``cosine_to_zero``)."""
    return RunSpec(experiment, _base(scale, lr, seed, schedule="cosine", total_steps=budget, final_frac=final_frac,
                                     eval_every=p.cosine_eval_every), VERSION)


def plan(scale: str, seed: int = 0) -> list:
    """All runs at ``scale``: seed ``seed`` everywhere; seed ``seed + 1`` at every grid LR for the
    ``second_seed_budgets`` (cosine, stable run up to the largest of them, WSD default, multistep).

    Parents (stable runs) come before their branches.

    Raises:
        ValueError: on an unknown scale.
    """
    p = chapter_plan(scale)
    specs = []
    for s, budgets in ((seed, p.budgets), (seed + 1, p.second_seed_budgets)):
        for e in p.lr_exponents:
            lr = 2.0 ** e
            for b in budgets:
                specs.append(_cosine(scale, p, "cosine", lr, s, b, COSINE_FINAL_FRAC))
            points = _branch_points(p, budgets) if s == seed else [
                pt for pt in _branch_points(p, budgets) if (pt[1], pt[2]) == (DEFAULT_FRAC, DEFAULT_SHAPE)]
            starts = tuple(sorted({branch_start(b, p.warmup_steps, f, sch) for b, f, _, sch in points}))
            stable = RunSpec("constant", _base(scale, lr, s, schedule="constant", total_steps=max(budgets),
                                               eval_every=p.eval_every, checkpoint_steps=starts), VERSION)
            specs.append(stable)
            for b, f, shape, sch in points:
                start = branch_start(b, p.warmup_steps, f, sch)
                extra = {} if sch == "multistep" else {"decay_frac": f, "decay_shape": shape,
                                                       "final_frac": WSD_FINAL_FRAC}
                cfg = _base(scale, lr, s, schedule=sch, total_steps=b, eval_every=p.eval_every,
                            init_from=stable.config_key, init_step=start, **extra)
                specs.append(RunSpec(sch, cfg, VERSION))
    return specs


# ----------------------------------------------------------------------------- stage 2: the missing controls
def controls_plan(scale: str, seed: int = 0) -> list:
    """Stage "controls" (added after the first stage's results were seen; the page says so): ``cosine_to_zero``,
    cosine to 0 instead of 10% of the peak, at every budget and grid LR, with the same seeds as ``cosine`` — WSD
    cools down to 0, so C3.1 compares like with like only against this (C3.1b).

    The stage renders only once all its runs are recorded (:func:`stage_complete`).
    """
    p = chapter_plan(scale)
    specs = []
    for s, budgets in ((seed, p.budgets), (seed + 1, p.second_seed_budgets)):
        for e in p.lr_exponents:
            lr = 2.0 ** e
            for b in budgets:
                specs.append(_cosine(scale, p, "cosine_to_zero", lr, s, b, 0.0))
    return specs


REPLICA_TRUNK = "stable_replica"  # a stable run trained again, here, for the exponential-cooldown stage
REPLICA_BRANCH = "wsd_replica"  # its 20% cooldowns: MiniCPM's exponential and the 1−√ reference, paired by trunk
REPLICA_EXPERIMENTS = (REPLICA_TRUNK, REPLICA_BRANCH)


def exp_cooldown_plan(scale: str, seed: int = 0) -> list:
    """Stage "exp_cooldown": MiniCPM's ``exp`` cooldown at the default 20% against the 1−√ reference, both branched
    from a *replica* of each seed-``seed`` stable run — the same configuration trained again (experiment
    ``stable_replica``, so its own key and checkpoints), every budget and grid LR.

    Both shapes branch from one replica, so their difference is paired within a trunk trained on one machine.
    The first version of this stage branched the exponential cooldowns from the committed stable runs; their
    checkpoints had to be recreated on another machine, which reproduces them only at the smaller learning
    rates (the page shows the measurement), so the two shapes would have started from different states. That
    version was never recorded; this one replaced it, and was split from cosine to zero (planned with it as one
    stage, "controls"), after those results were seen.
    """
    p = chapter_plan(scale)
    starts = tuple(sorted({branch_start(b, p.warmup_steps, DEFAULT_FRAC) for b in p.budgets}))
    specs = []
    for e in p.lr_exponents:
        lr = 2.0 ** e
        trunk = RunSpec(REPLICA_TRUNK, _base(scale, lr, seed, schedule="constant", total_steps=max(p.budgets),
                                             eval_every=p.eval_every, checkpoint_steps=starts), VERSION)
        specs.append(trunk)
        for b in p.budgets:
            start = branch_start(b, p.warmup_steps, DEFAULT_FRAC)
            for shape in (DEFAULT_SHAPE, CONTROL_SHAPE):
                cfg = _base(scale, lr, seed, schedule="wsd", total_steps=b, eval_every=p.eval_every,
                            init_from=trunk.config_key, init_step=start, decay_frac=DEFAULT_FRAC,
                            decay_shape=shape, final_frac=WSD_FINAL_FRAC)
                specs.append(RunSpec(REPLICA_BRANCH, cfg, VERSION))
    return specs


LATER_STAGES = ("controls", "exp_cooldown")


ANALYSED_STAGES = LATER_STAGES  # the later stages analyze() reads, once complete (scalelab.runner.chapter_records)


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The chapter's stages in order: ``base`` (what the page has rendered since version 2), ``controls``
    (cosine to zero) and ``exp_cooldown``. A sweep runs them all; a stage is analysed only when every one of its
    runs is recorded."""
    return {"base": plan(scale, seed=seed), "controls": controls_plan(scale, seed=seed),
            "exp_cooldown": exp_cooldown_plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = "controls", seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (matched by config key)."""
    return recorded_all(stage_plans(scale, seed)[stage], records)


# ----------------------------------------------------------------------------- stages
def _stage_of(r: dict) -> str:
    """Which stage a record belongs to: ``controls`` (cosine to zero), ``exp_cooldown`` (the replica stable runs
    and their cooldowns) or ``base``."""
    if r["experiment"] == "cosine_to_zero":
        return "controls"
    if r["experiment"] in REPLICA_EXPERIMENTS:
        return "exp_cooldown"
    return "base"


def _is_control_record(r: dict) -> bool:
    """A record of a later stage: cosine to zero, or the exponential-cooldown stage's replicas."""
    return _stage_of(r) != "base"


def _seed0(records: list[dict]) -> int:
    return min((r["config"]["seed"] for r in records), default=0)


@lru_cache(maxsize=16)
def _stage_keys(scale: str, seed: int, stage: str) -> frozenset:
    """Config keys of a later stage (memoized: building the plans hashes ~1,000 configs)."""
    fn = {"controls": controls_plan, "exp_cooldown": exp_cooldown_plan}[stage]
    return frozenset(s.config_key for s in fn(scale, seed=seed))


def controls_progress(records: list[dict], scale: str, stage: str = "controls") -> tuple[int, int]:
    """(recorded, planned) runs of a later stage among ``records``."""
    if stage not in LATER_STAGES:
        raise ValueError(f"unknown stage {stage!r}; valid: {', '.join(LATER_STAGES)}")
    have = {r.get("config_key") for r in records}
    keys = _stage_keys(validate_scale(scale), _seed0(records), stage)
    return len(keys & have), len(keys)


def _is_whole(progress: tuple[int, int]) -> bool:
    done, planned = progress
    return done == planned


def analysed_records(records: list[dict], scale: str) -> list[dict]:
    """The records the analysis uses: the first stage always, each later stage only once every one of its
    runs is recorded (:func:`stage_complete`), so that a stage part-way never changes a verdict."""
    present = {_stage_of(r) for r in records}
    complete = {st for st in LATER_STAGES if st in present and _is_whole(controls_progress(records, scale, st))}
    return [r for r in records if _stage_of(r) in ("base", *complete)]
