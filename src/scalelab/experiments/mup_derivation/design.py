"""Chapter 1's design: the dials of each scale, the LR-transfer runs, their cost, and the later stages."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from scalelab.chapter import recorded_all
from scalelab.experiments.mup_derivation.claims import EXPERIMENT, VERSION
from scalelab.model import ModelConfig
from scalelab.runner import RunSpec, estimated_seconds
from scalelab.scales import validate_scale
from scalelab.train import TrainConfig

# ----------------------------------------------------------------------------- scale plans


@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale.

    The numerics and the coordinate check are recomputed at every render, so their dials are chosen for
    power at a small cost: ten numeric seeds (a bootstrap over seeds; three gave a t interval with 2 df whose
    mde, ~0.22 in exponent, exceeded the ±0.1 tolerance) and, at cpu, five coordinate-check seeds over
    d_model 32…256 (the LR-transfer widths, 8×) with five Adam updates: the change since init already
    separates SP (exponent ≈ 1 at the hidden sites after one update, C1.4) from μP (0) there, and d 512
    and ten steps cost four times as much for the same criterion. Smoke uses the same coordinate widths
    (d_head ≥ 8; at d_head 4 the μP block outputs' finite-width drift alone misses the control).

    The LR-transfer grid uses a fixed head count (``n_head``), so d_head grows with width and μP's
    1/d_head attention differs from SP's 1/√d_head away from the base width. The base width is the
    narrowest one, where μP is SP exactly (``scalelab.parametrization``), and the base init std is
    σ = 1/√base_d_model (the fan-in rule A1 gives a square hidden layer at the base width), chosen
    from the theory, not tuned on the results.
    """

    numeric_widths: tuple[int, ...]
    numeric_seeds: int
    coord_widths: tuple[int, ...]
    coord_seeds: int
    coord_steps: int
    coord_batch: int
    coord_seq_len: int
    coord_n_layer: int
    widths: tuple[int, ...]
    n_layer: int
    n_head: int
    seq_len: int
    batch_size: int
    total_steps: int
    warmup_steps: int
    lr_exponents: tuple[float, ...]  # log2 of the peak LR grid, evenly spaced
    seeds: int
    eval_tokens: int

    @property
    def base_d_model(self) -> int:
        """The narrowest width: μP's hyperparameters are "tuned" here and SP == μP here."""
        return min(self.widths)

    @property
    def init_std(self) -> float:
        """σ at the base width: 1/√base_d_model (A1 for a square hidden layer at the base width)."""
        return 1.0 / math.sqrt(self.base_d_model)

    @property
    def coord_init_std(self) -> float:
        return 1.0 / math.sqrt(min(self.coord_widths))

    @property
    def grid_step(self) -> float:
        """Spacing of the LR grid in log2 units (one "grid step")."""
        e = self.lr_exponents
        return (e[-1] - e[0]) / (len(e) - 1)


PLANS = {
    "smoke": ChapterPlan(
        numeric_widths=(64, 128, 256), numeric_seeds=3,
        coord_widths=(32, 64, 128, 256), coord_seeds=3, coord_steps=5, coord_batch=4, coord_seq_len=16,
        coord_n_layer=1,
        widths=(16, 32), n_layer=1, n_head=4, seq_len=32, batch_size=4, total_steps=30, warmup_steps=3,
        lr_exponents=(-8.0, -6.0, -4.0, -2.0, 0.0), seeds=2, eval_tokens=2048,
    ),
    "cpu": ChapterPlan(
        numeric_widths=(64, 128, 256, 512, 1024, 2048), numeric_seeds=10,
        coord_widths=(32, 64, 128, 256), coord_seeds=5, coord_steps=5, coord_batch=8, coord_seq_len=64,
        coord_n_layer=2,
        widths=(32, 64, 128, 256), n_layer=2, n_head=4, seq_len=128, batch_size=16, total_steps=500,
        warmup_steps=50, lr_exponents=tuple(float(e) for e in range(-11, -3)), seeds=2, eval_tokens=65536,
    ),
    "gpu": ChapterPlan(
        numeric_widths=(64, 128, 256, 512, 1024, 2048), numeric_seeds=10,
        coord_widths=(128, 256, 512, 1024, 2048), coord_seeds=5, coord_steps=10, coord_batch=16,
        coord_seq_len=128, coord_n_layer=2,
        widths=(128, 256, 512, 1024, 2048), n_layer=2, n_head=4, seq_len=128, batch_size=32,
        total_steps=2000, warmup_steps=200, lr_exponents=tuple(e / 2 for e in range(-26, -7)), seeds=3,
        eval_tokens=262144,
    ),
}

COORD_LR = 2.0 ** -6  # Adam LR of the coordinate check (near the base optimum; constant, no schedule)


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def model_config(scale: str, d_model: int, parametrization: str, *, coord: bool = False):
    """The :class:`~scalelab.model.ModelConfig` of one width under SP or μP.

    SP uses GPT-2's 1/√d_head attention and μP the calibrated 1/d_head; at the base width they are
    the same model.
    """
    p = chapter_plan(scale)
    return ModelConfig(
        d_model=d_model,
        n_layer=p.coord_n_layer if coord else p.n_layer,
        n_head=p.n_head,
        d_head=None,
        seq_len=p.coord_seq_len if coord else p.seq_len,
        parametrization=parametrization,
        attn_scale="inv_d" if parametrization == "mup" else "inv_sqrt_d",
        base_d_model=min(p.coord_widths) if coord else p.base_d_model,
        init_std=p.coord_init_std if coord else p.init_std,
    )


def plan(scale: str, seed: int = 0) -> list:
    """All training runs of the LR-transfer grid at ``scale`` (seeds ``seed … seed+seeds−1``).

    Every run sees the same tokens (same steps × batch × seq_len); a cosine schedule with linear
    warmup decays to 10% of the peak.

    Raises:
        ValueError: on an unknown scale.
    """
    p = chapter_plan(scale)
    specs = []
    for param in ("sp", "mup"):
        for d in p.widths:
            m = model_config(scale, d, param)
            for s in range(seed, seed + p.seeds):
                for e in p.lr_exponents:
                    cfg = TrainConfig(
                        model=m, lr=2.0 ** e, total_steps=p.total_steps, warmup_steps=p.warmup_steps,
                        schedule="cosine", final_frac=0.1, batch_size=p.batch_size, eval_tokens=p.eval_tokens,
                        seed=s,
                    )
                    specs.append(RunSpec(EXPERIMENT, cfg, VERSION))
    return specs




# ----------------------------------------------------------------------------- cost
def plan_summary(scale: str):
    """One row per part of the chapter: runs, steps, tokens per run and estimated cost."""
    p = chapter_plan(scale)
    specs = plan(scale)
    dev = "gpu" if scale == "gpu" else "cpu"
    per_model: dict = {}  # one meta-device model per shape, not per run
    for s in specs:
        key = (s.config.model, s.config.batch_size, s.config.total_steps)
        if key not in per_model:
            per_model[key] = [estimated_seconds(s.config, dev), 0]
        per_model[key][1] += 1
    secs = sum(t * k for t, k in per_model.values())
    rows = [
        {"part": "1 spectral numerics (recomputed)", "runs": 0,
         "what": f"widths {p.numeric_widths[0]}…{p.numeric_widths[-1]}, {p.numeric_seeds} seeds, float64",
         "steps": 1, "tokens_per_run": 0, "est_hours": float("nan")},
        {"part": "3 coordinate check (recomputed)", "runs": 0,
         "what": f"widths {p.coord_widths}, {p.coord_seeds} seeds × SP/μP, {p.coord_steps} Adam steps",
         "steps": p.coord_steps, "tokens_per_run": p.coord_steps * p.coord_batch * p.coord_seq_len,
         "est_hours": float("nan")},
        {"part": "4 LR transfer (records)", "runs": len(specs),
         "what": f"widths {p.widths} × {len(p.lr_exponents)} LRs × SP/μP × {p.seeds} seeds",
         "steps": p.total_steps, "tokens_per_run": p.total_steps * p.batch_size * p.seq_len,
         "est_hours": secs / 3600},
    ]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- stage 2: fan-in SP, a third seed
# Planned after the first results were read against Tensor Programs V (arXiv 2203.03466, §3) and Lingle's v1 code
# (lucaslingle/mu_transformer e39cd5d: hidden init d_model**-0.5): their SP keeps fan-in init, ours a constant σ
# (issue 20). The stage adds fan-in SP (the SP control; the constant-σ SP stays as a labelled variant) with three
# seeds, and a third seed of SP and μP, on the first stage's LR grid (SP's grid one octave lower at the bottom).
STAGE2 = "fan_in_sp"
STAGE2_SEEDS = 3


def stage2_plan(scale: str, seed: int = 0) -> list:
    """Stage 'fan_in_sp': fan-in SP × widths × 3 seeds × grid; SP and μP at seed + 2."""
    p = chapter_plan(scale)
    specs = []
    h = p.grid_step
    arms = (("sp_fanin", "sp", "fan_in", range(seed, seed + STAGE2_SEEDS), (p.lr_exponents[0] - h,)),
            ("sp", "sp", "constant", (seed + STAGE2_SEEDS - 1,), ()),
            ("mup", "mup", "constant", (seed + STAGE2_SEEDS - 1,), ()))
    for _name, param, init, seeds, extra in arms:
        for d in p.widths:
            m = model_config(scale, d, param)
            if init != "constant":
                m = m.__class__(**{**m.to_dict(), "sp_init": init})
            for s in seeds:
                for e in (*extra, *p.lr_exponents):
                    cfg = TrainConfig(model=m, lr=2.0 ** e, total_steps=p.total_steps, warmup_steps=p.warmup_steps,
                                      schedule="cosine", final_frac=0.1, batch_size=p.batch_size,
                                      eval_tokens=p.eval_tokens, seed=s)
                    specs.append(RunSpec(EXPERIMENT, cfg, VERSION))
    return specs


def stage_plans(scale: str, seed: int = 0) -> dict[str, list]:
    """The chapter's stages in order: ``base`` (what the page renders) and ``fan_in_sp`` (planned, not yet used)."""
    return {"base": plan(scale, seed=seed), STAGE2: stage2_plan(scale, seed=seed)}


def stage_complete(records: list[dict], scale: str, stage: str = STAGE2, seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (matched by config key)."""
    return recorded_all(stage_plans(scale, seed)[stage], records)
