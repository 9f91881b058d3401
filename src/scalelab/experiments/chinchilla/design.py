"""Chapter 5's design: the dials of each scale (:class:`ChapterPlan`), the runs of Part A (a constant-LR trunk per
size and its cooldown branches), the later stage ``controls``, and :func:`run`, which trains or looks up them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalelab.chapter import recorded_all
from scalelab.experiments.chinchilla.claims import (
    DECAY_FRAC,
    DECAY_SHAPE,
    DENSE_BRANCHES,
    DENSE_SPAN,
    EXP_DENSE,
    EXP_FIT,
    EXP_HELDOUT,
    EXP_LR,
    EXP_LR_STABLE,
    EXP_STABLE,
    HELDOUT_EXTRA_SEEDS,
    LR_CHECK_OCTAVES,
    MIN_BUDGETS,
    MIN_C_SPAN,
    MIN_HELDOUT_RATIO,
    MIN_N_SPAN,
    MIN_SIZES,
    VERSION,
)
from scalelab.flops import num_params_by_shape
from scalelab.model import ModelConfig
from scalelab.scales import validate_scale
from scalelab.sweep import RunSpec
from scalelab.train import TrainConfig


@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale.

    ``sizes`` are (d_model, n_layer) of the fitted grid; ``heldout_sizes`` the shapes trained at the
    held-out budget (decided here, before any fit). A size gets a branch at a budget only when its
    step count lies in [min_steps, max_steps] (too few steps is noise; too many is cost).
    """
    sizes: tuple[tuple[int, int], ...]
    heldout_sizes: tuple[tuple[int, int], ...]
    budgets: tuple[float, ...]
    heldout_budget: float
    seq_len: int
    batch_size: int
    lr: float
    warmup_steps: int
    eval_tokens: int
    n_evals: int  # evaluations along each stable run (its constant-LR curve)
    min_steps: int
    max_steps: int
    n_bootstrap: int  # Part A bootstrap resamples
    b_bootstrap: int  # Part B bootstrap resamples (Epoch, CS336)
    grid_stride: int  # Part B: every k-th of Hoffmann's 4,500 starts (1 = all)
    mean_stride: int  # Part B: the mean-reduced fit's starts (plain scipy, slow)
    base_d_model: int = 64  # μP base width (the LR is the base model's)
    n_head: int | None = None  # fixed head count (d_head grows with width); None: 16-dim heads
    init_std: float = 0.02  # base init σ

    @property
    def tokens_per_step(self) -> int:
        return self.seq_len * self.batch_size


PLANS = {
    "smoke": ChapterPlan(
        sizes=((32, 1), (48, 1), (64, 1), (80, 1)), heldout_sizes=((64, 1), (80, 1), (96, 1)),
        budgets=(5e8, 8e8, 1.2e9), heldout_budget=2.4e9, seq_len=32, batch_size=4, lr=2.0 ** -6,
        warmup_steps=2, eval_tokens=1024, n_evals=4, min_steps=6, max_steps=60, n_bootstrap=20, b_bootstrap=20,
        grid_stride=50, mean_stride=150),
    "cpu": ChapterPlan(
        # Version 2. Version 1 mixed depths (1–4 layers) at one LR that was never checked for this model: its
        # profiles fell towards the smallest size at every budget (a 1-layer d16 model won the two smallest
        # budgets), so vertices were not interior and the held-out sizes missed the prediction. Now every size
        # has 2 layers and is chapter 1's μP model (base d 32, σ = 1/√32, 4 heads, attention 1/d_head), whose
        # optimal LR was measured flat in width at 2^-5.5 (500-step cosine runs, chapter 1); these runs are up to
        # 36× longer, so the peak is half an octave lower, 2^-6.
        # (16, 2) added after the first v2 sweep: the 1e12 profile's lowest loss was at d 32, its smallest size.
        sizes=((16, 2), (32, 2), (48, 2), (64, 2), (96, 2), (128, 2), (192, 2)),
        heldout_sizes=((64, 2), (96, 2), (128, 2), (192, 2), (256, 2)),
        budgets=(1e12, 2.5e12, 5e12, 1e13), heldout_budget=3e13, seq_len=128, batch_size=16,
        lr=2.0 ** -6, warmup_steps=20, eval_tokens=65536, n_evals=8, min_steps=100, max_steps=25000, n_bootstrap=400,
        b_bootstrap=400, grid_stride=1, mean_stride=5, base_d_model=32, n_head=4, init_std=32 ** -0.5),
    "gpu": ChapterPlan(
        sizes=((64, 2), (96, 3), (128, 4), (192, 4), (256, 6), (384, 8)),
        heldout_sizes=((192, 4), (256, 6), (384, 8), (512, 8)),
        budgets=(5e13, 1.5e14, 5e14, 1.5e15), heldout_budget=5e15, seq_len=256, batch_size=32, lr=2.0 ** -7,
        warmup_steps=100, eval_tokens=262144, n_evals=16, min_steps=150, max_steps=60000, n_bootstrap=1000,
        b_bootstrap=4000, grid_stride=1, mean_stride=1),
}


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def model_config(scale: str, d_model: int, n_layer: int):
    """The :class:`~scalelab.model.ModelConfig` of one size: μP (attention 1/d_head) at the plan's base
    width, init σ and head layout (cpu: chapter 1's model; smoke and gpu: 16-dim heads, base width 64)."""
    p = chapter_plan(scale)
    heads = {"n_head": p.n_head, "d_head": None} if p.n_head else {}
    return ModelConfig(d_model=d_model, n_layer=n_layer, seq_len=p.seq_len, parametrization="mup",
                       attn_scale="inv_d", base_d_model=p.base_d_model, init_std=p.init_std, **heads)


def num_params(d_model: int, n_layer: int, seq_len: int, convention: str = "total", vocab_size: int = 256) -> int:
    """N of one size (:func:`scalelab.flops.num_params_by_shape`, d_head 16, d_ff = 4·d_model)."""
    return num_params_by_shape(n_layer=n_layer, d_model=d_model, n_head=d_model // 16, d_head=16, d_ff=4 * d_model,
                               vocab_size=vocab_size, seq_len=seq_len, convention=convention)


def branch_steps(scale: str, d_model: int, n_layer: int, budget: float) -> int:
    """Steps T with 6·N·T·tokens_per_step closest to ``budget``."""
    p = chapter_plan(scale)
    n = num_params(d_model, n_layer, p.seq_len)
    return max(1, round(budget / (6.0 * n * p.tokens_per_step)))


def grid(scale: str) -> pd.DataFrame:
    """One row per cooldown branch: role, budget, size, N, steps T, cooldown start s."""
    p = chapter_plan(scale)
    rows = []
    for role, budgets, sizes in ((EXP_FIT, p.budgets, p.sizes), (EXP_HELDOUT, (p.heldout_budget,), p.heldout_sizes)):
        for c in budgets:
            for d, nl in sizes:
                t = branch_steps(scale, d, nl, c)
                if p.min_steps <= t <= p.max_steps:
                    s = t - max(1, round(DECAY_FRAC * t))
                    rows.append({"role": role, "budget": c, "d_model": d, "n_layer": nl,
                                 "N": num_params(d, nl, p.seq_len), "steps": t, "cooldown_start": s})
    return pd.DataFrame(rows)


def _base_config(scale: str, d_model: int, n_layer: int, seed: int):
    p = chapter_plan(scale)
    return TrainConfig(model=model_config(scale, d_model, n_layer), lr=p.lr, warmup_steps=p.warmup_steps,
                       batch_size=p.batch_size, eval_tokens=p.eval_tokens, seed=seed, weight_decay=0.0,
                       total_steps=p.max_steps + 1)


def plan(scale: str, seed: int = 0) -> list:
    """All runs: a stable run per size (parents first), then its cooldown branches.

    Raises:
        ValueError: on an unknown scale.
    """
    g = grid(scale)
    parents, branches = [], []
    for (d, nl), sub in g.groupby(["d_model", "n_layer"], sort=True):
        starts = tuple(sorted(set(int(s) for s in sub["cooldown_start"])))
        total = max(starts) + 1  # the stable run only needs to reach its last cooldown start
        base = _base_config(scale, int(d), int(nl), seed)
        stable = RunSpec(EXP_STABLE, base.replace(schedule="constant", total_steps=total, checkpoint_steps=starts,
                                                  eval_every=max(1, total // chapter_plan(scale).n_evals)), VERSION)
        parents.append(stable)
        for r in sub.itertuples():
            cfg = base.replace(schedule="wsd", decay_frac=DECAY_FRAC, decay_shape=DECAY_SHAPE, final_frac=0.0,
                               total_steps=int(r.steps), init_from=stable.config_key,
                               init_step=int(r.cooldown_start))
            branches.append(RunSpec(r.role, cfg, VERSION))
    return parents + branches


def _branch_spec(scale: str, experiment: str, base, stable, steps: int):
    cfg = base.replace(schedule="wsd", decay_frac=DECAY_FRAC, decay_shape=DECAY_SHAPE, final_frac=0.0,
                       total_steps=int(steps), init_from=stable.config_key,
                       init_step=int(steps) - max(1, round(DECAY_FRAC * int(steps))))
    return RunSpec(experiment, cfg, VERSION)


def _stable_spec(scale: str, base, starts: tuple[int, ...], experiment: str = EXP_STABLE):
    total = max(starts) + 1
    return RunSpec(experiment, base.replace(schedule="constant", total_steps=total, checkpoint_steps=tuple(starts),
                                            eval_every=max(1, total // chapter_plan(scale).n_evals)), VERSION)


def controls_plan(scale: str, seed: int = 0) -> list:
    """Stage ``controls`` (planned after the first stage's results; trained by the sweep, analysed only when
    complete, :func:`stage_complete`):

    * ``envelope``: :data:`DENSE_BRANCHES` more cooldown branches per size (20% of each branch's steps), from
      the first stage's stable runs, log-spaced in steps over :data:`DENSE_SPAN`× below the size's longest
      branch, so that approach 1's envelope is dense. Checkpoint steps are not part of a run's key
      (:mod:`scalelab.keys`): the stable runs keep their keys and records, and a missing checkpoint is
      recreated (``sweep.recreate_checkpoint``) without a second record;
    * ``lr_check``: at both ends (smallest and largest size) of every fitted IsoFLOP profile, the plan's LR
      × 2^±:data:`LR_CHECK_OCTAVES`, each from its own constant-LR trunk per (size, LR);
    * ``heldout`` with seeds :data:`HELDOUT_EXTRA_SEEDS`: every held-out size again, each from a stable run of
      that seed.

    Raises:
        ValueError: on an unknown scale.
    """
    p = chapter_plan(scale)
    base_specs = plan(scale, seed)
    g = grid(scale)
    specs = []
    for st in [s for s in base_specs if s.experiment == EXP_STABLE]:
        m = st.config.model
        have = {b.config.total_steps for b in base_specs if b.config.init_from == st.config_key}
        t_max, last = max(have), st.config.total_steps - 1
        base = _base_config(scale, m.d_model, m.n_layer, seed)
        for t in np.geomspace(max(p.min_steps, t_max / DENSE_SPAN), t_max, DENSE_BRANCHES + 1)[:-1]:
            t = int(round(t))
            if t in have or t - max(1, round(DECAY_FRAC * t)) > last:
                continue
            have.add(t)
            specs.append(_branch_spec(scale, EXP_DENSE, base, st, t))
    fit = g[g.role == EXP_FIT]
    ends: dict = {}
    for _c, sub in fit.groupby("budget"):
        for r in (sub.loc[sub["N"].idxmin()], sub.loc[sub["N"].idxmax()]):
            for k in (-1, 1):
                ends.setdefault((int(r.d_model), int(r.n_layer), k), []).append(int(r.steps))
    for (d, nl, k), steps in sorted(ends.items()):
        base = _base_config(scale, d, nl, seed).replace(lr=p.lr * 2.0 ** (k * LR_CHECK_OCTAVES))
        starts = tuple(sorted({t - max(1, round(DECAY_FRAC * t)) for t in steps}))
        st = _stable_spec(scale, base, starts, EXP_LR_STABLE)
        specs.append(st)
        specs += [_branch_spec(scale, EXP_LR, base, st, t) for t in sorted(set(steps))]
    held = g[g.role == EXP_HELDOUT]
    for s in HELDOUT_EXTRA_SEEDS:
        for r in held.itertuples():
            base = _base_config(scale, int(r.d_model), int(r.n_layer), seed + s)
            st = _stable_spec(scale, base, (int(r.cooldown_start),))
            specs += [st, _branch_spec(scale, EXP_HELDOUT, base, st, int(r.steps))]
    return specs


ANALYSED_STAGES = ("controls",)  # the later stages analyze() reads, once complete (scalelab.runner.chapter_records)


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The chapter's stages in order: ``base`` (what the page renders) and ``controls`` (:func:`controls_plan`).
    A sweep runs them all; a stage is analysed only when every one of its runs is recorded."""
    return {"base": plan(scale, seed=seed), "controls": controls_plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = "controls", seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (matched by config key)."""
    return recorded_all(stage_plans(scale, seed)[stage], records)




def design_ok(scale: str) -> tuple[bool, str]:
    """Whether the plan meets the Part-A design minimums (sizes, N span, budgets, C span, held-out ratio)."""
    p = chapter_plan(scale)
    ns = [num_params(d, nl, p.seq_len) for d, nl in p.sizes]
    span_n, span_c = max(ns) / min(ns), max(p.budgets) / min(p.budgets)
    ratio = p.heldout_budget / max(p.budgets)
    ok = (len(p.sizes) >= MIN_SIZES and span_n >= MIN_N_SPAN and len(p.budgets) >= MIN_BUDGETS
          and span_c >= MIN_C_SPAN and ratio >= MIN_HELDOUT_RATIO and scale != "smoke")
    return ok, (f"{len(p.sizes)} sizes over {span_n:.1f}× in N, {len(p.budgets)} budgets over {span_c:.1f}× in C, "
                f"held-out {ratio:.1f}× the largest fitted")
