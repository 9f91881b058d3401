"""Chapter 2's design: the ablations, the dials of each scale, the run configs and every stage's plan.

Each ablation is a config delta from the μP baseline (:data:`ABLATIONS`); :func:`plan` sweeps each over its LR
grid at every width and seed. Later stages (:func:`stage_plans`) add the sources' controls (stage 'faithful') and
the long runs that settle the weight-decay gate (stage 'long_horizon'); :func:`run` trains or looks up records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from scalelab.chapter import recorded_all
from scalelab.model import ModelConfig
from scalelab.parametrization import attention_scale
from scalelab.runner import RunSpec
from scalelab.scales import validate_scale
from scalelab.train import TrainConfig

from .claims import VERSION, WD_INDEPENDENT, WD_TORCH


@dataclass(frozen=True)
class Ablation:
    """One ablation: a config delta from the baseline and what the paper found.

    Attributes:
        changes: ``TrainConfig.replace`` keyword arguments (model fields are routed to the model).
        claim: the claim id in CLAIMS.md (``""``: reported, no verdict).
        paper: Lingle's finding for this change, ``"transfers"`` or ``"breaks"`` (``""``: no claim).
        layout: ``"d_head"`` (fixed head size, Lingle's) or ``"n_head"`` (fixed head count).
        lr_shift: the LR grid is shifted by this many log2 units (Lion needs a ~3–10× smaller LR).
        extend: extra grid points (below, above) where the optimum is expected to move (SP's falls with width).
        batch_mult: batch size multiplier (the batch ablations).
        label: short text for tables and figures.
    """

    changes: dict = field(default_factory=dict)
    claim: str = ""
    paper: str = ""
    layout: str = "d_head"
    lr_shift: float = 0.0
    extend: tuple[int, int] = (0, 0)
    batch_mult: float = 1.0
    label: str = ""


# ----------------------------------------------------------------------------- the ablations
ABLATIONS: dict[str, Ablation] = {
    "baseline": Ablation({}, label="μP baseline"),
    "swiglu": Ablation({"activation": "swiglu"}, "C2.1", "transfers", label="SwiGLU"),
    "squared_relu": Ablation({"activation": "squared_relu"}, "C2.2", "transfers", label="squared ReLU"),
    "batch_x4": Ablation({}, "C2.3", "transfers", batch_mult=4.0, extend=(0, 1), label="batch ×4"),
    "batch_div4": Ablation({}, "C2.3", "transfers", batch_mult=0.25, extend=(1, 0), label="batch ÷4"),
    "zero_query": Ablation({"zero_query": True}, "C2.4", "transfers", label="zero-init queries"),
    "sp_unembedding": Ablation({"readout_init": "sp"}, "C2.5", "transfers", label="SP unembedding init"),
    "zero_readout": Ablation({"readout_init": "zero"}, label="zero-init readout (Lingle's baseline)"),
    "cosine": Ablation({"schedule": "cosine", "final_frac": 0.0}, "C2.6", "transfers", label="cosine schedule"),
    "rmsnorm_gains": Ablation({"norm_gain": True}, "C2.7", "breaks", label="RMSNorm gains"),
    # Lion with Lingle's β (scripts/paper/sweep_lion.sh: β1 0.95, β2 0.98) carries the claim; Lion with the
    # baseline's AdamW β (0.9, 0.95) was run first and is kept as a sensitivity check (no claim).
    "lion_lingle_betas": Ablation({"optimizer": "lion", "betas": (0.95, 0.98)}, "C2.8", "breaks", lr_shift=-2.0,
                                  extend=(1, 0), label="Lion, β (0.95, 0.98) as Lingle"),
    "lion": Ablation({"optimizer": "lion"}, lr_shift=-2.0, extend=(1, 0), label="Lion, baseline's β (0.9, 0.95)"),
    "wd_torch": Ablation({"weight_decay": WD_TORCH, "wd_mode": "torch"}, "C2.9", "breaks",
                         label=f"AdamW decay {WD_TORCH:g} (PyTorch form)"),
    # wd_independent_<λ> are added per scale by ablations(scale)
    "baseline_nhead": Ablation({}, layout="n_head", label="μP baseline, fixed n_head"),
    "attn_inv_sqrt_d_nhead": Ablation({"attn_scale": "inv_sqrt_d"}, "C2.10", "breaks", layout="n_head",
                                      label="attention 1/√d_head, fixed n_head"),
    "full_sp": Ablation({"parametrization": "sp", "attn_scale": "inv_sqrt_d", "readout_init": "default"}, "C2.11",
                        "breaks", extend=(2, 0), label="full SP"),
}


def ablations(scale: str) -> dict[str, Ablation]:
    """The ablations run at ``scale`` (smoke runs a subset that exercises every code path)."""
    p = chapter_plan(scale)
    out = dict(ABLATIONS)
    for lam in WD_INDEPENDENT[scale]:
        out[f"wd_independent_{lam:g}"] = Ablation({"weight_decay": lam, "wd_mode": "independent"},
                                                  label=f"independent decay {lam:g}")
    if p.only is not None:
        out = {k: v for k, v in out.items() if k in p.only}
    return out


def baseline_of(name: str) -> str:
    """The baseline an ablation is compared with (the one in its head layout)."""
    return "baseline_nhead" if ABLATIONS.get(name, Ablation()).layout == "n_head" else "baseline"


def claim_arms(scale: str) -> dict[str, list[str]]:
    """The arms that carry each claim at ``scale`` (claim id → ablation names, in plan order); the claim's kind,
    "transfers" (no effect) or "breaks" (|effect| ≥ …), is its arms' ``paper``."""
    out: dict[str, list[str]] = {}
    for name, a in ablations(scale).items():
        if a.claim:
            out.setdefault(a.claim, []).append(name)
    return out


# ----------------------------------------------------------------------------- scale plans
@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale.

    Tokens per run are ``total_steps · batch_size · seq_len`` for every ablation except the batch ones.
    ``batch_hold`` says what the batch ablations keep fixed: ``"steps"`` (then ×4 batch means ×4 tokens;
    used at cpu so that every run keeps ≥ 300 steps) or ``"tokens"`` (Lingle's choice: ×4 batch with ÷4
    steps; used at gpu).
    """

    widths: tuple[int, ...]
    n_layer: int
    d_head: int  # the fixed head size of the baseline layout
    n_head: int  # the fixed head count of the second layout
    seq_len: int
    batch_size: int
    total_steps: int
    warmup_frac: float
    lr_exponents: tuple[float, ...]  # log2 of the Adam LR grid (before an ablation's lr_shift)
    seeds: int
    eval_tokens: int
    batch_hold: str = "steps"
    only: tuple[str, ...] | None = None  # a subset of the ablations (smoke)

    @property
    def base_d_model(self) -> int:
        """The narrowest width: the base model, where μP equals SP."""
        return min(self.widths)

    @property
    def init_std(self) -> float:
        """σ at the base width: 1/√base_d_model."""
        return 1.0 / math.sqrt(self.base_d_model)

    @property
    def grid_step(self) -> float:
        """Spacing of the LR grid in log2 units."""
        e = self.lr_exponents
        return (e[-1] - e[0]) / (len(e) - 1) if len(e) > 1 else float("inf")

    def steps_for(self, batch_mult: float) -> int:
        if self.batch_hold == "tokens":
            return max(1, round(self.total_steps / batch_mult))
        return self.total_steps


PLANS = {
    "smoke": ChapterPlan(
        widths=(16, 32), n_layer=1, d_head=8, n_head=2, seq_len=32, batch_size=4, total_steps=20, warmup_frac=0.1,
        lr_exponents=(-7.0, -4.0, -1.0), seeds=2, eval_tokens=2048, only=("baseline", "lion_lingle_betas"),
    ),
    "cpu": ChapterPlan(
        # 500 steps (chapter 1's budget): at 300 steps the first 170 runs sat on the early plateau (baseline d32
        # best 2.53–2.61 nats/byte, batch ÷4 d64 flat within 0.03 over four octaves of LR, seed gaps up to 0.08)
        widths=(32, 64, 128), n_layer=2, d_head=16, n_head=4, seq_len=128, batch_size=16, total_steps=500,
        # LR grid 2^-8 … 2^-3: with the default readout the first records put the optimum at 2^-6 (d32, d64), 2^-9
        # was 0.4 nats/byte above it
        warmup_frac=0.1, lr_exponents=tuple(float(e) for e in range(-8, -2)), seeds=2, eval_tokens=65536,
        batch_hold="steps",
    ),
    "gpu": ChapterPlan(
        widths=(128, 512, 2048), n_layer=2, d_head=128, n_head=4, seq_len=256, batch_size=32, total_steps=2000,
        warmup_frac=0.08, lr_exponents=tuple(float(e) for e in range(-11, -2)), seeds=2, eval_tokens=262144,
        batch_hold="tokens",
    ),
}


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def model_config(scale: str, d_model: int, layout: str = "d_head"):
    """The baseline :class:`~scalelab.model.ModelConfig` at one width in one head layout."""
    p = chapter_plan(scale)
    heads = {"d_head": p.d_head, "n_head": None} if layout == "d_head" else {"d_head": None, "n_head": p.n_head}
    return ModelConfig(d_model=d_model, n_layer=p.n_layer, seq_len=p.seq_len, norm="rmsnorm", norm_gain=False,
                       attn_scale="inv_d", readout_init="default", parametrization="mup", base_d_model=p.base_d_model,
                       init_std=p.init_std, activation="gelu", **heads)


def baseline_config(scale: str, d_model: int, lr: float, seed: int, layout: str = "d_head", batch_mult: float = 1.0):
    """The baseline :class:`~scalelab.train.TrainConfig` (linear warmup, then linear decay to 0)."""
    p = chapter_plan(scale)
    steps = p.steps_for(batch_mult)
    warmup = max(1, round(p.warmup_frac * steps))
    return TrainConfig(model=model_config(scale, d_model, layout), optimizer="adamw", lr=lr, betas=(0.9, 0.95),
                       weight_decay=0.0, schedule="wsd", warmup_steps=warmup, decay_frac=1.0 - warmup / steps,
                       decay_shape="linear", final_frac=0.0, total_steps=steps,
                       batch_size=max(1, round(p.batch_size * batch_mult)), eval_tokens=p.eval_tokens, seed=seed)


def lr_grid(scale: str, name: str) -> tuple[float, ...]:
    """log2 LRs of an ablation's grid: the scale's grid, shifted by ``lr_shift`` and extended by ``extend``.

    At smoke neither applies: 20-step runs want the largest LRs whatever the optimizer, and the smoke grid is
    placed so that its optima are interior (the code path is the same).
    """
    a = ablations(scale)[name]
    p = chapter_plan(scale)
    e, h = p.lr_exponents, p.grid_step
    if scale == "smoke":
        return tuple(e)
    lo, hi = a.extend
    grid = [e[0] - h * k for k in range(lo, 0, -1)] + list(e) + [e[-1] + h * k for k in range(1, hi + 1)]
    return tuple(x + a.lr_shift for x in grid)


def plan(scale: str, seed: int = 0) -> list:
    """All runs: ablations × widths × seeds (``seed … seed+seeds−1``) × LR grid.

    The experiment name of a run is its ablation's name.

    Raises:
        ValueError: on an unknown scale.
    """
    p = chapter_plan(scale)
    specs = []
    for name, a in ablations(scale).items():
        for d in p.widths:
            for s in range(seed, seed + p.seeds):
                for e in lr_grid(scale, name):
                    cfg = baseline_config(scale, d, 2.0 ** e, s, a.layout, a.batch_mult)
                    if a.changes:
                        cfg = cfg.replace(**a.changes)
                    specs.append(RunSpec(name, cfg, VERSION))
    return specs




# ----------------------------------------------------------------------------- stage 2: the sources' controls
# Planned after the first stage's results were read against Lingle's v1 code (lucaslingle/mu_transformer at
# e39cd5d, 2024-04-09) and Tensor Programs V (arXiv 2203.03466); the page says so. Every arm of this stage clips
# the gradient's global norm at 1.0 as v1 does (mu_transformer/configs/base.py: grad_clip = 1.0, applied by
# optax.clip_by_global_norm in mu_transformer/jax_impl/launch.py, grad_transform_factory), so the baseline arms
# are retrained, not only the new points. Three seeds; the integer LR grid plus half-octave points around each
# arm's first-stage optimum (HALF_CENTRES).
STAGE2 = "faithful"
GRAD_CLIP = 1.0
STAGE2_SEEDS = 3
HALF_OFFSETS = (-2.0, -1.0, 0.0, 1.0)  # half-octave points c − 2 … c + 1 around the centre c
HALF_CENTRE = -5.5  # first stage: baseline-family optima 2^-5.1 … 2^-5.9 at every width (Lion: −2, SP: −1 lower)
STAGE2_ARMS: dict[str, Ablation] = {
    "s2_baseline": Ablation({"grad_clip": GRAD_CLIP}, label="μP baseline, clipped"),
    "s2_baseline_nhead": Ablation({"grad_clip": GRAD_CLIP}, layout="n_head", label="μP baseline, fixed n_head, "
                                  "clipped"),
    # Fan-in SP, the SP of Tensor Programs V and of Lingle's scripts/sweep_sp.sh (init d_model**-0.5, SP readout,
    # 1/√d_head, one LR): the positive control. The constant-σ SP of the first stage is kept as a labelled variant.
    "s2_full_sp_fanin": Ablation({"parametrization": "sp", "sp_init": "fan_in", "attn_scale": "inv_sqrt_d",
                                  "grad_clip": GRAD_CLIP}, "C2.11", "breaks", extend=(2, 0),
                                 label="full SP, fan-in init (clipped)"),
    "s2_full_sp_const": Ablation({"parametrization": "sp", "attn_scale": "inv_sqrt_d", "grad_clip": GRAD_CLIP},
                                 extend=(2, 0), label="full SP, constant σ (clipped)"),
    # The middle controls of Everett et al. 2024 (arXiv 2407.05872): one half of μP each.
    "s2_mup_lr_only": Ablation({"parametrization": "sp", "sp_init": "fan_in", "lr_rule": "mup",
                                "attn_scale": "inv_sqrt_d", "grad_clip": GRAD_CLIP}, extend=(1, 0),
                               label="μP's LR rule only (fan-in SP init)"),
    "s2_mup_init_only": Ablation({"lr_rule": "sp", "grad_clip": GRAD_CLIP}, extend=(2, 0),
                                 label="μP's init only (SP's LR rule)"),
    "s2_rmsnorm_gains": Ablation({"norm_gain": True, "grad_clip": GRAD_CLIP}, "C2.7", "breaks",
                                 label="RMSNorm gains (clipped)"),
    "s2_lion_lingle_betas": Ablation({"optimizer": "lion", "betas": (0.95, 0.98), "grad_clip": GRAD_CLIP}, "C2.8",
                                     "breaks", lr_shift=-2.0, extend=(1, 0), label="Lion as Lingle (clipped)"),
    "s2_wd_torch": Ablation({"weight_decay": WD_TORCH, "wd_mode": "torch", "grad_clip": GRAD_CLIP}, "C2.9",
                            "breaks", label=f"AdamW decay {WD_TORCH:g} (clipped)"),
    # C2.10 as Lingle tested it: fixed d_head, his uncalibrated 1/d_head baseline (configs/base.py: qk_scale 1/128
    # with d_head 128) against 1/√d_head (scripts/sweep_qkscale.sh: 0.0884 = 1/√128), i.e. our s2_baseline.
    "s2_attn_uncalibrated": Ablation({"attn_scale": "inv_d_uncalibrated", "grad_clip": GRAD_CLIP},
                                     label="uncalibrated 1/d_head, fixed d_head (Lingle's baseline qk scale)"),
    "s2_attn_inv_sqrt_d_nhead": Ablation({"attn_scale": "inv_sqrt_d", "grad_clip": GRAD_CLIP}, layout="n_head",
                                         label="attention 1/√d_head, fixed n_head (clipped)"),
}
# The baseline each stage-2 arm is compared with. C2.10's Lingle-form test is 1/√d_head (= s2_baseline with a
# fixed d_head) against the uncalibrated 1/d_head: its "ablation" is s2_baseline and its baseline the latter.
STAGE2_BASE = {"s2_attn_inv_sqrt_d_nhead": "s2_baseline_nhead", "s2_baseline_nhead": "s2_baseline_nhead"}
STAGE2_CLAIMS = {"C2.7": ("s2_rmsnorm_gains", "s2_baseline"), "C2.8": ("s2_lion_lingle_betas", "s2_baseline"),
                 "C2.9": ("s2_wd_torch", "s2_baseline"), "C2.10": ("s2_baseline", "s2_attn_uncalibrated"),
                 "C2.11": ("s2_full_sp_fanin", "s2_baseline")}


def stage2_grid(scale: str, name: str) -> tuple[float, ...]:
    """log2 LRs of a stage-2 arm: the first stage's integer grid for it plus half-octave points around its centre."""
    a = STAGE2_ARMS[name]
    p = chapter_plan(scale)
    e, h = p.lr_exponents, p.grid_step
    lo, hi = a.extend
    grid = [e[0] - h * k for k in range(lo, 0, -1)] + list(e) + [e[-1] + h * k for k in range(1, hi + 1)]
    grid = [x + a.lr_shift for x in grid]
    if scale == "smoke":
        return tuple(e)
    centre = HALF_CENTRE + a.lr_shift + (-1.0 if a.extend[0] >= 2 else 0.0)  # SP's optimum falls ~1 octave lower
    half = [centre + d for d in HALF_OFFSETS if min(grid) < centre + d < max(grid)]
    return tuple(sorted(set(grid) | set(half)))


def stage2_plan(scale: str, seed: int = 0) -> list:
    """Stage 'faithful': every arm of :data:`STAGE2_ARMS` × widths × 3 seeds × its grid, clipped at 1.0."""
    p = chapter_plan(scale)
    specs = []
    names = list(STAGE2_ARMS) if p.only is None else ["s2_baseline", "s2_full_sp_fanin"]
    for name in names:
        a = STAGE2_ARMS[name]
        for d in p.widths:
            for s in range(seed, seed + STAGE2_SEEDS):
                for e in stage2_grid(scale, name):
                    cfg = baseline_config(scale, d, 2.0 ** e, s, a.layout, a.batch_mult).replace(**a.changes)
                    specs.append(RunSpec(name, cfg, VERSION))
    return specs


def long_horizon_plan(scale: str, seed: int = 0) -> list:
    """Stage 'long_horizon': C2.9's mechanism gate settled — baseline and decay arms (clipped, 3 seeds) run for
    MECHANISM_TAUS·τ_hidden steps at the two narrowest widths, τ from the first stage's baseline optimum
    (:data:`LONG_HORIZON_STEPS`, fixed here so that the plan does not move with the records)."""
    p = chapter_plan(scale)
    specs = []
    for d, steps in LONG_HORIZON_STEPS.get(scale, {}).items():
        for name in ("s2_baseline", "s2_wd_torch"):
            a = STAGE2_ARMS[name]
            for s in range(seed, seed + STAGE2_SEEDS):
                for e in p.lr_exponents:
                    cfg = baseline_config(scale, d, 2.0 ** e, s, a.layout).replace(**a.changes)
                    warm = max(1, round(p.warmup_frac * steps))
                    cfg = cfg.replace(total_steps=steps, warmup_steps=warm, decay_frac=1.0 - warm / steps)
                    specs.append(RunSpec(f"long_{name[3:]}", cfg, VERSION))
    return specs


# 3·τ_hidden of the first stage's baseline (τ = 1/(η*·λ/m): 469 steps at d32, 868 at d64; decay_timescales()),
# rounded up to a multiple of 100 steps.
LONG_HORIZON_STEPS = {"cpu": {32: 1500, 64: 2700}}


ANALYSED_STAGES = (STAGE2,)  # the later stages analyze() reads, once complete (scalelab.runner.chapter_records)


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The chapter's stages in order: ``base`` (what the page has rendered), ``faithful`` and ``long_horizon``.
    A sweep runs them all; a stage is analysed only when every one of its runs is recorded."""
    return {"base": plan(scale, seed=seed), STAGE2: stage2_plan(scale, seed=seed),
            "long_horizon": long_horizon_plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = STAGE2, seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (matched by config key)."""
    specs = stage_plans(scale, seed)[stage]
    return bool(specs) and recorded_all(specs, records)



def attention_scales(scale: str):
    """The attention logit multiplier per width: 1/d_head (calibrated) vs 1/√d_head, in both head layouts.

    In the fixed-d_head layout the calibrated 1/d_head *equals* 1/√d_head at every width (d_head never
    changes), so that ablation is the baseline itself; with a fixed head count the ratio grows as
    √(d_head / d_head,base).
    """
    rows = []
    for layout in ("d_head", "n_head"):
        for d in chapter_plan(scale).widths:
            m = model_config(scale, d, layout)
            n_head, d_head = m.heads
            a, b = attention_scale("inv_d", d_head, m.base_d_head), attention_scale("inv_sqrt_d", d_head,
                                                                                     m.base_d_head)
            rows.append({"layout": f"fixed {layout}", "d_model": d, "n_head": n_head, "d_head": d_head,
                         "1/d_head (calibrated)": a, "1/√d_head": b, "ratio": b / a})
    return pd.DataFrame(rows)
