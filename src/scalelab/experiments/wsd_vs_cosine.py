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

:func:`analyze` computes validity checks and verdicts by the criteria stated in the module
constants below; :func:`ledger` counts the compute each protocol actually spent, from the records.

Used by ``notebooks/03_wsd_vs_cosine.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scalelab.chapter import recorded_all
from scalelab.scales import validate_scale

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
    from scalelab.model import ModelConfig

    p = chapter_plan(scale)
    return ModelConfig(d_model=p.d_model, n_layer=p.n_layer, n_head=p.n_head, d_head=None, seq_len=p.seq_len,
                       parametrization="mup", attn_scale="inv_d", base_d_model=p.base_d_model,
                       init_std=p.init_std)


def _base(scale: str, lr: float, seed: int, **kw):
    from scalelab.train import TrainConfig

    p = chapter_plan(scale)
    return TrainConfig(model=model_config(scale), lr=lr, warmup_steps=p.warmup_steps, batch_size=p.batch_size,
                       eval_tokens=p.eval_tokens, seed=seed, **kw)


def branch_start(total_steps: int, warmup_steps: int, decay_frac: float, schedule: str = "wsd") -> int:
    """Step at which a branch leaves the constant LR: the WSD cooldown start, or multistep's first drop."""
    from scalelab.schedules import MULTISTEP_LEVELS, ScheduleConfig, cooldown_start

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


def plan(scale: str, seed: int = 0) -> list:
    """All runs at ``scale``: seed ``seed`` everywhere; seed ``seed + 1`` at every grid LR for the
    ``second_seed_budgets`` (cosine, stable run up to the largest of them, WSD default, multistep).

    Parents (stable runs) come before their branches.

    Raises:
        ValueError: on an unknown scale.
    """
    from scalelab.runner import RunSpec

    p = chapter_plan(scale)
    specs = []
    for s, budgets in ((seed, p.budgets), (seed + 1, p.second_seed_budgets)):
        for e in p.lr_exponents:
            lr = 2.0 ** e
            for b in budgets:
                specs.append(RunSpec("cosine", _base(scale, lr, s, schedule="cosine", total_steps=b,
                                                     final_frac=COSINE_FINAL_FRAC, eval_every=p.cosine_eval_every),
                                     VERSION))
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
CONTROL_SHAPE = "exp"  # MiniCPM's exponential cooldown (half-life: scalelab.schedules.EXP_HALF_LIFE_FRAC)


def controls_plan(scale: str, seed: int = 0) -> list:
    """Stage "controls" (added after the first stage's results were seen; the page says so):

    * ``cosine_to_zero``: cosine to 0 instead of 10% of the peak, at every budget and grid LR, with the same
      seeds as ``cosine`` — WSD cools down to 0, so C3.1 compares like with like only against this;
    * ``wsd`` with the ``exp`` cooldown shape (MiniCPM's) at the default 20%, seed ``seed``, every budget and
      grid LR, branched from the first stage's stable runs (their keys do not change: checkpoint steps are
      not part of a run's key, and a missing checkpoint is recreated without a second record).

    The stage renders only once all its runs are recorded (:func:`stage_complete`).
    """
    from scalelab.runner import RunSpec

    p = chapter_plan(scale)
    base = plan(scale, seed=seed)
    stables = {(sp.config.seed, sp.config.lr): sp for sp in base if sp.experiment == "constant"}
    specs = []
    for s, budgets in ((seed, p.budgets), (seed + 1, p.second_seed_budgets)):
        for e in p.lr_exponents:
            lr = 2.0 ** e
            for b in budgets:
                specs.append(RunSpec("cosine_to_zero", _base(scale, lr, s, schedule="cosine", total_steps=b,
                                                             final_frac=0.0, eval_every=p.cosine_eval_every),
                                     VERSION))
    for e in p.lr_exponents:
        lr = 2.0 ** e
        stable = stables[(seed, lr)]
        for b in p.budgets:
            start = branch_start(b, p.warmup_steps, DEFAULT_FRAC)
            cfg = _base(scale, lr, seed, schedule="wsd", total_steps=b, eval_every=p.eval_every,
                        init_from=stable.config_key, init_step=start, decay_frac=DEFAULT_FRAC,
                        decay_shape=CONTROL_SHAPE, final_frac=WSD_FINAL_FRAC)
            specs.append(RunSpec("wsd", cfg, VERSION))
    return specs


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The chapter's stages in order: ``base`` (what the page has rendered since version 2) and ``controls``.
    A sweep runs them all; a stage is analysed only when every one of its runs is recorded."""
    return {"base": plan(scale, seed=seed), "controls": controls_plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = "controls", seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (matched by config key)."""
    return recorded_all(stage_plans(scale, seed)[stage], records)


def run(scale: str, *, seed: int = 0, device: str = "auto", refresh: bool = False, records_only: bool = False,
        store=None) -> list[dict]:
    """The chapter's records at ``scale``: trained where missing, or looked up (``records_only``).

    The first stage (:func:`plan`) must be complete; the later stages (:func:`stage_plans`) are trained
    too, but in records-only mode their records are returned as far as they exist (a sweep may be part
    way), and :func:`analysed_records` uses a stage only once it is complete. Stable runs go first; a
    branch whose stable run diverged before its cooldown start has no checkpoint and is skipped (the
    diverged parent's record says why).

    Raises:
        ValueError: on an unknown scale.
        scalelab.sweep.MissingRecordsError: in records-only mode, when a run of the first stage has no
            record, naming the command that makes them.
    """
    from scalelab.book import validate_parameters
    from scalelab.paths import results_path
    from scalelab.runner import lookup, sweep
    from scalelab.store import RunStore

    validate_parameters(scale=scale, seed=seed, refresh=refresh, device=device, records_only=records_only)
    stages = stage_plans(scale, seed=seed)
    store = store if store is not None else RunStore(results_path(SLUG, scale))
    command = f"make chapter NB={NB} SCALE={scale}"
    out = []
    roots_all: list = []
    for i, specs in enumerate(stages.values()):
        roots = [s for s in specs if s.config.init_from is None]
        if records_only and i > 0:
            have = store.by_config_key()
            out += [have[s.config_key] for s in specs if s.config_key in have]
            continue
        root_recs = lookup(roots, store, command=command) if records_only else sweep(
            roots, store, device=device, refresh=refresh)
        roots_all += roots
        ok = {s.config_key for s, r in zip(roots, root_recs) if r["result"]["status"] == "finished"}
        ok |= {r.get("config_key") for r in out if r["experiment"] == "constant"
               and r["result"]["status"] == "finished"}
        branches = [s for s in specs if s.config.init_from is not None and s.config.init_from in ok]
        if records_only:
            branch_recs = lookup(branches, store, command=command)
        else:
            branch_recs = sweep(branches, store, device=device, refresh=refresh, parents=roots_all)
        out += [*root_recs, *branch_recs]
    return out


# ----------------------------------------------------------------------------- cost
def plan_summary(scale: str, seed: int = 0):
    """Runs, optimizer steps (incl. evaluation work in step-equivalents) and estimated hours per protocol.

    Hours from :func:`scalelab.sweep.estimated_seconds` (the reference machine's measured speed on cpu,
    a rough guess on gpu).
    """
    import pandas as pd

    from scalelab.runner import EVAL_FACTOR, estimated_seconds

    p = chapter_plan(scale)
    rows = {}
    for s in plan(scale, seed):
        c = s.config
        steps = c.total_steps - c.init_step
        n_eval = (len(range(c.init_step + 1, c.total_steps + 1)) // c.eval_every if c.eval_every else 0) + 1
        eval_equiv = n_eval * c.eval_tokens * EVAL_FACTOR / c.tokens_per_step
        r = rows.setdefault(s.experiment, {"protocol": s.experiment, "runs": 0, "steps": 0, "eval_step_equiv": 0.0,
                                           "est_hours": 0.0})
        r["est_hours"] += estimated_seconds(c, "gpu" if scale == "gpu" else "cpu") / 3600
        r["runs"] += 1
        r["steps"] += steps
        r["eval_step_equiv"] += eval_equiv
    df = pd.DataFrame(list(rows.values()))
    total = {"protocol": "total", "runs": int(df["runs"].sum()), "steps": int(df["steps"].sum()),
             "eval_step_equiv": float(df["eval_step_equiv"].sum()), "est_hours": float(df["est_hours"].sum())}
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    df["tokens_per_step"] = p.batch_size * p.seq_len
    return df


# ----------------------------------------------------------------------------- tables from records
def _variant(cfg: dict) -> tuple[float, str]:
    if cfg["schedule"] == "wsd":
        return float(cfg["decay_frac"]), cfg["decay_shape"]
    return float("nan"), ""


def finals(records: list[dict]):
    """One row per (protocol, variant, budget, LR, seed): the final held-out loss.

    The stable runs give one ``constant`` row per evaluation step that is a planned budget (the
    loss of a constant LR without cooldown at that budget). Diverged runs have ``loss`` NaN.
    """
    import pandas as pd

    budgets = sorted({r["config"]["total_steps"] for r in records if r["experiment"] != "constant"})
    rows = []
    for r in records:
        c, res = r["config"], r["result"]
        base = {"lr": c["lr"], "log2_lr": math.log2(c["lr"]), "seed": c["seed"], "status": res["status"]}
        if r["experiment"] == "constant":
            ev = dict(zip(res["eval_curve"]["step"], res["eval_curve"]["loss"]))
            for b in budgets:
                if b <= c["total_steps"] and (b in ev or res["status"] != "finished"):
                    loss = ev.get(b, float("nan"))
                    rows.append({"protocol": "constant", "decay_frac": float("nan"), "decay_shape": "", "budget": b,
                                 **base, "loss": float(loss) if loss is not None else float("nan")})
            continue
        f, s = _variant(c)
        loss = res["final_eval_loss"]
        rows.append({"protocol": r["experiment"], "decay_frac": f, "decay_shape": s, "budget": c["total_steps"],
                     **base, "loss": float(loss) if loss is not None else float("nan")})
    cols = ["protocol", "decay_frac", "decay_shape", "budget", "lr", "log2_lr", "seed", "status", "loss"]
    return pd.DataFrame(rows, columns=cols)


def _key_cols():
    return ["protocol", "decay_frac", "decay_shape", "budget"]


def optima(fin):
    """Per (protocol, variant, budget): the optimum of the seed-mean loss over the LR grid, by the book's one
    grid-optimum rule (:func:`scalelab.optimum.optimum_1d`).

    Columns: protocol, decay_frac, decay_shape, budget, best_loss (the best seed-mean grid loss),
    best_log2_lr (its LR), opt_log2_lr and loss_at_opt (the rule's optimum: the fitted vertex, or the best
    grid point when the rule does not fit), fitted, interior, n_lrs, seeds_at_best. A diverged run makes its
    LR's mean infinite: it stays on the grid (so an optimum next to a divergence is interior) but never
    enters the fit.
    """
    import pandas as pd

    from scalelab.optimum import optimum_1d

    rows = []
    f = fin.copy()
    f["decay_frac"] = f["decay_frac"].fillna(-1.0)
    f["loss"] = f["loss"].fillna(np.inf)  # a diverged seed makes that LR's mean infinite
    means = f.groupby([*_key_cols(), "log2_lr"], sort=True).agg(loss=("loss", "mean"), seeds=("seed", "nunique"))
    for key, m in means.groupby(level=list(range(4)), sort=True):
        x = m.index.get_level_values("log2_lr").to_numpy()
        y = m["loss"].to_numpy()
        if not np.isfinite(y).any():
            continue
        o = optimum_1d(x, y)
        i = int(np.argmin(np.where(np.isfinite(y), y, np.inf)))
        rows.append({"protocol": key[0], "decay_frac": key[1] if key[1] >= 0 else float("nan"),
                     "decay_shape": key[2], "budget": key[3], "best_loss": float(y[i]),
                     "best_log2_lr": float(x[i]), "opt_log2_lr": o.x_opt, "loss_at_opt": o.loss_at_opt,
                     "fitted": o.fitted, "interior": o.interior, "n_lrs": len(m),
                     "seeds_at_best": int(m["seeds"].iloc[i])})
    return pd.DataFrame(rows)


def pick(opt, protocol: str, frac: float | None = None, shape: str | None = None):
    """Rows of :func:`optima` for one protocol (and WSD variant), indexed by budget."""
    d = opt[opt["protocol"] == protocol]
    if frac is not None:
        d = d[np.isclose(d["decay_frac"], frac)]
    if shape is not None:
        d = d[d["decay_shape"] == shape]
    return d.set_index("budget").sort_index()


def seed_spread(fin, opt) -> tuple[float, int]:
    """The first rules' pooled per-run seed standard deviation σ_seed and the number of pairs behind it.

    Pairs are (seed, seed + 1) runs of the same config at LRs within one grid step of that schedule's
    tuned LR; σ² = mean(d²)/2 over the pairs. It pools schedules whose seed differences differ
    systematically, so no verdict uses it any more (see :func:`noise_table`); it is kept as a descriptive
    number and for the chapters that quote it.
    """
    diffs = []
    step = float(np.min(np.diff(np.sort(fin["log2_lr"].unique())))) if fin["log2_lr"].nunique() > 1 else 1.0
    f = fin[np.isfinite(fin["loss"])].copy()
    f["decay_frac"] = f["decay_frac"].fillna(-1.0)
    o = opt.copy()
    o["decay_frac"] = o["decay_frac"].fillna(-1.0)
    best = {tuple(r[c] for c in _key_cols()): r["best_log2_lr"] for _, r in o.iterrows()}
    for key, g in f.groupby([*_key_cols(), "log2_lr"], sort=True):
        if key[:4] not in best or abs(key[4] - best[key[:4]]) > step + 1e-9:
            continue
        vals = g.sort_values("seed")["loss"].to_numpy()
        if len(vals) >= 2:
            diffs.append(vals[1] - vals[0])
    if not diffs:
        return float("nan"), 0
    d = np.asarray(diffs)
    return float(math.sqrt(np.mean(d ** 2) / 2)), len(d)


def _vkey(frac: float, shape: str) -> str:
    return f"wsd {frac:g} {shape}"


def trunk_cells(records: list[dict], scale: str):
    """One row per (trunk, budget): the final held-out loss of every branch of that trunk at that budget,
    and the stable run's own evaluations at the budget and at the 20% cooldown start.

    A trunk is one stable run (seed, peak LR); its branches share every step before their branch point,
    so their differences are paired. Columns: seed, log2_lr, trunk, budget, ``wsd <frac> <shape>`` per
    WSD variant, ``multistep``, ``const_B`` (the stable run at step B), ``const_S`` (at the default
    cooldown start S). Missing or diverged entries are NaN.
    """
    import pandas as pd

    p = chapter_plan(scale)
    stable = {(r["config"]["seed"], r["config"]["lr"]): r for r in records if r["experiment"] == "constant"}
    rows: dict[tuple, dict] = {}
    for r in records:
        c, res = r["config"], r["result"]
        if r["experiment"] not in ("wsd", "multistep") or not c.get("init_from"):
            continue
        key = (c["seed"], math.log2(c["lr"]), c["total_steps"])
        row = rows.setdefault(key, {"seed": c["seed"], "log2_lr": key[1], "budget": key[2], "_lr": c["lr"]})
        loss = res.get("final_eval_loss") if res["status"] == "finished" else None
        name = "multistep" if r["experiment"] == "multistep" else _vkey(c["decay_frac"], c["decay_shape"])
        row[name] = float(loss) if loss is not None else float("nan")
    for row in rows.values():
        par = stable.get((row["seed"], row.pop("_lr")))
        ev = dict(zip(par["result"]["eval_curve"]["step"], par["result"]["eval_curve"]["loss"])) if par else {}
        start = branch_start(row["budget"], p.warmup_steps, DEFAULT_FRAC)
        for col, step in (("const_B", row["budget"]), ("const_S", start)):
            v = ev.get(step)
            row[col] = float(v) if v is not None else float("nan")
    df = pd.DataFrame(list(rows.values()))
    if df.empty:
        return pd.DataFrame(columns=["seed", "log2_lr", "trunk", "budget", "const_B", "const_S"])
    df["trunk"] = [f"seed {s}, 2^{x:g}" for s, x in zip(df["seed"], df["log2_lr"])]
    front = ["seed", "log2_lr", "trunk", "budget", "const_B", "const_S"]
    return df[front + sorted(c for c in df.columns if c not in front)].sort_values(
        ["seed", "log2_lr", "budget"]).reset_index(drop=True)


def near_optimal(cells, opt, scale: str, frac: float = DEFAULT_FRAC, shape: str = DEFAULT_SHAPE):
    """The rows of :func:`trunk_cells` whose LR lies within :data:`NEAR_STEPS` grid steps of the best grid LR
    of the reference WSD variant (``frac``, ``shape``) at their budget: the trunks a tuned comparison rests on."""
    ref = pick(opt, "wsd", frac, shape)["best_log2_lr"] if len(opt) else {}
    step = chapter_plan(scale).grid_step
    keep = [b in ref.index and abs(x - ref.loc[b]) <= NEAR_STEPS * step + 1e-9 if len(ref) else False
            for x, b in zip(cells["log2_lr"], cells["budget"])]
    return cells[np.asarray(keep, dtype=bool)].reset_index(drop=True)


def cooldown_drops(cells):
    """C3.2 per near-optimal (trunk, budget): the drop of the 20% 1−√ cooldown over its window [S, B] and the
    stable run's drop over the same window, and φ = stable / cooldown."""
    c = cells.copy()
    w = _vkey(DEFAULT_FRAC, DEFAULT_SHAPE)
    if c.empty or w not in c:
        return c.assign(cooldown_drop=[], stable_drop=[], phi=[])
    c["cooldown_drop"] = c["const_S"] - c[w]
    c["stable_drop"] = c["const_S"] - c["const_B"]
    c["phi"] = c["stable_drop"] / c["cooldown_drop"]
    return c[["trunk", "seed", "log2_lr", "budget", "const_S", "const_B", w, "cooldown_drop", "stable_drop", "phi"]]


def comparison_table(opt):
    """Best loss per budget for each protocol and WSD variant (columns), one row per budget."""
    import pandas as pd

    cols = {}
    for prot in ("cosine", "cosine_to_zero", "constant", "multistep"):
        d = pick(opt, prot)
        if len(d):
            cols[LABELS[prot]] = d["best_loss"]
    for (f, s), g in opt[opt["protocol"] == "wsd"].groupby(["decay_frac", "decay_shape"], sort=True):
        cols[f"WSD {f:.1%} {s}"] = g.set_index("budget")["best_loss"]
    return pd.DataFrame(cols).sort_index()


# ----------------------------------------------------------------------------- ledger
def closed_form_steps(budgets, frac: float = DEFAULT_FRAC, warmup: int = 0) -> dict:
    """Optimizer steps to obtain every budget: cosine ΣB; WSD the stable run to the largest cooldown
    start plus the cooldowns (exactly (1−f)·B_max + f·ΣB up to rounding of the cooldown lengths)."""
    budgets = sorted(budgets)
    starts = [branch_start(b, warmup, frac) for b in budgets]
    return {"cosine": int(sum(budgets)), "wsd": int(max(starts) + sum(b - s for b, s in zip(budgets, starts)))}


def ledger(records: list[dict], scale: str, budgets=None):
    """Compute spent per protocol to obtain the whole budget curve, from what the trainer processed.

    One row per (protocol, LR) of the plan's first seed, and a total over the grid: steps, tokens,
    FLOPs, wall seconds; the stable run is counted up to the largest cooldown start (the steps the
    protocol needs; the rest of it only serves the constant-LR comparison). ``closed_form_steps``
    is the formula of :func:`closed_form_steps`. ``budgets`` restricts the curve to a subset of the
    plan's budgets (default: all).
    """
    import pandas as pd

    p = chapter_plan(scale)
    if not records:
        return pd.DataFrame()
    budgets = tuple(sorted(budgets if budgets is not None else p.budgets))
    seed0 = min(r["config"]["seed"] for r in records)
    by_ckey = {r.get("config_key"): r for r in records if r["config"]["seed"] == seed0}
    recs = [r for r in by_ckey.values() if r["experiment"] == "constant" or r["config"]["total_steps"] in budgets]
    cf = closed_form_steps(budgets, DEFAULT_FRAC, p.warmup_steps)
    rows = []
    for lr in sorted({r["config"]["lr"] for r in recs}):
        cos = [r for r in recs if r["experiment"] == "cosine" and r["config"]["lr"] == lr]
        br = [r for r in recs if r["experiment"] == "wsd" and r["config"]["lr"] == lr
              and math.isclose(r["config"]["decay_frac"], DEFAULT_FRAC) and r["config"]["decay_shape"] == DEFAULT_SHAPE]
        for prot, runs in (("cosine", cos), ("wsd", br)):
            steps = sum(r["result"]["steps"] for r in runs)
            tokens = sum(r["result"]["tokens"] for r in runs)
            flops = sum(r["result"]["flops"] for r in runs)
            wall = sum(r["result"]["wall_s"] for r in runs)
            finished = all(r["result"]["status"] == "finished" for r in runs) and len(runs) == len(budgets)
            if prot == "wsd" and runs:
                parent = by_ckey.get(runs[0]["config"]["init_from"])
                if parent is None:
                    finished = False
                else:
                    need = max(r["config"]["init_step"] for r in runs)
                    pres = parent["result"]
                    share = need / max(pres["steps"], 1)
                    steps += need
                    tokens += round(pres["tokens"] * share)
                    flops += pres["flops"] * share
                    wall += pres["wall_s"] * share
            rows.append({"protocol": prot, "lr": lr, "log2_lr": math.log2(lr), "runs": len(runs) + (prot == "wsd"),
                         "steps": steps,
                         "tokens": tokens, "flops": flops, "wall_s": wall, "closed_form_steps": cf[prot],
                         "complete": finished})
    return pd.DataFrame(rows)


def ledger_totals(led):
    """The ledger summed over the LR grid (complete LRs only), one row per protocol, with the ratio."""
    import pandas as pd

    if led.empty:
        return pd.DataFrame()
    ok = led.groupby("lr")["complete"].all()
    d = led[led["lr"].isin(ok[ok].index)]
    t = d.groupby("protocol")[["steps", "tokens", "flops", "wall_s", "closed_form_steps"]].sum()
    t["n_lrs"] = d.groupby("protocol")["lr"].nunique()
    if {"cosine", "wsd"} <= set(t.index):
        t["fraction_of_cosine"] = t["steps"] / t.loc["cosine", "steps"]
    return t.reset_index()


def saving_curve(scale: str, n_max: int = 16, frac: float = DEFAULT_FRAC):
    """Closed-form compute of both protocols as the number of budgets n grows (steps, relative to
    one run of the smallest budget), for budgets spaced linearly (B_i = i·B_1) and geometrically
    (B_i = 2^{i−1}·B_1, as in this chapter). WSD: (1−f)·B_max + f·ΣB."""
    import pandas as pd

    rows = []
    for spacing in ("linear", "geometric"):
        for n in range(1, n_max + 1):
            bs = [i for i in range(1, n + 1)] if spacing == "linear" else [2.0 ** (i - 1) for i in range(1, n + 1)]
            cos = float(sum(bs))
            wsd = (1 - frac) * max(bs) + frac * cos
            rows.append({"spacing": spacing, "n_budgets": n, "cosine": cos, "wsd": wsd, "ratio": wsd / cos})
    return pd.DataFrame(rows)


def measured_saving(records: list[dict], scale: str):
    """C_WSD / C_cos for the first n of the chapter's budgets, n = 1…len: closed form, and measured from
    the records (steps and wall time over the LR grid)."""
    import pandas as pd

    p = chapter_plan(scale)
    rows = []
    for n in range(1, len(p.budgets) + 1):
        bs = sorted(p.budgets)[:n]
        cf = closed_form_steps(bs, DEFAULT_FRAC, p.warmup_steps)
        row = {"n_budgets": n, "closed_form_ratio": cf["wsd"] / cf["cosine"], "measured_ratio": np.nan,
               "measured_wall_ratio": np.nan}
        tot = ledger_totals(ledger(records, scale, bs)) if records else pd.DataFrame()
        if len(tot) and "fraction_of_cosine" in tot:
            t = tot.set_index("protocol")
            row["measured_ratio"] = float(t.loc["wsd", "fraction_of_cosine"])
            row["measured_wall_ratio"] = float(t.loc["wsd", "wall_s"] / t.loc["cosine", "wall_s"])
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- curves for figures
def schedule_curves(scale: str, budget: int | None = None):
    """LR multiplier per step for each schedule at one budget (default: the second largest), long format."""
    import pandas as pd

    from scalelab.schedules import ScheduleConfig, lr_multipliers

    p = chapter_plan(scale)
    b = budget if budget is not None else sorted(p.budgets)[-2 if len(p.budgets) > 1 else -1]
    steps = np.arange(b)
    cfgs = {"cosine (→10%)": ScheduleConfig(name="cosine", warmup_steps=p.warmup_steps, total_steps=b,
                                            final_frac=COSINE_FINAL_FRAC),
            "constant": ScheduleConfig(name="constant", warmup_steps=p.warmup_steps, total_steps=b),
            "multi-step": ScheduleConfig(name="multistep", warmup_steps=p.warmup_steps, total_steps=b)}
    cfgs["cosine (→0)"] = ScheduleConfig(name="cosine", warmup_steps=p.warmup_steps, total_steps=b, final_frac=0.0)
    for shape in (*p.shapes, CONTROL_SHAPE):
        cfgs[f"WSD 20% {shape}"] = ScheduleConfig(name="wsd", warmup_steps=p.warmup_steps, total_steps=b,
                                                  decay_frac=DEFAULT_FRAC, decay_shape=shape, final_frac=0.0)
    for f in p.fractions:
        if f != DEFAULT_FRAC:
            cfgs[f"WSD {f:.1%} 1-sqrt"] = ScheduleConfig(name="wsd", warmup_steps=p.warmup_steps, total_steps=b,
                                                         decay_frac=f, decay_shape=DEFAULT_SHAPE, final_frac=0.0)
    rows = [pd.DataFrame({"schedule": k, "step": steps, "lr_mult": lr_multipliers(c, steps)}) for k, c in cfgs.items()]
    return pd.concat(rows, ignore_index=True)


def loss_curves(records: list[dict], opt):
    """Held-out loss against tokens at each protocol's tuned LR (first seed): cosine per budget, the
    stable run, and the default WSD and multistep branches. Long format."""
    import pandas as pd

    if not records:
        return pd.DataFrame()
    seed0 = min(r["config"]["seed"] for r in records)
    rows = []
    best = {}
    for prot, frac, shape in (("cosine", None, None), ("constant", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE),
                              ("multistep", None, None)):
        d = pick(opt, prot, frac, shape)
        if len(d):
            best[prot] = d["best_log2_lr"]
    # one LR for the whole WSD picture (the stable run and its branches): WSD's tuned LR at the largest budget
    w_lr = float(best["wsd"].iloc[-1]) if "wsd" in best else None
    for r in records:
        c, res = r["config"], r["result"]
        if c["seed"] != seed0 or res["status"] != "finished":
            continue
        exp = r["experiment"]
        lg = math.log2(c["lr"])
        if exp == "cosine" and "cosine" in best and c["total_steps"] in best["cosine"].index:
            keep = math.isclose(lg, best["cosine"].loc[c["total_steps"]])
        elif exp == "constant":
            keep = w_lr is not None and math.isclose(lg, w_lr)
        elif exp == "multistep":
            keep = w_lr is not None and math.isclose(lg, w_lr)
        elif exp == "wsd":
            keep = (w_lr is not None and math.isclose(lg, w_lr) and math.isclose(c["decay_frac"], DEFAULT_FRAC)
                    and c["decay_shape"] == DEFAULT_SHAPE)
        else:
            keep = False
        if not keep:
            continue
        ev = res["eval_curve"]
        label = LABELS[exp]
        rows.append(pd.DataFrame({"protocol": exp, "label": label, "budget": c["total_steps"], "log2_lr": lg,
                                  "step": ev["step"], "tokens": ev["tokens"], "loss": ev["loss"],
                                  "start_step": c.get("init_step", 0)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


# ----------------------------------------------------------------------------- stages
def _is_control_record(r: dict) -> bool:
    """A record of the 'controls' stage: cosine to zero, or a WSD branch with MiniCPM's exponential cooldown."""
    return r["experiment"] == "cosine_to_zero" or (r["experiment"] == "wsd"
                                                   and r["config"].get("decay_shape") == CONTROL_SHAPE)


def _seed0(records: list[dict]) -> int:
    return min((r["config"]["seed"] for r in records), default=0)


@lru_cache(maxsize=8)
def _control_keys(scale: str, seed: int) -> frozenset:
    """Config keys of the 'controls' stage (memoized: building the plans hashes ~1,000 configs)."""
    return frozenset(s.config_key for s in controls_plan(scale, seed=seed))


def controls_progress(records: list[dict], scale: str) -> tuple[int, int]:
    """(recorded, planned) runs of the 'controls' stage."""
    have = {r.get("config_key") for r in records}
    keys = _control_keys(validate_scale(scale), _seed0(records))
    return len(keys & have), len(keys)


def analysed_records(records: list[dict], scale: str) -> list[dict]:
    """The records the analysis uses: the first stage always, the 'controls' stage only once every one of its
    runs is recorded (:func:`stage_complete`), so that a stage part-way never changes a verdict."""
    if any(_is_control_record(r) for r in records):
        done, planned = controls_progress(records, scale)  # stage_complete's test, with the keys memoized
        if done == planned:
            return list(records)
    return [r for r in records if not _is_control_record(r)]


# ----------------------------------------------------------------------------- intervals
def _no_interval(unit: str):
    from scalelab.resample import Interval

    return Interval(float("nan"), -math.inf, math.inf, LEVEL, "t", unit, 0, math.inf, 0)


def _ratio_of_sums(sums: np.ndarray, unit: str):
    """Interval of Σ numerator / Σ denominator over units (rows of ``sums``: (numerator, denominator) per
    unit, or (unit, k, 2) for k statistics of which the largest is taken)."""
    from scalelab.resample import array_interval

    if len(sums) == 0:
        return _no_interval(unit)

    def stat(x):  # (draws, units, [k,] 2) → (draws,)
        num, den = x[..., 0].sum(axis=1), x[..., 1].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
        return r if r.ndim == 1 else r.max(axis=-1)

    return array_interval(sums, stat, unit=unit, level=LEVEL, vectorized=True)


def paired_interval(cells, a: str, b: str | None = None, *, den: str | None = None):
    """Trunks as units: the mean over (trunk, budget) cells of ``cells[a] − cells[b]`` (``b`` None: of
    ``cells[a]``), or with ``den`` the ratio Σ(a − b) / Σden. Cells missing a value are left out."""
    cols = ["trunk", a] + ([b] if b else []) + ([den] if den else [])
    if cells.empty or any(c not in cells for c in cols):
        return _no_interval("trunk")
    d = cells[cols].dropna()
    v = d[a] - d[b] if b else d[a]
    w = d[den] if den else v * 0 + 1.0  # a mean is a ratio of sums with unit weights
    g = np.stack([v.groupby(d["trunk"]).sum().to_numpy(), w.groupby(d["trunk"]).sum().to_numpy()], axis=1)
    return _ratio_of_sums(g, "trunk")


def best_of_interval(cells, ref: str, others: list[str]):
    """Trunks as units: max over ``others`` of the mean of ``cells[ref] − cells[o]`` (C3.3b: how much the best
    other fraction beats the reference)."""
    others = [o for o in others if o in cells and ref in cells and cells[[ref, o]].notna().all(axis=1).any()]
    if cells.empty or not others:
        return _no_interval("trunk")
    trunks = sorted(cells["trunk"].unique())
    sums = np.zeros((len(trunks), len(others), 2))
    for j, o in enumerate(others):
        d = cells[["trunk", ref, o]].dropna()
        g = (d[ref] - d[o]).groupby(d["trunk"])
        s, n = g.sum(), g.count()
        for i, t in enumerate(trunks):
            sums[i, j] = (s.get(t, 0.0), n.get(t, 0))
    return _ratio_of_sums(sums, "trunk")


def replicated_budgets(fin, keys) -> list[int]:
    """Budgets at which every seed of the records has runs of every schedule in ``keys``."""
    seeds = sorted(fin["seed"].unique())
    out = []
    for b in sorted(fin["budget"].unique()):
        ok = True
        for prot, f, s in keys:
            d = _select(fin, prot, f, s)
            ok &= set(d.loc[d["budget"] == b, "seed"]) >= set(seeds)
        if ok and len(seeds) >= 2:
            out.append(int(b))
    return out


def _select(fin, prot, frac=None, shape=None):
    d = fin[fin["protocol"] == prot]
    if frac is not None:
        d = d[np.isclose(d["decay_frac"], frac)]
    if shape is not None:
        d = d[d["decay_shape"] == shape]
    return d


def seed_interval(fin, a: tuple, b: tuple, what: str = "loss"):
    """Seeds as units: the mean over the budgets every seed has of the tuned difference of schedule ``a``
    minus schedule ``b`` (each a (protocol, frac, shape) key): ``what="loss"`` the loss at the optimum of the
    seed-mean curve, ``"lr"`` the optimum's log2 LR. Returns (interval, budgets used)."""
    from scalelab.optimum import optimum_1d
    from scalelab.resample import array_interval

    budgets = replicated_budgets(fin, [a, b])
    if not budgets:
        return _no_interval("seed"), []
    seeds = sorted(fin["seed"].unique())
    lrs = np.sort(fin["log2_lr"].unique())
    cube = np.full((len(seeds), 2, len(budgets), len(lrs)), np.nan)
    for k, key in enumerate((a, b)):
        d = _select(fin, *key)
        d = d[d["budget"].isin(budgets)]
        loss = np.where(d["status"] == "diverged", np.inf, d["loss"].to_numpy(dtype=float))
        cube[np.searchsorted(seeds, d["seed"]), k, np.searchsorted(budgets, d["budget"]),
             np.searchsorted(lrs, d["log2_lr"])] = loss
    have = np.isfinite(cube).any(axis=(0, 1, 2)) | np.isinf(cube).any(axis=(0, 1, 2))
    cube, grid = cube[..., have], lrs[have]

    def stat(x):  # (seeds drawn, 2, budgets, LRs)
        mean = x.mean(axis=0)
        out = []
        for j in range(mean.shape[1]):
            oa, ob = optimum_1d(grid, mean[0, j]), optimum_1d(grid, mean[1, j])
            out.append(oa.loss_at_opt - ob.loss_at_opt if what == "loss" else oa.x_opt - ob.x_opt)
        return float(np.mean(out))

    return array_interval(cube, stat, unit="seed", level=LEVEL), budgets


def unit_costs(records: list[dict]) -> dict:
    """Process-hours of one more unit, from the records' measured seconds: a seed (every run of the second
    seed) and a trunk (a first-seed stable run with its branches, averaged over the trunks)."""
    s0 = _seed0(records)

    def sec(r):
        return float((r.get("meta") or {}).get("seconds") or r["result"].get("wall_s") or 0.0)

    base = [r for r in records if not _is_control_record(r)]
    seed1 = sum(sec(r) for r in base if r["config"]["seed"] == s0 + 1)
    stables = [r for r in base if r["experiment"] == "constant" and r["config"]["seed"] == s0]
    keys = {r.get("config_key") for r in stables}
    trunk = (sum(sec(r) for r in stables) + sum(sec(r) for r in base if r["config"].get("init_from") in keys))
    return {"seed": seed1 / 3600 if seed1 else None, "trunk": trunk / len(stables) / 3600 if stables else None}


# ----------------------------------------------------------------------------- analyze
def _fmt(x: float, nd: int = 4) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def controls(records: list[dict], scale: str, *, _parts: tuple | None = None):
    """The chapter's controls, measured (:class:`scalelab.verdicts.ControlResult`), as validity checks:

    * positive: a cooldown lowers the loss against continuing at the peak LR (the 20% 1−√ branch against
      the stable run at the same step B, paired by trunk): the interval must lie above
      :data:`CONTROL_MIN_GAIN`;
    * negative: the seed does not change a same-trunk gap (WSD 20% − multi-step, both branched from one
      stable run; seed + 1 minus seed, paired by peak LR): the interval must lie within ±:data:`MATCH_DELTA`.
      It checks the premise of the trunk unit: that a paired gap carries little seed-level noise.
    """
    from scalelab.verdicts import Claim, Control

    if _parts is None:
        recs = analysed_records(records, scale)
        fin = finals(recs)
        opt = optima(fin) if len(fin) else None
        cells = near_optimal(trunk_cells(recs, scale), opt, scale) if opt is not None and len(opt) else None
    else:
        recs, cells = _parts
    w = _vkey(DEFAULT_FRAC, DEFAULT_SHAPE)
    pos = Control("a cooldown against none", "positive", Claim(2 * CONTROL_MIN_GAIN, CONTROL_MIN_GAIN, "greater",
                                                                "nats"),
                  "L_const(B) − L_WSD(B) at the same step, 20% 1−√ branch and its own stable run (trunks as "
                  "units): annealing the LR is known to lower the loss")
    neg = Control("seed against a same-trunk gap", "negative", Claim.no_effect(MATCH_DELTA, "nats"),
                  "(L_WSD − L_ms) at seed + 1 minus at seed, same peak LR and budget (LRs as units): a seed is "
                  "known not to change a schedule's effect")
    iv_pos = paired_interval(cells, "const_B", w) if cells is not None else _no_interval("trunk")
    iv_neg = _no_interval("LR")
    if cells is not None and {w, "multistep"} <= set(cells.columns):
        from scalelab.resample import mean_interval

        d = cells.assign(gap=cells[w] - cells["multistep"]).dropna(subset=["gap"])
        s0 = _seed0(recs)
        pv = d.pivot_table(index=["log2_lr", "budget"], columns="seed", values="gap")
        if {s0, s0 + 1} <= set(pv.columns):
            dd = (pv[s0 + 1] - pv[s0]).dropna()
            per_lr = dd.groupby(level="log2_lr").mean()
            if len(per_lr):
                iv_neg = mean_interval(per_lr.to_numpy(), unit="LR", level=LEVEL)
    return [pos.evaluate(iv_pos), neg.evaluate(iv_neg)]


def analyze(records: list[dict], scale: str):
    """Validity checks, controls and verdicts on C3.1–C3.7 from the records (pure and deterministic).

    The 'controls' stage enters only once complete (:func:`analysed_records`); then C3.1b is judged too.
    """
    from scalelab.checks import Check, Report
    from scalelab.train import TrainConfig
    from scalelab.verdicts import Claim, arithmetic, judge

    p = chapter_plan(scale)
    records = analysed_records(records, scale)
    have_controls = any(_is_control_record(r) for r in records)
    checks: list[Check] = []
    fin = finals(records)
    opt = optima(fin) if len(fin) else None

    # --- records present and finished
    n_fin = sum(r["result"]["status"] == "finished" for r in records)
    n_div = sum(r["result"]["status"] == "diverged" for r in records)
    bad = [r for r in records if r["result"]["status"] not in ("finished", "diverged")]
    have = {r.get("config_key") for r in records}
    roots_missing = [s for s in plan(scale, seed=_seed0(records))
                     if s.config.init_from is None and s.config_key not in have]
    checks.append(Check("runs finished or recorded as diverged",
                        bool(records) and not bad and not roots_missing,
                        f"{n_fin} finished, {n_div} diverged, {len(bad)} other, {len(roots_missing)} planned "
                        f"cosine/stable runs without a record",
                        "every record has status finished|diverged and every non-branch run of the plan has one"))

    # --- budgets met
    unmet = []
    for r in records:
        res, c = r["result"], r["config"]
        if res["status"] != "finished":
            continue
        cfg = TrainConfig.from_dict(c)
        want = cfg.total_steps - cfg.init_step
        start_ok = res.get("start_step", 0) == cfg.init_step
        if res["steps"] != want or res["tokens"] != want * cfg.tokens_per_step or not start_ok:
            unmet.append(f"{r['experiment']}@{c['total_steps']}: {res['steps']}/{want} steps")
    checks.append(Check("budgets met", bool(records) and not unmet,
                        f"{n_fin - len(unmet)} of {n_fin} finished runs processed exactly their steps and tokens"
                        + (f"; e.g. {unmet[0]}" if unmet else ""),
                        "steps == total_steps − init_step, tokens == steps · batch_size · seq_len, start at init_step"))

    # --- branches reuse their checkpoint
    by_ckey = {r.get("config_key"): r for r in records}
    branches = [r for r in records if r["config"].get("init_from")]
    wrong = []
    for r in branches:
        parent = by_ckey.get(r["config"]["init_from"])
        step = str(r["config"]["init_step"])
        psha = (parent or {}).get("result", {}).get("checkpoints", {}).get(step, {}).get("sha256")
        sha = r["result"].get("parent_checkpoint_sha256")
        if parent is None or psha is None or sha != psha:
            wrong.append(f"{r['experiment']}@{r['config']['total_steps']} from step {step}")
    checks.append(Check("branches reuse their parent's checkpoint", bool(branches) and not wrong,
                        f"{len(branches) - len(wrong)} of {len(branches)} branches name a checkpoint whose sha256 "
                        f"equals the one in the parent's record" + (f"; e.g. {wrong[0]}" if wrong else ""),
                        "result.parent_checkpoint_sha256 == parent result.checkpoints[init_step].sha256"))

    # --- LR optima interior
    main = [("cosine", None, None), ("constant", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE),
            ("multistep", None, None)] + ([("cosine_to_zero", None, None), ("wsd", DEFAULT_FRAC, CONTROL_SHAPE)]
                                          if have_controls else [])
    edge = []
    n_main = 0
    if opt is not None and len(opt):
        for prot, f, s in main:
            d = pick(opt, prot, f, s)
            n_main += len(d)
            edge += [f"{prot}{'' if s is None else ' ' + s}@{b}" for b, row in d.iterrows() if not row["interior"]]
    checks.append(Check("LR optima interior (cosine, constant, WSD 20% 1−√, multi-step"
                        + (", and the controls)" if have_controls else ")"), n_main > 0 and not edge,
                        f"{n_main - len(edge)} of {n_main} (protocol, budget) optima interior"
                        + (f"; at the edge: {', '.join(edge[:6])}" if edge else ""),
                        "the best seed-mean grid LR has grid points on both sides (scalelab.optimum)"))

    # --- seeds replicated
    rep = replicated_budgets(fin, [("cosine", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE)]) if len(fin) else []
    n_seeds = int(fin["seed"].nunique()) if len(fin) else 0
    checks.append(Check("seeds replicated", n_seeds >= 2 and bool(rep),
                        f"{n_seeds} seeds; budgets every seed has: {', '.join(map(str, rep)) or 'none'}",
                        "≥ 2 seeds at ≥ 1 budget (the seed is the unit of the cross-schedule comparisons)"))

    # --- warmup / budgets
    smallest = min(p.budgets)
    checks.append(Check("warmup ≤ 1/10 of the smallest budget", 10 * p.warmup_steps <= smallest,
                        f"warmup {p.warmup_steps} steps, smallest budget {smallest} steps",
                        "10 · warmup_steps ≤ min(budgets)"))

    # --- ledger vs closed form
    led = ledger(records, scale)
    tot = ledger_totals(led)
    led_ok = False
    led_val = "no complete LR"
    if len(tot) and {"cosine", "wsd"} <= set(tot["protocol"]):
        t = tot.set_index("protocol")
        errs = {k: abs(t.loc[k, "steps"] - t.loc[k, "closed_form_steps"]) / t.loc[k, "closed_form_steps"]
                for k in ("cosine", "wsd")}
        led_ok = all(e <= LEDGER_RTOL for e in errs.values())
        led_val = (f"cosine {int(t.loc['cosine', 'steps'])} steps "
                   f"(closed form {int(t.loc['cosine', 'closed_form_steps'])})"
                   f", WSD {int(t.loc['wsd', 'steps'])} (closed form {int(t.loc['wsd', 'closed_form_steps'])}) over "
                   f"{int(t.loc['wsd', 'n_lrs'])} LRs")
    checks.append(Check("compute ledger equals the closed form", led_ok, led_val,
                        f"|measured − closed form| ≤ {LEDGER_RTOL:.0%} of the closed form, for both protocols"))

    # --- controls (validity checks)
    empty = opt is None or opt.empty
    cells = near_optimal(trunk_cells(records, scale), opt, scale) if not empty else None
    if scale in CONTROL_SCALES:
        checks += [c.to_check() for c in controls(records, scale, _parts=(records, cells))]

    # --- verdicts
    costs = unit_costs(records)

    def verdict(cid, claim, interval, extra=""):
        cost = costs.get("trunk" if interval.unit == "trunk" else "seed")
        v = judge(cid, STATEMENTS[cid], claim, interval, source=SOURCES[cid], criterion=RULE + " " + CRITERIA[cid],
                  cost_per_unit=cost, cost_label="process-hours")
        if extra:
            from dataclasses import replace

            v = replace(v, evidence=v.evidence + "; " + extra)
        return v

    verdicts = []
    no_worse = Claim(0.0, MATCH_DELTA, "less", "nats")
    beats = Claim(GAP_CLAIMED, GAP_DELTA, "greater", "nats")
    W0 = ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE)

    def per_budget(a, b, what="loss"):
        if empty:
            return ""
        da, db = pick(opt, *a), pick(opt, *b)
        col = "loss_at_opt" if what == "loss" else "opt_log2_lr"
        parts = []
        for bb in da.index:
            if bb in db.index:
                n = int(min(da.loc[bb, "seeds_at_best"], db.loc[bb, "seeds_at_best"]))
                parts.append(f"B={bb}: {_fmt(da.loc[bb, col] - db.loc[bb, col], 3)} ({n} seed{'s' if n > 1 else ''})")
        return "per budget " + ", ".join(parts)

    def seed_verdict(cid, a, b, claim, what="loss"):
        iv, used = seed_interval(fin, a, b, what) if len(fin) else (_no_interval("seed"), [])
        extra = (f"mean over budgets {', '.join(map(str, used))}" if used else "no budget has every seed")
        verdicts.append(verdict(cid, claim, iv, extra + "; " + per_budget(a, b, what)))

    seed_verdict("C3.1", W0, ("cosine", None, None), no_worse)
    if have_controls:
        seed_verdict("C3.1b", W0, ("cosine_to_zero", None, None), no_worse)

    cd = cooldown_drops(cells) if cells is not None else None
    iv = (paired_interval(cd, "stable_drop", den="cooldown_drop") if cd is not None and len(cd)
          else _no_interval("trunk"))
    verdicts.append(verdict("C3.2", Claim(1 / COOLDOWN_RATIO, 0.0, "less", "of the cooldown's drop"), iv))

    fr = {f: _vkey(f, DEFAULT_SHAPE) for f in p.fractions}
    iv = paired_interval(cells, fr.get(0.025, "-"), fr.get(0.1, "-")) if cells is not None else _no_interval("trunk")
    verdicts.append(verdict("C3.3a", beats, iv))
    iv = (best_of_interval(cells, fr.get(0.1, "-"), [v for f, v in fr.items() if f != 0.1]) if cells is not None
          else _no_interval("trunk"))
    verdicts.append(verdict("C3.3b", no_worse, iv))

    iv = (paired_interval(cells, _vkey(DEFAULT_FRAC, "linear"), _vkey(DEFAULT_FRAC, DEFAULT_SHAPE))
          if cells is not None else _no_interval("trunk"))
    verdicts.append(verdict("C3.4", beats, iv))

    seed_verdict("C3.5", ("constant", None, None), ("cosine", None, None),
                 Claim(HALF_CLAIMED, HALF_DELTA, "two-sided", "octaves"), what="lr")

    # C3.6: arithmetic
    cf_ratio = float("nan")
    if led_ok:
        t = tot.set_index("protocol")
        frac_c = float(t.loc["wsd", "fraction_of_cosine"])
        cf_ratio = float(t.loc["wsd", "closed_form_steps"] / t.loc["cosine", "closed_form_steps"])
        flops_frac = float(t.loc["wsd", "flops"] / t.loc["cosine", "flops"])
        wall_frac = float(t.loc["wsd", "wall_s"] / t.loc["cosine", "wall_s"])
        out36 = "reproduced" if frac_c < 1 else "contradicted"
        ev = (f"WSD protocol: {frac_c:.3f} of cosine's optimizer steps (closed form {cf_ratio:.3f}), {flops_frac:.3f} "
              f"of its FLOPs, {wall_frac:.2f} of its wall time, for {len(p.budgets)} budgets over "
              f"{int(t.loc['wsd', 'n_lrs'])} LRs")
        why = (f"the measured ledger equals (1−f)·B_max + f·ΣB within {LEDGER_RTOL:.0%} and is "
               f"{'below' if frac_c < 1 else 'not below'} cosine's ΣB; for linearly spaced budgets this is f·O(n²), "
               f"for doubling budgets about (1 + f)/2 of cosine's")
    else:
        frac_c, out36 = float("nan"), "not resolved at this scale"
        ev, why = "ledger incomplete or not equal to the closed form", "the ledger could not be checked"
    verdicts.append(arithmetic("C3.6", STATEMENTS["C3.6"], out36, criterion=CRITERIA["C3.6"], evidence=ev,
                               source=SOURCES["C3.6"], reason=why,
                               statistic=frac_c if np.isfinite(frac_c) else None,
                               claimed=cf_ratio if np.isfinite(cf_ratio) else None, measure="of cosine's steps"))

    seed_verdict("C3.7", ("multistep", None, None), ("cosine", None, None), no_worse)
    return Report(SLUG, scale, checks, verdicts)


# ----------------------------------------------------------------------------- tables for the page
def noise_table(records: list[dict], scale: str):
    """The noise of one difference of two runs, by how the two runs are paired (nats): the first rules'
    pooled σ_seed; two separately trained schedules at the same seed and LR (WSD − cosine); two branches
    of one trunk (WSD 20% − multi-step). Each from seed + 1 minus seed at the near-optimal LRs, as the
    standard deviation of one difference (÷√2)."""
    import pandas as pd

    recs = analysed_records(records, scale)
    fin = finals(recs)
    if fin.empty:
        return pd.DataFrame(columns=["comparison", "unit", "noise of one difference (nats)", "pairs"])
    opt = optima(fin)
    sigma, n_pairs = seed_spread(fin, opt)
    rows = [{"comparison": "pooled σ_seed over every schedule (first rules, ×√2)", "unit": "run",
             "noise of one difference (nats)": sigma * math.sqrt(2), "pairs": n_pairs}]
    cells = near_optimal(trunk_cells(recs, scale), opt, scale)
    s0 = _seed0(recs)
    w = _vkey(DEFAULT_FRAC, DEFAULT_SHAPE)
    cos = _select(fin, "cosine").groupby(["seed", "log2_lr", "budget"])["loss"].mean()
    for name, unit, other in (("WSD 20% 1−√ − cosine, same seed and LR (separate runs)", "seed", "cosine"),
                              ("WSD 20% 1−√ − multi-step, one trunk (branches)", "trunk", "multistep")):
        if cells.empty or w not in cells:
            continue
        c = cells.set_index(["seed", "log2_lr", "budget"])
        ref = cos.reindex(c.index) if other == "cosine" else c.get(other)
        if ref is None:
            continue
        gap = (c[w] - ref).dropna()
        pv = gap.unstack("seed")
        if {s0, s0 + 1} <= set(pv.columns):
            dd = (pv[s0 + 1] - pv[s0]).dropna()
            rows.append({"comparison": name, "unit": unit,
                         "noise of one difference (nats)": float(np.sqrt(np.mean(dd ** 2) / 2)) if len(dd)
                         else float("nan"), "pairs": int(len(dd))})
    return pd.DataFrame(rows)


def rule_changes(report):
    """Claim, verdict under the first rules, verdict now, and why (the rules changed after the first results)."""
    import pandas as pd

    now = {v.claim: v.verdict for v in report.verdicts}
    rows = []
    for claim, (old, why) in RULE_CHANGES.items():
        new = "; ".join(f"{c}: {v}" for c, v in now.items() if c == claim or c.startswith(claim) and
                        c[len(claim):].isalpha())
        rows.append({"claim": claim, "old verdict": old, "new verdict": new or "—", "why": why})
    return pd.DataFrame(rows, columns=["claim", "old verdict", "new verdict", "why"])


def shape_table(records: list[dict], scale: str):
    """Each 20% cooldown shape against 1−√ (shape minus 1−√, nats), paired by trunk at the near-optimal LRs,
    with its interval; MiniCPM's ``exp`` only once the 'controls' stage is recorded."""
    import pandas as pd

    recs = analysed_records(records, scale)
    fin = finals(recs)
    cols = ["shape", "minus 1−√ (nats)", "interval", "unit", "trunks"]
    if fin.empty:
        return pd.DataFrame(columns=cols)
    cells = near_optimal(trunk_cells(recs, scale), optima(fin), scale)
    rows = []
    for shape in [*chapter_plan(scale).shapes, CONTROL_SHAPE]:
        k = _vkey(DEFAULT_FRAC, shape)
        if shape == DEFAULT_SHAPE or k not in cells:
            continue
        iv = paired_interval(cells, k, _vkey(DEFAULT_FRAC, DEFAULT_SHAPE))
        rows.append({"shape": shape, "minus 1−√ (nats)": iv.estimate, "interval": f"[{iv.lo:+.4f}, {iv.hi:+.4f}]",
                     "unit": f"{iv.method}, {iv.unit}s", "trunks": iv.n_units})
    return pd.DataFrame(rows, columns=cols)


def control_changes(records: list[dict], scale: str):
    """What the 'controls' stage changes, per budget (tuned losses, nats; empty until it is recorded):
    WSD − cosine to 10% (C3.1's reference until now) beside WSD − cosine to 0, and the exponential
    cooldown beside 1−√."""
    import pandas as pd

    cols = ["budget", "WSD − cos→10%", "WSD − cos→0", "cos→0 − cos→10%", "exp − 1−√"]
    recs = analysed_records(records, scale)
    if not any(_is_control_record(r) for r in recs):
        return pd.DataFrame(columns=cols)
    opt = optima(finals(recs))
    w, c10, c0 = (pick(opt, "wsd", DEFAULT_FRAC, DEFAULT_SHAPE), pick(opt, "cosine"), pick(opt, "cosine_to_zero"))
    ex = pick(opt, "wsd", DEFAULT_FRAC, CONTROL_SHAPE)
    rows = []
    for b in w.index:
        g = {k: (d.loc[b, "loss_at_opt"] if b in d.index else float("nan"))
             for k, d in (("w", w), ("c10", c10), ("c0", c0), ("ex", ex))}
        rows.append({"budget": int(b), "WSD − cos→10%": g["w"] - g["c10"], "WSD − cos→0": g["w"] - g["c0"],
                     "cos→0 − cos→10%": g["c0"] - g["c10"], "exp − 1−√": g["ex"] - g["w"]})
    return pd.DataFrame(rows, columns=cols)


def verdict_inputs(records: list[dict], scale: str) -> dict:
    """The numbers the page quotes (glued): best losses and LRs at the largest budget, the noise of each
    pairing, the ledger ratio, and the controls stage's progress and effects."""
    recs = analysed_records(records, scale)
    fin = finals(recs)
    opt = optima(fin)
    tot = ledger_totals(ledger(recs, scale))
    nt = noise_table(records, scale).set_index("unit")["noise of one difference (nats)"]
    out = {"noise_pooled": float(nt.get("run", float("nan"))), "noise_seed": float(nt.get("seed", float("nan"))),
           "noise_trunk": float(nt.get("trunk", float("nan")))}
    if len(tot) and "fraction_of_cosine" in tot:
        t = tot.set_index("protocol")
        out["ledger_fraction"] = float(t.loc["wsd", "fraction_of_cosine"])
    bmax = max(chapter_plan(scale).budgets)
    for prot, f, s in (("cosine", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE), ("multistep", None, None),
                       ("constant", None, None)):
        d = pick(opt, prot, f, s)
        out[f"best_{prot}"] = float(d.loc[bmax, "loss_at_opt"]) if bmax in d.index else float("nan")
        out[f"lr_{prot}"] = float(2 ** d.loc[bmax, "opt_log2_lr"]) if bmax in d.index else float("nan")
    done, planned = controls_progress(records, scale)
    out.update({"controls_recorded": done, "controls_planned": planned,
                "controls_complete": float(any(_is_control_record(r) for r in recs))})
    ch = control_changes(records, scale)
    for col, name in (("WSD − cos→0", "gap_cos0"), ("WSD − cos→10%", "gap_cos10"), ("exp − 1−√", "gap_exp")):
        out[f"{name}_bmax"] = float(ch.set_index("budget")[col].get(bmax, float("nan"))) if len(ch) else float("nan")
    return out


# ----------------------------------------------------------------------------- reproducibility across chapters
REPRO_ATOL = 1e-3  # nats/byte: same config trained in two chapters (thread counts may differ in the last bits)


def _without_eval_schedule(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "eval_every"}


def shared_runs(records: list[dict], other: list[dict]):
    """Runs of this chapter whose training config equals a run of another chapter (evaluation period
    aside, which does not touch training): one row per pair with both final held-out losses.

    At cpu scale the 500-step cosine runs are chapter 1's d64 μP runs at the LRs both grids share;
    trained separately, they must agree to :data:`REPRO_ATOL`.
    """
    import pandas as pd

    from scalelab.store import stable_hash

    theirs = {}
    for r in other:
        theirs.setdefault(stable_hash(_without_eval_schedule(r["config"])), r)
    rows = []
    for r in records:
        o = theirs.get(stable_hash(_without_eval_schedule(r["config"])))
        if o is None or r["result"]["status"] != "finished" or o["result"]["status"] != "finished":
            continue
        a, b = r["result"]["final_eval_loss"], o["result"]["final_eval_loss"]
        rows.append({"protocol": r["experiment"], "steps": r["config"]["total_steps"],
                     "log2_lr": math.log2(r["config"]["lr"]), "seed": r["config"]["seed"], "this_chapter": a,
                     "other_chapter": b, "abs_diff": abs(a - b)})
    cols = ["protocol", "steps", "log2_lr", "seed", "this_chapter", "other_chapter", "abs_diff"]
    return pd.DataFrame(rows, columns=cols).sort_values(["seed", "log2_lr"]).reset_index(drop=True)
