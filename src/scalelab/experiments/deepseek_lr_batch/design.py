"""Chapter 4's design: the dials of each scale, the compute budgets and their (B_tok, η) grids, the run configs,
and the first stage (:func:`fitted_plan`), which depends on nothing measured.

The later stages, placed on the records of the ones before, are in :mod:`.stages`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scalelab.flops import deepseek_m, deepseek_six_n1, deepseek_six_n2
from scalelab.model import ModelConfig
from scalelab.runner import RunSpec
from scalelab.scales import validate_scale
from scalelab.train import TrainConfig

from .claims import EXP_GRID, EXP_NOISE, VERSION, deepseek_batch, deepseek_eta

# ----------------------------------------------------------------------------- scale plans


@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale.

    Attributes:
        widths: d_model of the fitted budgets, one budget per width (multiples of ``n_head``).
        heldout_width: d_model of the held-out budget (larger than every fitted one).
        n_layer, seq_len, n_head: model shape (``d_head = d_model / n_head``).
        init_std: the one init σ of every width (SP).
        tokens_per_param: D / N₁ of every budget (N₁ = 12·n_layer·d², non-embedding).
        lr_step: spacing of the η grid in octaves; ``lr_side`` values each side of the centre.
        batch_side: B_tok values each side of the centre, one octave apart.
        heldout_lr_side, heldout_batch_side: the same for the held-out grid (defined here, a priori).
        batch_offset, lr_offset: octaves added to DeepSeek's B and η laws to place every grid centre.
        lr_slope: octaves of η per octave of B_tok by which each column's η range moves (0: rectangular).
        noise_seeds: seeds at each grid centre, the grid's own seed included.
        warmup_frac: linear warmup over this fraction of a run's steps (at least one step).
        eval_tokens: held-out tokens of the final evaluation.
        bootstrap: resamples of the CIs.
    """

    widths: tuple[int, ...]
    heldout_width: int
    n_layer: int
    seq_len: int
    n_head: int
    init_std: float
    tokens_per_param: float
    lr_step: float
    lr_side: int
    batch_side: int
    heldout_lr_side: int
    heldout_batch_side: int
    noise_seeds: int
    warmup_frac: float
    eval_tokens: int
    bootstrap: int
    batch_offset: float = 0.0
    lr_offset: float = 0.0
    lr_slope: float = 0.0


PLANS = {
    "smoke": ChapterPlan(
        widths=(16, 32), heldout_width=48, n_layer=1, seq_len=32, n_head=2, init_std=16 ** -0.5,
        tokens_per_param=1.0,
        lr_step=6.0, lr_side=1, batch_side=1, heldout_lr_side=1, heldout_batch_side=0, noise_seeds=3,
        warmup_frac=0.05, eval_tokens=8192, bootstrap=50),
    "cpu": ChapterPlan(
        # ±1.5 octaves of η per column: in the first grid the loss rose by ≥ 2% (8 bands) within one octave of
        # each column's optimum, so the column brackets the band whenever its centre is within an octave of it
        widths=(24, 32, 48, 64), heldout_width=80, n_layer=2, seq_len=64, n_head=4, init_std=32 ** -0.5,
        tokens_per_param=20.0,
        lr_step=0.5, lr_side=3, batch_side=2, heldout_lr_side=3, heldout_batch_side=1, noise_seeds=3,
        warmup_frac=0.05, eval_tokens=65536, bootstrap=1000, batch_offset=-3.0, lr_offset=-1.5, lr_slope=0.5),
    "gpu": ChapterPlan(
        widths=(64, 96, 128, 192, 256), heldout_width=384, n_layer=4, seq_len=256, n_head=4,
        init_std=128 ** -0.5, tokens_per_param=20.0,
        lr_step=0.5, lr_side=5, batch_side=3, heldout_lr_side=3, heldout_batch_side=1, noise_seeds=5,
        warmup_frac=0.05, eval_tokens=262144, bootstrap=2000),
}


def chapter_plan(scale: str) -> ChapterPlan:
    """The dials of ``scale``.

    Raises:
        ValueError: naming the valid scales.
    """
    return PLANS[validate_scale(scale)]


def scale_measures(d_model: int, n_layer: int, seq_len: int, vocab_size: int = 256) -> dict[str, float]:
    """FLOPs per token of one shape under DeepSeek's three measures (:mod:`scalelab.flops`)."""
    return {"M": deepseek_m(n_layer=n_layer, d_model=d_model, seq_len=seq_len),
            "6N1": deepseek_six_n1(n_layer=n_layer, d_model=d_model),
            "6N2": deepseek_six_n2(n_layer=n_layer, d_model=d_model, vocab_size=vocab_size)}


@dataclass(frozen=True)
class Budget:
    """One compute budget: its model, its tokens and its (B_tok, η) grid.

    ``flops`` is the nominal C = M·D; a run's actual compute differs by the rounding of its steps.
    """

    d_model: int
    heldout: bool
    m: float
    num_tokens: float
    batch_exps: tuple[int, ...]  # log2 B_tok of the grid
    lr_exps: tuple[float, ...]  # log2 η of the centre column
    lr_step: float = 0.5  # η grid spacing (octaves)
    lr_slope: float = 0.0  # octaves of η per octave of B_tok between columns
    predicted: bool = False  # held-out: the grid is centred on the fitted laws' prediction
    centre_batch: int | None = None  # log2 B_tok of the centre when the grid was extended (else the middle)
    extended: int = 0  # columns added beyond the placed grid (HELDOUT_EXTEND)

    @property
    def flops(self) -> float:
        return self.m * self.num_tokens

    @property
    def centre(self) -> tuple[int, float]:
        """(log2 B_tok, log2 η) at the grid centre: DeepSeek's laws at this C plus the offsets, rounded (held-out:
        the fitted laws' prediction, rounded; an extension keeps it)."""
        b = self.centre_batch if self.centre_batch is not None else self.batch_exps[len(self.batch_exps) // 2]
        return b, self.lr_exps[len(self.lr_exps) // 2]

    def lr_exps_at(self, batch_exp: float) -> tuple[float, ...]:
        """log2 η of the column at ``batch_exp``: the centre column moved by ``lr_slope``·ΔB, on the η grid."""
        shift = self.lr_step * round(self.lr_slope * (batch_exp - self.centre[0]) / self.lr_step)
        return tuple(e + shift for e in self.lr_exps)

    @property
    def nodes(self) -> tuple[tuple[int, float], ...]:
        """Every (log2 B_tok, log2 η) of the grid, column by column."""
        return tuple((be, le) for be in self.batch_exps for le in self.lr_exps_at(be))

    @property
    def all_lr_exps(self) -> tuple[float, ...]:
        """The sorted union of the columns' η values (the heatmap's rows)."""
        return tuple(sorted({le for _, le in self.nodes}))


def prior_budgets(scale: str) -> list[Budget]:
    """The fitted budgets (by width) and, last, the held-out one, every grid placed a priori: centred on
    DeepSeek's laws at each C plus the plan's offsets (the held-out grid's final placement is
    :func:`scalelab.experiments.deepseek_lr_batch.stages.heldout_budget`)."""
    p = chapter_plan(scale)
    out = []
    for d, held in [*[(w, False) for w in p.widths], (p.heldout_width, True)]:
        m = scale_measures(d, p.n_layer, p.seq_len)["M"]
        n1 = 12 * p.n_layer * d * d
        D = p.tokens_per_param * n1
        C = m * D
        # Centre on DeepSeek's laws at C plus the plan's offsets; the smallest batch is at least one sequence.
        bside = p.heldout_batch_side if held else p.batch_side
        lside = p.heldout_lr_side if held else p.lr_side
        bc = max(round(math.log2(float(deepseek_batch(C))) + p.batch_offset),
                 math.ceil(math.log2(p.seq_len)) + bside)
        lc = p.lr_step * round((math.log2(float(deepseek_eta(C))) + p.lr_offset) / p.lr_step)
        out.append(Budget(d_model=d, heldout=held, m=m, num_tokens=D,
                          batch_exps=tuple(bc + k for k in range(-bside, bside + 1)),
                          lr_exps=tuple(lc + p.lr_step * k for k in range(-lside, lside + 1)),
                          lr_step=p.lr_step, lr_slope=p.lr_slope))
    return out


def budget_of(scale: str, d: int, held: bool) -> Budget:
    """The budget of width ``d`` by the plan's rule (D = tokens_per_param · N₁), without a grid."""
    p = chapter_plan(scale)
    m = scale_measures(d, p.n_layer, p.seq_len)["M"]
    return Budget(d_model=d, heldout=held, m=m, num_tokens=p.tokens_per_param * 12 * p.n_layer * d * d,
                  batch_exps=(), lr_exps=(), lr_step=p.lr_step)


def model_config(scale: str, d_model: int) -> ModelConfig:
    """The :class:`~scalelab.model.ModelConfig` of one budget: standard parametrization (no μP), one init σ
    at every width, a fixed head count (chapter 1's SP baseline)."""
    p = chapter_plan(scale)
    return ModelConfig(d_model=d_model, n_layer=p.n_layer, n_head=p.n_head, d_head=None, seq_len=p.seq_len,
                       parametrization="sp", attn_scale="inv_sqrt_d", base_d_model=d_model, init_std=p.init_std)


def train_config(scale: str, b: Budget, batch_exp: int, lr_exp: float, seed: int) -> TrainConfig:
    """One run: B_tok = 2^batch_exp tokens per step, η = 2^lr_exp, steps = round(D / B_tok), multistep."""
    p = chapter_plan(scale)
    b_tok = 2 ** int(batch_exp)
    steps = max(1, round(b.num_tokens / b_tok))
    return TrainConfig(
        model=model_config(scale, b.d_model), lr=2.0 ** lr_exp, schedule="multistep",
        warmup_steps=max(1, round(p.warmup_frac * steps)), total_steps=steps, batch_size=b_tok // p.seq_len,
        eval_tokens=p.eval_tokens, seed=seed,
    )


def fitted_plan(scale: str, seed: int = 0) -> list[RunSpec]:
    """The first stage: each fitted budget's grid (seed ``seed``) and its centre at ``noise_seeds − 1``
    further seeds. It depends on no record.

    Raises:
        ValueError: on an unknown scale.
    """
    p = chapter_plan(scale)
    specs = []
    for b in prior_budgets(scale)[:-1]:
        for be, le in b.nodes:
            specs.append(RunSpec(EXP_GRID, train_config(scale, b, be, le, seed), VERSION))
        be, le = b.centre
        for s in range(seed + 1, seed + p.noise_seeds):
            specs.append(RunSpec(EXP_NOISE, train_config(scale, b, be, le, s), VERSION))
    return specs


# ----------------------------------------------------------------------------- stage "ridge" (planned, issue 21)


@dataclass(frozen=True)
class RidgePlan:
    """The redesign of issue 21 at one scale: more budgets over a wider span, grids along the ridge.

    Attributes:
        widths: d_model of the fitted budgets (shape fixed except width: the first stage's n_layer, seq_len,
            n_head and init σ).
        heldout_width: d_model of the held-out budget, at least :data:`HELDOUT_MIN_RATIO` × the largest
            fitted C.
        seeds: seeds of every cell (``seed``, ``seed + 1``, …): the noise is measured at every config, the
            best one included.
        batch_step: spacing of B_tok columns in octaves (half an octave; the batch is rounded to whole
            sequences, so the actual steps are 0.41–0.59 octave).
        batch_side: columns each side of the centre.
        lr_step, lr_side: spacing of η in octaves and values each side of a column's centre.
        ridge_slope: octaves of η per octave of B_tok by which a column's centre moves: the ridge of the
            first stage's fitted surfaces (−H_uv/H_vv was 0.45–0.52 at its four fitted budgets).
        neighbours: the surface-fit window (grid steps each side): 2 steps of ½ octave span the same
            ±1 octave as the first stage's window.
    """

    widths: tuple[int, ...]
    heldout_width: int
    seeds: int = 2
    batch_step: float = 0.5
    batch_side: int = 3
    lr_step: float = 0.5
    lr_side: int = 2
    ridge_slope: float = 0.5
    neighbours: int = 2


RIDGE = {
    "smoke": RidgePlan(widths=(16, 24, 32), heldout_width=48, batch_side=1, lr_side=1, lr_step=3.0),
    "cpu": RidgePlan(widths=(16, 20, 24, 28, 32, 40, 48, 56, 64), heldout_width=84),
}


def ridge_plan_of(scale: str) -> RidgePlan | None:
    """The redesign's dials at ``scale`` (None where the scale has no such stage: gpu)."""
    return RIDGE.get(validate_scale(scale))



def ridge_nodes(scale: str, d_model: int, centre: tuple[float, float]) -> list[tuple[int, float]]:
    """(batch_size in sequences, log2 η) of one redesigned budget's grid.

    Columns ``batch_step`` octaves apart around the centre (B_tok rounded to whole sequences, at least one;
    a column that rounds onto another is dropped and one is added at the far end, so every budget has
    2·batch_side + 1 columns); in each, 2·lr_side + 1 values of η ``lr_step`` apart around the ridge,
    η_c + ridge_slope·(log2 B_tok − log2 B_c) rounded to the η lattice.
    """
    rp = ridge_plan_of(scale)
    p = chapter_plan(scale)
    be_c, le_c = centre
    n_cols = 2 * rp.batch_side + 1
    lo = max(be_c - rp.batch_side * rp.batch_step, math.log2(p.seq_len))
    cols, k = [], 0
    while len(cols) < n_cols:
        bsz = max(1, round(2 ** (lo + k * rp.batch_step) / p.seq_len))
        if bsz not in cols:
            cols.append(bsz)
        k += 1
    nodes = []
    for bsz in cols:
        shift = rp.lr_step * round(rp.ridge_slope * (math.log2(bsz * p.seq_len) - be_c) / rp.lr_step)
        for j in range(-rp.lr_side, rp.lr_side + 1):
            nodes.append((bsz, le_c + shift + j * rp.lr_step))
    return nodes


