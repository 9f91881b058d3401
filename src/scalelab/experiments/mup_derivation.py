"""Chapter 1 — μP derivation checks: the two conditions, the rules table, coordinate checks, LR transfer.

The chapter tests, on the book's own code, each step of the μP argument as the CS336 lecture 11
presents it (after Yang, Simon & Bernstein 2023, "A Spectral Condition for Feature Learning",
arXiv 2310.17813, §3–4; and Yang et al. 2022, "Tensor Programs V", arXiv 2203.03466, §5 and
Table 3/8):

1. **The two conditions** on deep linear nets and a ReLU MLP (float64, pure numerics, recomputed in
   the notebook at every scale): A1 — at init ‖h_l‖₂ = Θ(√n_l) with
   σ_l = (1/√n_{l−1})·min(1, √(n_l/n_{l−1})); the Gaussian operator norm ‖W‖_op ≈ σ(√n_l + √n_{l−1});
   A2 — after one step ‖Δh_l‖₂ = Θ(√n_l) with η_l ∝ n_l/n_{l−1} (SGD) or η_l ∝ 1/n_{l−1} (Adam), and
   its violation by SP's one global LR. Verdicts come from log–log slopes against width with
   standard errors (:func:`spectral_checks`, :func:`operator_norm_check`).
2. **The rules table** of :mod:`scalelab.parametrization` beside the published Cerebras-GPT and
   MiniCPM recipes (:func:`published_recipes`).
3. **Coordinate check** on :class:`scalelab.model.GPT`: mean |activation| at four sites over the
   first Adam steps, SP vs μP, several widths and seeds (:func:`coord_check`; cheap, recomputed).
4. **LR transfer**: an LR grid × widths × {SP, μP} × seeds of real training runs, stored as records
   (:func:`plan`, :func:`run`); :func:`analyze` turns records into validity checks and verdicts on
   C1.1–C1.7 by the criteria stated in the module constants below.

Used by ``notebooks/01_mup_derivation.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scalelab.scales import validate_scale

SLUG = "mup_derivation"
NOTEBOOK = "01_mup_derivation.ipynb"
NB = NOTEBOOK[:2]
EXPERIMENT = "lr_transfer"
VERSION = 1
PARAMETRIZATION_LABELS = {"sp": "SP", "mup": "μP"}

# ----------------------------------------------------------------------------- criteria
# Stated before the results (the notebook prints CRITERIA) and applied mechanically by analyze().
FLAT_SLOPE = 0.1  # |d log(‖h‖/√n) / d log n| at most this → "Θ(1) in width"
GROWTH_SLOPE = 0.25  # SP updates "grow with width" when the steepest layer's slope is at least this …
SIGMA_MULT = 3.0  # … and at least this many standard errors above 0
SWAPPED_SLOPE = 0.5  # the other optimizer's rule must visibly fail (|slope| ≥ this) for "requires"
OPNORM_TOL = 0.05  # |‖W‖_op / σ(√n_l+√n_{l−1}) − 1| at the widest width: reproduced at most this …
OPNORM_BAD = 0.15  # … contradicted above this
COORD_BAND = 1.5  # μP: widest/narrowest mean |activation| at the last step within [1/1.5, 1.5]
COORD_BAD = 2.0  # μP outside [1/2, 2] at some site contradicts flatness
TRANSFER_STEPS = 1.0  # μP: optimum (log2 LR) moves at most this many grid steps across widths
DRIFT_STEPS = 2.0  # SP: optimum moves down by at least this many grid steps from narrowest to widest
MIN_WIDTH_RATIO = 8  # widest/narrowest for a transfer verdict (the claim spans 128→2048, 16×)
MIN_STEPS = 500  # training steps per run for a transfer verdict
MIN_SEEDS = 2
WIDER_TOL_NATS = 0.005  # C1.7: a wider model worse by more than max(this, 2·seed SE) contradicts
BASE_MATCH_NATS = 1e-3  # μP == SP at the base width: final losses agree to this (batched sums reorder)

CRITERIA = {
    "C1.1": f"A1 rule σ_l: |slope of ‖h_l‖/√n_l vs n| ≤ {FLAT_SLOPE} at every layer (deep linear net and ReLU MLP) "
            f"→ reproduced; a layer with |slope| > {FLAT_SLOPE} and ≥ {SIGMA_MULT:g} SE from 0 → contradicted.",
    "C1.2": f"|‖W‖_op / (σ(√n_l+√n_{{l−1}})) − 1| ≤ {OPNORM_TOL} for every shape at the widest width → reproduced; "
            f"> {OPNORM_BAD} → contradicted.",
    "C1.3": f"μP+SGD (η_l ∝ n_l/n_{{l−1}}) and μP+Adam (η_l ∝ 1/n_{{l−1}}): |slope of ‖Δh_l‖/√n_l| ≤ {FLAT_SLOPE} at "
            f"every layer, and each optimizer with the other's rule fails (some |slope| ≥ {SWAPPED_SLOPE}) → "
            f"reproduced; a matched rule with |slope| > {FLAT_SLOPE} and ≥ {SIGMA_MULT:g} SE → contradicted.",
    "C1.4": f"SP (1/√fan_in init, one global LR), SGD and Adam: the steepest layer's slope of ‖Δh_l‖/√n_l is "
            f"≥ {GROWTH_SLOPE} and ≥ {SIGMA_MULT:g} SE above 0 → reproduced; ≤ {FLAT_SLOPE} → contradicted.",
    "C1.5": f"At the last step, widest/narrowest mean |activation| (mean over seeds) within [1/{COORD_BAND}, "
            f"{COORD_BAND}] at all four sites under μP and > {COORD_BAND} for SP's logits → reproduced; μP outside "
            f"[1/{COORD_BAD:g}, {COORD_BAD:g}] somewhere, or SP's logits ≤ {COORD_BAND} → contradicted.",
    "C1.6": f"Optimum = vertex of a parabola in log2 LR through the argmin of the seed-mean loss and its two "
            f"neighbours. μP's optima span ≤ {TRANSFER_STEPS:g} grid step and SP's fall by ≥ {DRIFT_STEPS:g} grid "
            f"steps from narrowest to widest → reproduced; μP's span ≥ {DRIFT_STEPS:g} steps, or SP's does not "
            f"fall → contradicted. Needs widths spanning ≥ {MIN_WIDTH_RATIO}×, ≥ {MIN_STEPS} steps, ≥ {MIN_SEEDS} "
            f"seeds; otherwise not resolved.",
    "C1.7": f"μP: at every grid LR within one step of the median μP optimum, the seed-mean loss falls strictly "
            f"with width → reproduced; a wider model worse by more than max({WIDER_TOL_NATS}, 2·seed SE) nats "
            f"→ contradicted. Same scale requirements as C1.6.",
}

STATEMENTS = {
    "C1.1": "A1: with σ_l = (1/√n_{l−1})·min(1, √(n_l/n_{l−1})) activations are Θ(1) per coordinate at init.",
    "C1.2": "Gaussian operator norm: ‖W‖_op ≈ σ(√n_l + √n_{l−1}).",
    "C1.3": "A2 with SGD requires η_l ∝ n_l/n_{l−1}; with Adam η_l ∝ 1/n_{l−1}.",
    "C1.4": "SP (one global LR) violates A2: updates grow with width.",
    "C1.5": "Coordinate check: under μP activations stay flat in width over the first steps; "
            "under SP the readout grows.",
    "C1.6": "Under μP the optimal base LR is constant across width; under SP it drifts down as width grows.",
    "C1.7": "Under μP, wider is better at every LR near the optimum.",
}
SOURCES = {
    "C1.1": "Yang, Simon & Bernstein 2023 (arXiv 2310.17813) §3; lecture 11",
    "C1.2": "Yang, Simon & Bernstein 2023 (arXiv 2310.17813) §3 (Vershynin's bound); lecture 11",
    "C1.3": "Yang, Simon & Bernstein 2023 (arXiv 2310.17813) §4; lecture 11",
    "C1.4": "Yang et al. 2022 (arXiv 2203.03466) §5; lecture 11",
    "C1.5": "Yang et al. 2022 (arXiv 2203.03466) §D.1 (coordinate check); microsoft/mup",
    "C1.6": "Dey et al. 2023 (arXiv 2304.03208); Hu et al. 2024 (arXiv 2404.06395); lecture 11 replication table",
    "C1.7": "Yang et al. 2022 (arXiv 2203.03466) Fig. 1; lecture 11",
}

# ----------------------------------------------------------------------------- scale plans


@dataclass(frozen=True)
class ChapterPlan:
    """The dials of one scale.

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
        coord_widths=(16, 32, 64, 128), coord_seeds=3, coord_steps=10, coord_batch=4, coord_seq_len=16,
        coord_n_layer=1,
        widths=(16, 32), n_layer=1, n_head=4, seq_len=32, batch_size=4, total_steps=30, warmup_steps=3,
        lr_exponents=(-8.0, -6.0, -4.0, -2.0, 0.0), seeds=2, eval_tokens=2048,
    ),
    "cpu": ChapterPlan(
        numeric_widths=(64, 128, 256, 512, 1024, 2048), numeric_seeds=3,
        coord_widths=(64, 128, 256, 512), coord_seeds=3, coord_steps=10, coord_batch=8, coord_seq_len=64,
        coord_n_layer=2,
        widths=(32, 64, 128, 256), n_layer=2, n_head=4, seq_len=128, batch_size=16, total_steps=500,
        warmup_steps=50, lr_exponents=tuple(float(e) for e in range(-11, -3)), seeds=2, eval_tokens=65536,
    ),
    "gpu": ChapterPlan(
        numeric_widths=(64, 128, 256, 512, 1024, 2048), numeric_seeds=3,
        coord_widths=(128, 256, 512, 1024, 2048), coord_seeds=3, coord_steps=10, coord_batch=16,
        coord_seq_len=128, coord_n_layer=2,
        widths=(128, 256, 512, 1024, 2048), n_layer=2, n_head=4, seq_len=128, batch_size=32,
        total_steps=2000, warmup_steps=200, lr_exponents=tuple(e / 2 for e in range(-26, -7)), seeds=3,
        eval_tokens=262144,
    ),
}

COORD_LR = 2.0 ** -6  # Adam LR of the coordinate check (near the base optimum; constant, no schedule)
COORD_SITES = ("embedding", "attention", "mlp", "logits")


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
    from scalelab.model import ModelConfig

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
    from scalelab.runner import RunSpec
    from scalelab.train import TrainConfig

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


def run(scale: str, *, seed: int = 0, device: str = "auto", refresh: bool = False, records_only: bool = False,
        store=None) -> list[dict]:
    """The LR-transfer records at ``scale``: trained where missing, or looked up (``records_only``).

    Raises:
        ValueError: on an unknown scale.
        scalelab.sweep.MissingRecordsError: in records-only mode, naming the command that makes them.
    """
    from scalelab.book import validate_parameters

    validate_parameters(scale=scale, seed=seed, refresh=refresh, device=device, records_only=records_only)
    from scalelab.runner import run_chapter

    return run_chapter(SLUG, NB, plan(scale, seed=seed), scale, device=device, refresh=refresh,
                       records_only=records_only, store=store)


# ----------------------------------------------------------------------------- cost
def plan_summary(scale: str):
    """One row per part of the chapter: runs, steps, tokens per run and estimated cost."""
    import pandas as pd

    from scalelab.runner import estimated_seconds

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


# ----------------------------------------------------------------------------- section 1: numerics
NUMERIC_INPUT_DIM = 16  # a fixed input dimension (like a vocabulary): the input layer's fan-in stays finite
NUMERIC_BASE_WIDTH = 64  # where SP, μP and "constant σ" coincide (the base model)
NUMERIC_LR = 0.05  # η at the base width; the slopes do not depend on it


def numeric_dims(n: int) -> list[int]:
    """Layer widths [n_0, n_1, n_2, n_3] of the test net: fixed input, then n → 2n → n (two non-square layers)."""
    return [NUMERIC_INPUT_DIM, n, 2 * n, n]


def a1_init_std(fan_out: int, fan_in: int) -> float:
    """σ_l = (1/√n_{l−1})·min(1, √(n_l/n_{l−1})) (Yang, Simon & Bernstein 2023, eq. for A1)."""
    return (1.0 / math.sqrt(fan_in)) * min(1.0, math.sqrt(fan_out / fan_in))


@dataclass(frozen=True)
class NumericCase:
    """One parametrization of the test net.

    Attributes:
        name: label in tables and figures.
        init: ``"a1"`` (σ_l of C1.1), ``"fanin"`` (1/√n_{l−1}, SP's PyTorch/Kaiming init) or ``"const"``
            (the A1 σ_l of the base width, held fixed: GPT-2's constant σ).
        readout: ``"mup"`` (f = (√n_b/n)·⟨v, h⟩) or ``"sp"`` (f = ⟨v, h⟩/√n); equal at the base width.
        optimizer: ``"sgd"`` or ``"adam"`` (Adam's first step: η·g/(|g|+ε), ε = 1e-12).
        lr_rule: ``"sgd"`` (η_l ∝ n_l/n_{l−1}), ``"adam"`` (η_l ∝ 1/n_{l−1}) or ``"global"`` (one η),
            each normalised to η at the base width.
        condition: ``"A1"`` (measure h at init) or ``"A2"`` (measure Δh after one step).
        theory: expected slopes of the measured ratio per layer (from the derivation in the chapter).
    """

    name: str
    init: str
    readout: str
    optimizer: str
    lr_rule: str
    condition: str
    theory: tuple[float, float, float]


NUMERIC_CASES = (
    NumericCase("A1 rule σ_l", "a1", "mup", "sgd", "sgd", "A1", (0.0, 0.0, 0.0)),
    NumericCase("constant σ (GPT-2)", "const", "mup", "sgd", "sgd", "A1", (0.0, 0.5, 1.0)),
    NumericCase("μP + SGD", "a1", "mup", "sgd", "sgd", "A2", (0.0, 0.0, 0.0)),
    NumericCase("μP + Adam", "a1", "mup", "adam", "adam", "A2", (0.0, 0.0, 0.0)),
    NumericCase("SP + SGD", "fanin", "sp", "sgd", "global", "A2", (-0.5, 0.5, 0.5)),
    NumericCase("SP + Adam", "fanin", "sp", "adam", "global", "A2", (0.0, 1.0, 1.0)),
    NumericCase("SGD with Adam's rule", "a1", "mup", "sgd", "adam", "A2", (-1.0, -1.0, -1.0)),
    NumericCase("Adam with SGD's rule", "a1", "mup", "adam", "sgd", "A2", (1.0, 1.0, 1.0)),
)
NETS = ("linear", "relu")


def _init_std(case: NumericCase, l: int, dims: list[int], base_dims: list[int], relu: bool) -> float:
    gain = math.sqrt(2.0) if (relu and l >= 2) else 1.0  # He gain after a ReLU keeps A1's constant
    fan_out, fan_in = dims[l], dims[l - 1]
    if case.init == "a1":
        return gain * a1_init_std(fan_out, fan_in)
    if case.init == "fanin":
        return gain / math.sqrt(fan_in)
    return gain * a1_init_std(base_dims[l], base_dims[l - 1])  # "const"


def _lr_scale(rule: str, dims: list[int], l: int) -> float:
    if rule == "sgd":
        return dims[l] / dims[l - 1]
    if rule == "adam":
        return 1.0 / dims[l - 1]
    return 1.0


def standard_draws(n: int, seed: int = 0):
    """The standard-normal input x, readout direction v and the three weight matrices (float64)."""
    import torch

    dims = numeric_dims(n)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(dims[0], generator=gen, dtype=torch.float64)
    v = torch.randn(dims[3], generator=gen, dtype=torch.float64)
    zs = [torch.randn(dims[l], dims[l - 1], generator=gen, dtype=torch.float64) for l in (1, 2, 3)]
    return x, v, zs


def one_step(n: int, case: NumericCase, seed: int = 0, net: str = "linear", draws=None) -> dict:
    """Per-layer ‖h_l‖/√n_l at init and ‖Δh_l‖/√n_l after one optimizer step on a 3-layer net.

    The net maps a fixed input x ∈ R^16 (coordinates N(0, 1)) through n → 2n → n; the loss is the
    scalar output f = c·⟨v, h_3⟩ itself (dℓ/df = 1, a Θ(1) error signal), with a fixed v ∼ N(0, I).
    h_l are pre-activations; ``net="relu"`` puts a ReLU after layers 1 and 2. One input, so each
    gradient is rank one, as in the lecture's derivation. Deterministic given ``seed``; ``draws``
    (from :func:`standard_draws`) lets all cases share one set of Gaussian draws.

    Returns:
        ``{"init": [3 floats], "update": [3 floats]}``.
    """
    import torch

    if net not in NETS:
        raise ValueError(f"unknown net {net!r}; valid: {', '.join(NETS)}")
    relu = net == "relu"
    dims = numeric_dims(n)
    base = numeric_dims(NUMERIC_BASE_WIDTH)
    x, v, zs = draws if draws is not None else standard_draws(n, seed)
    Ws = [(z * _init_std(case, l, dims, base, relu)).requires_grad_(True) for l, z in zip((1, 2, 3), zs)]
    c = math.sqrt(base[3]) / dims[3] if case.readout == "mup" else 1.0 / math.sqrt(dims[3])

    def forward(weights):
        hs, a = [], x
        for i, W in enumerate(weights):
            h = W @ a  # (n_l,)
            hs.append(h)
            a = torch.relu(h) if (relu and i < 2) else h
        return hs

    hs = forward(Ws)
    f = c * torch.dot(v, hs[-1])
    f.backward()
    new = []
    with torch.no_grad():
        for l, W in zip((1, 2, 3), Ws):
            eta = NUMERIC_LR * _lr_scale(case.lr_rule, dims, l) / _lr_scale(case.lr_rule, base, l)
            g = W.grad
            step = g if case.optimizer == "sgd" else g / (g.abs() + 1e-12)  # Adam's first step
            new.append(W - eta * step)
        hs2 = forward(new)
    hs = [h.detach() for h in hs]
    return {
        "init": [float(h.norm() / math.sqrt(h.numel())) for h in hs],
        "update": [float((b - a).norm() / math.sqrt(a.numel())) for a, b in zip(hs, hs2)],
    }


def spectral_checks(scale: str, seed: int = 0):
    """Section 1's measurements: one row per (net, case, layer, width, seed).

    Columns: net, case, condition, layer, n (the width parameter), n_l, seed, value (‖h_l‖/√n_l for
    A1 cases, ‖Δh_l‖/√n_l for A2 cases), theory_slope.
    """
    import pandas as pd

    p = chapter_plan(scale)
    rows = []
    for n in p.numeric_widths:
        for s in range(seed, seed + p.numeric_seeds):
            draws = standard_draws(n, s)  # shared by every case and net at this (width, seed)
            for net in NETS:
                for case in NUMERIC_CASES:
                    out = one_step(n, case, seed=s, net=net, draws=draws)
                    vals = out["init"] if case.condition == "A1" else out["update"]
                    for layer, val in enumerate(vals, start=1):
                        rows.append({"net": net, "case": case.name, "condition": case.condition, "layer": layer,
                                     "n": n, "n_l": numeric_dims(n)[layer], "seed": s, "value": val,
                                     "theory_slope": case.theory[layer - 1]})
    return pd.DataFrame(rows)


def fit_slope(x, y) -> tuple[float, float, int]:
    """Least-squares slope of log y on log x, its standard error, and the number of distinct x.

    A standard error needs at least three points; with fewer it is NaN.
    """
    x = np.log(np.asarray(x, dtype=float))
    y = np.log(np.asarray(y, dtype=float))
    k = len(np.unique(x))
    if k < 2:
        return float("nan"), float("nan"), k
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = len(x) - 2
    if dof <= 0:
        return float(coef[1]), float("nan"), k
    resid = y - X @ coef
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return float(coef[1]), float(math.sqrt(max(cov[1, 1], 0.0))), k


def slope_table(numerics):
    """Slope (± SE) of the measured ratio against width, per (net, case, layer), with the theory.

    The fit is of the seed-mean of log(value) per width against log(width); its standard error has
    (number of widths − 2) degrees of freedom. ``theory`` is the first-order prediction
    (ΔW_l·h_{l−1} + W_l·Δh_{l−1}); where updates blow up, the second-order term ΔW_l·Δh_{l−1} can
    make the measured slope steeper.
    """
    import pandas as pd

    rows = []
    for (net, case, layer), g in numerics.groupby(["net", "case", "layer"], sort=False):
        # Seeds share their input x, so a seed shifts every width alike: fit the seed-mean of log(value).
        gm = np.log(g["value"].clip(lower=1e-300)).groupby(g["n"]).mean()
        slope, se, k = fit_slope(gm.index.to_numpy(), np.exp(gm.to_numpy()))
        rows.append({"net": net, "case": case, "condition": g["condition"].iloc[0], "layer": layer,
                     "slope": slope, "se": se, "widths": k, "theory": g["theory_slope"].iloc[0],
                     "finite": bool(np.isfinite(g["value"]).all() and (g["value"] > 0).all())})
    return pd.DataFrame(rows)


OPNORM_SHAPES = ((1, 1), (2, 1), (1, 2), (4, 1))  # (n_l, n_{l−1}) as multiples of the width n
OPNORM_SEEDS = 2  # the top singular value concentrates fast; two draws per shape show its spread


def operator_norm_check(scale: str, seed: int = 0, sigma: float = 1.0):
    """‖W‖_op of Gaussian matrices against σ(√n_l + √n_{l−1}), one row per (shape, width, seed).

    The largest singular value comes from ARPACK (``scipy.sparse.linalg.svds``, k = 1) in float64.
    """
    import pandas as pd
    from scipy.sparse.linalg import svds

    p = chapter_plan(scale)
    rows = []
    for a, b in OPNORM_SHAPES:
        for n in p.numeric_widths:
            for s in range(seed, seed + OPNORM_SEEDS):
                rng = np.random.default_rng([s, n, a, b])
                W = sigma * rng.standard_normal((a * n, b * n))
                v0 = np.ones(min(W.shape))  # deterministic ARPACK start
                top = float(svds(W, k=1, return_singular_vectors=False, v0=v0, tol=1e-8)[0])
                pred = sigma * (math.sqrt(a * n) + math.sqrt(b * n))
                rows.append({"shape": f"{a}n × {b}n", "n": n, "n_l": a * n, "n_lm1": b * n, "seed": s,
                             "op_norm": top, "predicted": pred, "ratio": top / pred})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- section 2: rules
# Published μP recipes (values as released; the book cites the papers). Cerebras-GPT's numbers are
# taken from scalelab.published when present; MiniCPM's μP constants (scale_emb, scale_depth,
# init_std, lr, dim_model_base) are from Hu et al. 2024 and its released configuration.
PUBLISHED_RECIPES = {
    "Cerebras-GPT": {
        "d_base": 256, "eta_base": 0.006, "sigma_base": 0.08, "m_emb": 10.0,
        "hidden init": "σ_base/√m", "hidden Adam LR": "η_base/m", "output proj init": "σ_base/√(2·m·n_layer)",
        "logit multiplier": "1/m", "attention": "1/d_head",
        "source": "Dey et al. 2023, arXiv 2304.03208, App. G (cite: dey2023cerebras)",
    },
    "MiniCPM": {
        "d_base": 256, "eta_base": 0.01, "sigma_base": 0.1, "m_emb": 12.0,
        "hidden init": "σ_base/√m", "hidden Adam LR": "η_base/m",
        "output proj init": "residual branch × scale_depth/√n_layer (scale_depth 1.4)",
        "logit multiplier": "1/m", "attention": "1/√d_head (unchanged)",
        "source": "Hu et al. 2024, arXiv 2404.06395, §4 and the released config (cite: hu2024minicpm)",
    },
}


def published_recipes():
    """Cerebras-GPT and MiniCPM's μP recipes beside this book's base model, as a DataFrame."""
    import pandas as pd

    p = chapter_plan("cpu")
    recipes = {k: dict(v) for k, v in PUBLISHED_RECIPES.items()}
    try:  # the book's one registry of published numbers, where it has them
        from scalelab.published import CEREBRAS_MUP

        recipes["Cerebras-GPT"].update(CEREBRAS_MUP.value)
    except ImportError:
        pass
    ours = {
        "d_base": p.base_d_model, "eta_base": "from the LR grid (section 4)", "sigma_base": round(p.init_std, 4),
        "m_emb": 1.0, "hidden init": "σ_base/√m", "hidden Adam LR": "η_base/m",
        "output proj init": "σ_base/√(2·m·n_layer)", "logit multiplier": "1/m",
        "attention": "√d_head,base / d_head", "source": "scalelab.parametrization (cpu scale)",
    }
    table = {"this book": ours, **recipes}
    return pd.DataFrame(table)


# ----------------------------------------------------------------------------- section 3: coordinates


def coord_check(scale: str, seed: int = 0, device: str = "cpu", lr: float = COORD_LR):
    """Mean |activation| at four sites of the GPT over the first Adam steps, SP vs μP.

    Sites: the embedding output (input of the first block), the last block's attention and MLP
    outputs (before the residual add), and the readout logits. Step t is the forward pass before the
    t-th update (t = 1 is the init), with constant LR ``lr`` (times each class's μP multiplier) on
    real batches of the corpus. One row per (parametrization, d_model, seed, step, site).
    """
    import pandas as pd
    import torch

    from scalelab.data import as_tensor, batch_offsets, get_batch, load_corpus
    from scalelab.model import GPT
    from scalelab.optim import build_optimizer
    from scalelab.train import resolve_device

    p = chapter_plan(scale)
    dev = resolve_device(device)
    tokens = as_tensor(load_corpus("stdlib").train)
    rows = []
    seen: dict[str, float] = {}  # site → mean |activation| of the latest forward pass

    def keep(name):
        def hook(_module, args, output=None):
            t = args[0] if output is None else output
            seen[name] = float(t.detach().abs().mean())
        return hook

    for param in ("sp", "mup"):
        for d in p.coord_widths:
            mcfg = model_config(scale, d, param, coord=True)
            for s in range(seed, seed + p.coord_seeds):
                torch.manual_seed(s)
                model = GPT(mcfg).to(dev)
                opt = build_optimizer(model, optimizer="adamw", lr=lr, weight_decay=0.0)
                seen.clear()
                handles = [
                    model.blocks[0].register_forward_pre_hook(keep("embedding")),
                    model.blocks[-1].attn.register_forward_hook(keep("attention")),
                    model.blocks[-1].mlp.register_forward_hook(keep("mlp")),
                ]
                for step in range(1, p.coord_steps + 1):
                    off = batch_offsets(len(tokens), mcfg.seq_len, p.coord_batch, s, step - 1)
                    x, y = get_batch(tokens, off, mcfg.seq_len)
                    logits, loss = model(x.to(dev), y.to(dev))
                    seen["logits"] = float(logits.detach().abs().mean())
                    for site in COORD_SITES:
                        rows.append({"parametrization": param, "d_model": d, "seed": s, "step": step,
                                     "site": site, "mean_abs": seen[site]})
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                for h in handles:
                    h.remove()
    return pd.DataFrame(rows)


def coord_ratios(coords):
    """Widest/narrowest mean |activation| at the last step (seed means), per (parametrization, site)."""
    import pandas as pd

    last = coords[coords["step"] == coords["step"].max()]
    m = last.groupby(["parametrization", "site", "d_model"])["mean_abs"].mean().reset_index()
    rows = []
    for (param, site), g in m.groupby(["parametrization", "site"], sort=False):
        g = g.sort_values("d_model")
        rows.append({"parametrization": param, "site": site, "narrowest": int(g["d_model"].iloc[0]),
                     "widest": int(g["d_model"].iloc[-1]),
                     "ratio": float(g["mean_abs"].iloc[-1] / g["mean_abs"].iloc[0])})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- section 4: LR transfer


def loss_table(records: list[dict]):
    """One row per run: parametrization, d_model, log2_lr, seed, status, loss (NaN if diverged)."""
    import pandas as pd

    rows = []
    for r in records:
        c, res = r["config"], r["result"]
        loss = res.get("final_eval_loss")
        rows.append({
            "parametrization": c["model"]["parametrization"], "d_model": c["model"]["d_model"],
            "base_d_model": c["model"]["base_d_model"], "log2_lr": round(math.log2(c["lr"]), 6),
            "seed": c["seed"], "status": res["status"], "steps": res["steps"], "tokens": res["tokens"],
            "total_steps": c["total_steps"],
            "loss": float(loss) if (loss is not None and res["status"] == "finished") else float("nan"),
        })
    return pd.DataFrame(rows)


def parabola_vertex(xs, ys) -> tuple[float, float, bool, bool]:
    """The minimum of a loss curve on an evenly spaced grid: a parabola through the argmin and its neighbours.

    Non-finite losses (diverged runs) count as +∞.

    Returns:
        (x_opt, y_opt, interior, fitted): ``interior`` is False when the argmin sits at a grid edge;
        ``fitted`` is False when the parabola could not be used (edge, a diverged neighbour, or not
        convex), in which case the grid argmin is returned.
    """
    xs = np.asarray(xs, dtype=float)
    ys = np.where(np.isfinite(np.asarray(ys, dtype=float)), ys, np.inf)
    if not np.isfinite(ys).any():
        return float("nan"), float("nan"), False, False
    i = int(np.argmin(ys))
    interior = 0 < i < len(xs) - 1
    if not interior or not np.isfinite(ys[i - 1:i + 2]).all():
        return float(xs[i]), float(ys[i]), interior, False
    y0, y1, y2 = ys[i - 1], ys[i], ys[i + 1]
    h = xs[i + 1] - xs[i]
    curv = y0 - 2 * y1 + y2
    if curv <= 0:
        return float(xs[i]), float(y1), interior, False
    off = h * (y0 - y2) / (2 * curv)  # within ±h/2 because y1 is the smallest of the three
    return float(xs[i] + off), float(y1 - (y0 - y2) ** 2 / (8 * curv)), interior, True


def optimum_table(records: list[dict]):
    """Optimal log2 LR per (parametrization, width): from the seed-mean curve, and per seed.

    Columns: parametrization, d_model, log2_lr_opt, loss_opt, interior, fitted, seed_opt_mean,
    seed_opt_std (spread of the per-seed optima, log2 units), n_seeds.
    """
    import pandas as pd

    df = loss_table(records)
    rows = []
    for (param, d), g in df.groupby(["parametrization", "d_model"]):
        piv = g.pivot_table(index="log2_lr", columns="seed", values="loss", aggfunc="first", dropna=False)
        piv = piv.sort_index()
        # A diverged seed makes the mean at that LR +∞: the LR is not usable.
        mean = piv.mean(axis=1, skipna=False).to_numpy(dtype=float)  # NaN (a diverged seed) → +∞ below
        x_opt, y_opt, interior, fitted = parabola_vertex(piv.index.to_numpy(), mean)
        per_seed = [parabola_vertex(piv.index.to_numpy(), piv[s].to_numpy())[0] for s in piv.columns]
        per_seed = np.asarray([v for v in per_seed if np.isfinite(v)])
        rows.append({
            "parametrization": param, "d_model": int(d), "log2_lr_opt": x_opt, "lr_opt": 2.0 ** x_opt,
            "loss_opt": y_opt, "interior": bool(interior), "fitted": bool(fitted),
            "seed_opt_mean": float(per_seed.mean()) if len(per_seed) else float("nan"),
            "seed_opt_std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan"),
            "n_seeds": int(piv.shape[1]),
        })
    return pd.DataFrame(rows)


def curve_table(records: list[dict]):
    """Seed mean and standard error of the final loss per (parametrization, width, LR), for the figure.

    A cell where any seed diverged has a NaN mean, as in :func:`optimum_table` (that LR is unusable).
    """
    df = loss_table(records)
    agg = df.groupby(["parametrization", "d_model", "log2_lr"])["loss"].agg(["mean", "std", "count", "size"])
    agg.loc[agg["count"] < agg["size"], ["mean", "std"]] = np.nan
    agg["se"] = agg["std"] / np.sqrt(agg["count"])
    return agg.drop(columns="size").reset_index()


def seed_noise(records: list[dict]) -> float:
    """Pooled standard deviation of the final loss across seeds (nats/byte) over all finished cells."""
    df = loss_table(records)
    var = df.groupby(["parametrization", "d_model", "log2_lr"])["loss"].var(ddof=1).dropna()
    return float(math.sqrt(var.mean())) if len(var) else float("nan")


def transfer_summary(records: list[dict], scale: str) -> dict:
    """The numbers behind C1.6 and C1.7 (also glued into the chapter's prose)."""
    p = chapter_plan(scale)
    h = p.grid_step
    opt = optimum_table(records)
    out = {"grid_step": h}
    for param in ("sp", "mup"):
        o = opt[opt["parametrization"] == param].sort_values("d_model")
        x = o["log2_lr_opt"].to_numpy()
        slope, se, _ = fit_slope(o["d_model"], 2.0 ** x) if len(o) else (float("nan"),) * 3
        out[param] = {
            "span_steps": float((x.max() - x.min()) / h) if len(x) else float("nan"),
            "drop_steps": float((x[0] - x[-1]) / h) if len(x) else float("nan"),
            "slope": slope, "slope_se": se,
            "opt": dict(zip(o["d_model"].astype(int), x)),
        }
    # C1.7: wider is better near the μP optimum
    curves = curve_table(records)
    mu = curves[curves["parametrization"] == "mup"]
    noise = seed_noise(records)
    tol = max(WIDER_TOL_NATS, 2 * noise / math.sqrt(max(p.seeds, 1))) if np.isfinite(noise) else WIDER_TOL_NATS
    center = float(np.median(list(out["mup"]["opt"].values()))) if out["mup"]["opt"] else float("nan")
    near = sorted(e for e in mu["log2_lr"].unique() if abs(e - center) <= h + 1e-9)
    monotone, worst = True, -float("inf")
    for e in near:
        c = mu[mu["log2_lr"] == e].sort_values("d_model")["mean"].to_numpy()
        c = np.where(np.isfinite(c), c, np.inf)
        diffs = np.diff(c)  # loss(wider) − loss(narrower): negative is better
        diffs = np.where(np.isnan(diffs), np.inf, diffs)
        monotone &= bool((diffs < 0).all())
        worst = max(worst, float(diffs.max()) if len(diffs) else -float("inf"))
    out["wider"] = {"near_log2_lrs": near, "monotone": monotone, "worst_increase": worst, "tol": tol,
                    "noise": noise}
    return out


# ----------------------------------------------------------------------------- analysis


def _fmt(x: float, nd: int = 3) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.{nd}f}"


def analyze(records: list[dict], scale: str, *, numerics=None, opnorms=None, coords=None, seed: int = 0):
    """Validity checks and verdicts on C1.1–C1.7.

    ``records`` are the LR-transfer runs; ``numerics``, ``opnorms`` and ``coords`` are the frames of
    :func:`spectral_checks`, :func:`operator_norm_check` and :func:`coord_check` (recomputed,
    deterministically, when not given). The result depends on its inputs only.

    Raises:
        ValueError: on an unknown scale.
    """
    from scalelab.checks import Check, Report, Verdict

    def _check(name: str, passed, value: str, criterion: str):
        return Check(name, bool(passed), value, criterion)  # plain bool: the report is saved as JSON

    validate_scale(scale)
    numerics = spectral_checks(scale, seed) if numerics is None else numerics
    opnorms = operator_norm_check(scale, seed) if opnorms is None else opnorms
    coords = coord_check(scale, seed) if coords is None else coords
    checks: list = []
    verdicts: list = []

    # --- validity: numerics
    st = slope_table(numerics)
    widths = sorted(numerics["n"].unique())
    ok = bool(len(st) and st["finite"].all() and (st["widths"] >= 3).all() and np.isfinite(st["se"]).all()
              and widths[-1] / widths[0] >= 4)
    checks.append(_check("numerics: slopes with standard errors", ok,
                        f"{len(st)} fits over {len(widths)} widths ({widths[0]}…{widths[-1]}); max SE "
                        f"{_fmt(float(st['se'].max()) if len(st) else float('nan'))}",
                        "every (net, case, layer) fit has ≥ 3 widths spanning ≥ 4×, finite positive values "
                        "and a finite standard error"))
    on = opnorms
    ok = bool(len(on) and np.isfinite(on["ratio"]).all() and on["n"].nunique() >= 3)
    checks.append(_check("operator norms measured", ok, f"{len(on)} matrices, {on['n'].nunique()} widths",
                        "finite ‖W‖_op for every shape at ≥ 3 widths"))
    # --- validity: coordinate check
    cw, cs = coords["d_model"].nunique(), coords["seed"].nunique()
    ok = bool(cw >= 4 and cs >= 3 and np.isfinite(coords["mean_abs"]).all()
              and set(coords["site"]) == set(COORD_SITES))
    checks.append(_check("coordinate check well posed", ok, f"{cw} widths × {cs} seeds × {coords['step'].max()} steps",
                        "≥ 4 widths, ≥ 3 seeds, all four sites, every value finite"))
    # --- validity: training records
    expected = plan(scale, seed=seed)
    lt = loss_table(records) if records else None
    n_ok = 0 if lt is None else int(lt["status"].isin(["finished", "diverged"]).sum())
    checks.append(_check("every planned run finished or diverged", bool(records) and n_ok == len(expected) ==
                        len(records), f"{n_ok} of {len(expected)} planned runs with status finished/diverged",
                        "one record per planned run, each finished or recorded as diverged"))
    if lt is not None and len(lt):
        fin = lt[lt["status"] == "finished"]
        tok = sorted(int(t) for t in fin["tokens"].unique())
        ok = len(tok) == 1 and bool((fin["steps"] == fin["total_steps"]).all())
        checks.append(_check("equal tokens per run", ok, f"tokens per finished run: {tok[:3]}",
                            "every finished run processed the same number of tokens, all its steps"))
        base = lt[lt["d_model"] == lt["base_d_model"]]
        piv = base.pivot_table(index=["log2_lr", "seed"], columns="parametrization", values="loss", aggfunc="first",
                               dropna=False)
        if {"sp", "mup"} <= set(piv.columns) and len(piv):
            a, b = piv["sp"].to_numpy(), piv["mup"].to_numpy()
            both_nan = np.isnan(a) & np.isnan(b)
            diff = np.abs(a - b)
            ok = bool(((diff <= BASE_MATCH_NATS) | both_nan).all())
            dmax = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
        else:
            ok, dmax = False, float("nan")
        checks.append(_check("μP equals SP at the base width", ok, f"max |Δloss| = {_fmt(dmax, 6)} nats",
                            f"at d_model = base_d_model every (LR, seed) gives the same loss to {BASE_MATCH_NATS} "
                            "nats under SP and μP (or both diverge)"))
        opt = optimum_table(records)
        bad = opt[~opt["interior"]]
        checks.append(_check("optima interior to the LR grid", bool(len(opt)) and bad.empty,
                            "all interior" if bad.empty else "edge: " + ", ".join(
                                f"{PARAMETRIZATION_LABELS[r.parametrization]} d={r.d_model}"
                                for r in bad.itertuples()),
                            "the seed-mean loss is smallest at an inner grid LR for every (parametrization, width)"))
        noise = seed_noise(records)
        nseeds = int(lt.groupby(["parametrization", "d_model", "log2_lr"])["seed"].nunique().min())
        checks.append(_check("seed spread measured", nseeds >= MIN_SEEDS and np.isfinite(noise),
                            f"{nseeds} seeds per cell; pooled seed std {_fmt(noise, 4)} nats; per-width optimum "
                            f"spread up to {_fmt(float(opt['seed_opt_std'].max()), 2)} (log2 LR)",
                            f"≥ {MIN_SEEDS} seeds in every cell and a finite pooled standard deviation"))

    # --- verdicts: section 1
    def sl(cases, net=None):
        s = st[st["case"].isin(cases)]
        return s if net is None else s[s["net"] == net]

    a1 = sl(["A1 rule σ_l"])
    worst = a1.loc[a1["slope"].abs().idxmax()] if len(a1) else None
    if worst is None:
        v = "not resolved at this scale"
    elif abs(worst["slope"]) <= FLAT_SLOPE:
        v = "reproduced"
    elif abs(worst["slope"]) >= SIGMA_MULT * worst["se"]:
        v = "contradicted"
    else:
        v = "not resolved at this scale"
    const = sl(["constant σ (GPT-2)"])
    ev = (f"A1 rule: max |slope| {_fmt(abs(worst['slope']))} ± {_fmt(worst['se'])} ({worst['net']}, layer "
          f"{worst['layer']}); constant σ: max slope {_fmt(float(const['slope'].max()))}") if worst is not None else "-"
    verdicts.append(Verdict("C1.1", STATEMENTS["C1.1"], v, CRITERIA["C1.1"], ev, SOURCES["C1.1"]))

    last = on[on["n"] == on["n"].max()].groupby("shape")["ratio"].mean()
    dev = float((last - 1).abs().max()) if len(last) else float("nan")
    v = ("reproduced" if dev <= OPNORM_TOL else "contradicted" if dev > OPNORM_BAD else "not resolved at this scale")
    first = on[on["n"] == on["n"].min()]["ratio"]
    verdicts.append(Verdict("C1.2", STATEMENTS["C1.2"], v, CRITERIA["C1.2"],
                            f"at n = {int(on['n'].max())}: ratios " + ", ".join(f"{k}: {_fmt(x)}" for k, x in
                                                                                 last.items())
                            + f"; at n = {int(on['n'].min())}: min ratio {_fmt(float(first.min()))}",
                            SOURCES["C1.2"]))

    matched = sl(["μP + SGD", "μP + Adam"])
    swapped = sl(["SGD with Adam's rule", "Adam with SGD's rule"])
    mw = matched.loc[matched["slope"].abs().idxmax()]
    swap_fail = [float(g["slope"].abs().max()) for _, g in swapped.groupby("case")]
    if abs(mw["slope"]) <= FLAT_SLOPE and len(swap_fail) == 2 and min(swap_fail) >= SWAPPED_SLOPE:
        v = "reproduced"
    elif abs(mw["slope"]) > FLAT_SLOPE and abs(mw["slope"]) >= SIGMA_MULT * mw["se"]:
        v = "contradicted"
    else:
        v = "not resolved at this scale"
    verdicts.append(Verdict("C1.3", STATEMENTS["C1.3"], v, CRITERIA["C1.3"],
                            f"matched rules: max |slope| {_fmt(abs(mw['slope']))} ± {_fmt(mw['se'])} ({mw['case']}, "
                            f"{mw['net']}, layer {mw['layer']}); swapped rules: max |slope| "
                            + " / ".join(_fmt(x) for x in swap_fail), SOURCES["C1.3"]))

    grow = []
    for case in ("SP + SGD", "SP + Adam"):
        s = sl([case])
        r = s.loc[s["slope"].idxmax()]
        grow.append((case, float(r["slope"]), float(r["se"])))
    if all(g >= GROWTH_SLOPE and g >= SIGMA_MULT * se for _, g, se in grow):
        v = "reproduced"
    elif any(g <= FLAT_SLOPE for _, g, _ in grow):
        v = "contradicted"
    else:
        v = "not resolved at this scale"
    verdicts.append(Verdict("C1.4", STATEMENTS["C1.4"], v, CRITERIA["C1.4"],
                            "; ".join(f"{c}: steepest slope {_fmt(g)} ± {_fmt(se)}" for c, g, se in grow),
                            SOURCES["C1.4"]))

    # --- verdict: coordinate check
    cr = coord_ratios(coords)
    mu = cr[cr["parametrization"] == "mup"]
    sp_logits = cr[(cr["parametrization"] == "sp") & (cr["site"] == "logits")]["ratio"]
    sp_l = float(sp_logits.iloc[0]) if len(sp_logits) else float("nan")
    in_band = bool(((mu["ratio"] <= COORD_BAND) & (mu["ratio"] >= 1 / COORD_BAND)).all())
    far = bool(((mu["ratio"] > COORD_BAD) | (mu["ratio"] < 1 / COORD_BAD)).any())
    if in_band and sp_l > COORD_BAND:
        v = "reproduced"
    elif far or not sp_l > COORD_BAND:
        v = "contradicted"
    else:
        v = "not resolved at this scale"
    verdicts.append(Verdict("C1.5", STATEMENTS["C1.5"], v, CRITERIA["C1.5"],
                            "μP ratios " + ", ".join(f"{r.site} {_fmt(r.ratio, 2)}" for r in mu.itertuples())
                            + f"; SP logits {_fmt(sp_l, 2)} (d {int(cr['narrowest'].min())}→{int(cr['widest'].max())},"
                            f" step {int(coords['step'].max())})", SOURCES["C1.5"]))

    # --- verdicts: LR transfer
    if records:
        ts = transfer_summary(records, scale)
        lt_w = sorted(lt["d_model"].unique())
        resolvable = (lt_w[-1] / lt_w[0] >= MIN_WIDTH_RATIO and int(lt["total_steps"].min()) >= MIN_STEPS
                      and int(lt.groupby(["parametrization", "d_model", "log2_lr"])["seed"].nunique().min())
                      >= MIN_SEEDS)
        mu_span, sp_drop = ts["mup"]["span_steps"], ts["sp"]["drop_steps"]
        if not resolvable:
            v = "not resolved at this scale"
        elif mu_span <= TRANSFER_STEPS and sp_drop >= DRIFT_STEPS:
            v = "reproduced"
        elif mu_span >= DRIFT_STEPS or sp_drop <= 0:
            v = "contradicted"
        else:
            v = "not resolved at this scale"
        ev = (f"μP optimum span {_fmt(mu_span, 2)} grid steps (slope {_fmt(ts['mup']['slope'], 2)} ± "
              f"{_fmt(ts['mup']['slope_se'], 2)}); SP optimum falls {_fmt(sp_drop, 2)} steps (slope "
              f"{_fmt(ts['sp']['slope'], 2)} ± {_fmt(ts['sp']['slope_se'], 2)}); grid step {ts['grid_step']:g} "
              f"octave(s); widths {lt_w[0]}…{lt_w[-1]}")
        verdicts.append(Verdict("C1.6", STATEMENTS["C1.6"], v, CRITERIA["C1.6"], ev, SOURCES["C1.6"]))
        w = ts["wider"]
        if not resolvable or not w["near_log2_lrs"]:
            v = "not resolved at this scale"
        elif w["monotone"]:
            v = "reproduced"
        elif w["worst_increase"] > w["tol"]:
            v = "contradicted"
        else:
            v = "not resolved at this scale"
        ev = (f"near-optimal log2 LRs {[float(e) for e in w['near_log2_lrs']]}: largest loss increase with width "
              f"{_fmt(w['worst_increase'], 4)} nats (tolerance {_fmt(w['tol'], 4)})")
        verdicts.append(Verdict("C1.7", STATEMENTS["C1.7"], v, CRITERIA["C1.7"], ev, SOURCES["C1.7"]))
    else:
        for c in ("C1.6", "C1.7"):
            verdicts.append(Verdict(c, STATEMENTS[c], "not resolved at this scale", CRITERIA[c], "no records",
                                    SOURCES[c]))
    return Report(SLUG, scale, checks, verdicts)


def glue_values(records: list[dict], scale: str, numerics, opnorms, coords) -> dict[str, float]:
    """The numbers the chapter's prose quotes (glued by the notebook), all from the inputs."""
    st = slope_table(numerics)
    lin = st[st["net"] == "linear"]

    def steepest(case: str, absolute: bool = False) -> float:
        s = lin[lin["case"] == case]["slope"]
        return float(s.abs().max() if absolute else s.max())

    cr = coord_ratios(coords)
    mu = cr[cr["parametrization"] == "mup"]["ratio"]
    wide = opnorms[opnorms["n"] == opnorms["n"].max()]["ratio"]
    out = {
        "a1_max_abs_slope": float(st[st["case"] == "A1 rule σ_l"]["slope"].abs().max()),
        "const_sigma_slope": steepest("constant σ (GPT-2)"),
        "mup_sgd_max_abs_slope": steepest("μP + SGD", absolute=True),
        "mup_adam_max_abs_slope": steepest("μP + Adam", absolute=True),
        "sp_sgd_slope": steepest("SP + SGD"),
        "sp_adam_slope": steepest("SP + Adam"),
        "opnorm_max_dev": float((wide - 1).abs().max()),
        "opnorm_width": float(opnorms["n"].max()),
        "coord_sp_logits_ratio": float(cr[(cr["parametrization"] == "sp") & (cr["site"] == "logits")]["ratio"].iloc[0]),
        "coord_mup_worst_ratio": float(max(mu.max(), 1.0 / mu.min())),
    }
    if records:
        ts = transfer_summary(records, scale)
        out.update({
            "mup_span_steps": ts["mup"]["span_steps"], "sp_drop_steps": ts["sp"]["drop_steps"],
            "mup_opt_slope": ts["mup"]["slope"], "sp_opt_slope": ts["sp"]["slope"],
            "seed_noise": ts["wider"]["noise"], "grid_step": ts["grid_step"],
        })
    return out


# ----------------------------------------------------------------------------- stage 2: fan-in SP, a third seed
# Planned after the first results were read against Tensor Programs V (arXiv 2203.03466, §3) and Lingle's v1 code
# (lucaslingle/mu_transformer e39cd5d: hidden init d_model**-0.5): their SP keeps fan-in init, ours a constant σ
# (issue 20). The stage adds fan-in SP (the SP control; the constant-σ SP stays as a labelled variant) with three
# seeds, and a third seed of SP and μP, on the first stage's LR grid (SP's grid one octave lower at the bottom).
STAGE2 = "fan_in_sp"
STAGE2_SEEDS = 3


def stage2_plan(scale: str, seed: int = 0) -> list:
    """Stage 'fan_in_sp': fan-in SP × widths × 3 seeds × grid; SP and μP at seed + 2."""
    from scalelab.runner import RunSpec
    from scalelab.train import TrainConfig

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
    have = {r.get("config_key") for r in records}
    return all(sp.config_key in have for sp in stage_plans(scale, seed)[stage])
