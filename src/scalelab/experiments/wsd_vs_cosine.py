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

import numpy as np

from scalelab.scales import validate_scale

SLUG = "wsd_vs_cosine"
NOTEBOOK = "03_wsd_vs_cosine.ipynb"
NB = NOTEBOOK[:2]
VERSION = 2  # v1 (SP d64, σ 0.02, attention 1/√d_head): 18 records, left unused; see ChapterPlan
PROTOCOLS = ("cosine", "constant", "wsd", "multistep")
LABELS = {"cosine": "cosine (→10%)", "constant": "constant (no cooldown)", "wsd": "WSD", "multistep": "multi-step"}
DEFAULT_FRAC = 0.2  # Hägele's README example; MiniCPM find ~10% enough
DEFAULT_SHAPE = "1-sqrt"
COSINE_FINAL_FRAC = 0.1  # Hägele's cosine baseline ends at 10% of the peak
WSD_FINAL_FRAC = 0.0  # Hägele's code cools down to 0

# ----------------------------------------------------------------------------- criteria
# Stated before the results (the notebook prints CRITERIA) and applied mechanically by analyze().
NOISE_SE = 2.0  # τ = NOISE_SE · √2 · σ_seed: two standard errors of a difference of two single runs
MIN_BUDGET_STEPS = 500  # smallest budget for a verdict (the minimum)
MIN_BUDGET_SPAN = 8  # largest / smallest budget for a verdict
MAX_GRID_STEP = 0.5  # log2 spacing of the LR grid for a verdict (√2); C3.5 cannot be resolved on ×2
COOLDOWN_RATIO = 2.0  # C3.2: cooldown drop ≥ this × the stable phase's drop over as many steps before it
HALF_BAND = (-1.5, -0.5)  # C3.5: log2(LR*_const / LR*_cos) in this band → "about half"
HALF_WRONG = (-2.0, -0.25)  # C3.5: outside this band → contradicted
LEDGER_RTOL = 0.01  # measured ledger vs closed form

RULE = ("Per budget a comparison holds, fails, or is unclear; the claim is reproduced when it holds at every "
        "budget, contradicted when it fails at some budget, otherwise not resolved. Losses are the best seed-mean "
        "held-out loss over the LR grid (each schedule tuned on its own). τ = 2·√2·σ_seed, σ_seed the pooled "
        "per-run seed standard deviation measured at the tuned LRs. Verdicts need budgets ≥ 500 steps spanning "
        "≥ 8×, an LR grid spacing ≤ √2 and a measured σ_seed; otherwise not resolved.")

CRITERIA = {
    "C3.1": "WSD (20%, 1−√, to 0): holds if L*_WSD ≤ L*_cos + τ; fails if L*_WSD > L*_cos + 2τ.",
    "C3.2": f"WSD (20%, 1−√) at its tuned LR: R = [L_const(0.8B) − L_WSD(B)] / [L_const(0.6B) − L_const(0.8B)] "
            f"(the cooldown's drop over its d = 0.2B steps against the stable phase's drop over the d steps before "
            f"it). Holds if R ≥ {COOLDOWN_RATIO:g}; fails if R ≤ 1.",
    "C3.3": "Three comparisons per budget, all must hold: (a) 2.5% falls short: L*(2.5%) − L*(10%) > τ (fails if "
            "< −τ); (b) 10% suffices: L*(10%) ≤ min_f L*(f) + τ (fails if > +2τ); (c) 20% matches cosine: "
            "L*(20%) ≤ L*_cos + τ (fails if > +2τ). Fractions 2.5/5/10/20/40%, 1−√ shape.",
    "C3.4": "1−√ vs linear (both 20%, to 0), gap g = L*(linear) − L*(1−√): holds if g > τ, fails if g < −τ "
            "(linear better), else unclear.",
    "C3.5": f"Optimum = vertex of a parabola in log2 LR through the argmin of the seed-mean loss and its two "
            f"neighbours (interior optima only). Per budget x = log2(LR*_const / LR*_cos): holds if x in "
            f"[{HALF_BAND[0]}, {HALF_BAND[1]}] (ratio 0.35–0.71); fails if x > {HALF_WRONG[1]} or x < {HALF_WRONG[0]}.",
    "C3.6": f"Ledger from the records (optimizer steps the trainer counted; the stable run up to the largest "
            f"cooldown start). Holds if it equals the closed form (C_cos = ΣB, C_WSD = (1−f)·B_max + f·ΣB) within "
            f"{LEDGER_RTOL:.0%}, C_WSD < C_cos, and C3.1 is reproduced (the cheap instrument measures the same "
            f"curve); fails if C_WSD ≥ C_cos or C3.1 is contradicted. Wall time is reported, not judged (the machine "
            f"is shared). The evidence states the asymptotics: O(n) for the stable run, f·O(n²) for fixed-fraction "
            f"cooldowns.",
    "C3.7": "DeepSeek multi-step: holds if |L*_ms − L*_cos| ≤ τ; fails if L*_ms > L*_cos + 2τ.",
}

STATEMENTS = {
    "C3.1": "WSD matches or beats cosine at every token budget.",
    "C3.2": "Most of the loss drop happens in the cooldown; the stable phase decreases slowly.",
    "C3.3": "~10% decay suffices; 2.5% falls short (MiniCPM). ~20% cooldown matches cosine (Hägele).",
    "C3.4": "A 1−√ cooldown beats linear.",
    "C3.5": "The best constant LR is about half of cosine's best peak LR.",
    "C3.6": "One WSD run with branched cooldowns measures a data-scaling curve in O(n) instead of O(n²) compute.",
    "C3.7": "DeepSeek's multi-step schedule (80/10/10%) performs on par with cosine.",
}
SOURCES = {
    "C3.1": "Hu et al. 2024 (arXiv 2404.06395) §4 Fig. 3; Hägele et al. 2024 (arXiv 2405.18392) §3",
    "C3.2": "Hu et al. 2024 (arXiv 2404.06395) §4; lecture 11",
    "C3.3": "Hu et al. 2024 (arXiv 2404.06395) §4.2; Hägele et al. 2024 (arXiv 2405.18392) §3",
    "C3.4": "Hägele et al. 2024 (arXiv 2405.18392) §3, Fig. 5",
    "C3.5": "Hägele et al. 2024 (arXiv 2405.18392) §3",
    "C3.6": "Hägele et al. 2024 (arXiv 2405.18392) §5; Hu et al. 2024 (arXiv 2404.06395) §4; lecture 11",
    "C3.7": "DeepSeek-AI 2024 (arXiv 2401.02954) §2.3, Fig. 1",
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
    from scalelab.sweep import RunSpec

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
    from scalelab.sweep import RunSpec

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
    have = {r.get("config_key") for r in records}
    return all(sp.config_key in have for sp in stage_plans(scale, seed)[stage])


def run(scale: str, *, seed: int = 0, device: str = "auto", refresh: bool = False, records_only: bool = False,
        store=None) -> list[dict]:
    """The chapter's records at ``scale``: trained where missing, or looked up (``records_only``).

    Stable runs go first; a branch whose stable run diverged before its cooldown start has no
    checkpoint and is skipped (the diverged parent's record says why).

    Raises:
        ValueError: on an unknown scale.
        scalelab.sweep.MissingRecordsError: in records-only mode, naming the command that makes them.
    """
    from scalelab.book import validate_parameters

    validate_parameters(scale=scale, seed=seed, refresh=refresh, device=device, records_only=records_only)
    from scalelab.paths import results_path
    from scalelab.store import RunStore
    from scalelab.sweep import lookup, sweep

    specs = plan(scale, seed=seed)
    store = store if store is not None else RunStore(results_path(SLUG, scale))
    command = f"make chapter NB={NB} SCALE={scale}"
    roots = [s for s in specs if s.config.init_from is None]
    if records_only:
        root_recs = lookup(roots, store, command=command)
    else:
        root_recs = sweep(roots, store, device=device, refresh=refresh)
    ok = {s.config_key for s, r in zip(roots, root_recs) if r["result"]["status"] == "finished"}
    branches = [s for s in specs if s.config.init_from is not None and s.config.init_from in ok]
    if records_only:
        branch_recs = lookup(branches, store, command=command)
    else:
        branch_recs = sweep(branches, store, device=device, refresh=refresh, parents=roots)
    return [*root_recs, *branch_recs]


# ----------------------------------------------------------------------------- cost
def plan_summary(scale: str, seed: int = 0):
    """Runs, optimizer steps (incl. evaluation work in step-equivalents) and estimated hours per protocol.

    Hours from :func:`scalelab.sweep.estimated_seconds` (the reference machine's measured speed on cpu,
    a rough guess on gpu).
    """
    import pandas as pd

    from scalelab.sweep import EVAL_FACTOR, estimated_seconds

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


def parabola_vertex(xs, ys) -> tuple[float, float, bool]:
    """Vertex (x, y) of the parabola through the argmin of ``ys`` and its two neighbours.

    Returns ``(x_opt, y_opt, interior)``; at a grid edge the argmin itself with ``interior=False``.
    """
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    ok = np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) == 0:
        return float("nan"), float("nan"), False
    i = int(np.argmin(ys))
    if i == 0 or i == len(xs) - 1:
        return float(xs[i]), float(ys[i]), False
    a, b, c = np.polyfit(xs[i - 1:i + 2], ys[i - 1:i + 2], 2)
    if a <= 0:
        return float(xs[i]), float(ys[i]), True
    x = -b / (2 * a)
    return float(x), float(c - b * b / (4 * a)), True


def _key_cols():
    return ["protocol", "decay_frac", "decay_shape", "budget"]


def optima(fin):
    """Per (protocol, variant, budget): the best seed-mean loss over the LR grid and where it is.

    Columns: protocol, decay_frac, decay_shape, budget, best_loss (min over LRs of the seed-mean),
    best_log2_lr (argmin), opt_log2_lr (parabola vertex), interior, n_lrs, seeds_at_best.
    A diverged run counts as an infinitely bad LR (it stays in the grid, so an optimum next to a
    divergence is interior).
    """
    import pandas as pd

    rows = []
    f = fin.copy()
    f["decay_frac"] = f["decay_frac"].fillna(-1.0)
    f["loss"] = f["loss"].fillna(np.inf)  # a diverged seed makes that LR's mean infinite
    for key, g in f.groupby(_key_cols(), sort=True):
        m = g.groupby("log2_lr").agg(loss=("loss", "mean"), seeds=("seed", "nunique")).sort_index()
        finite = np.isfinite(m["loss"].to_numpy())
        if not finite.any():
            continue
        i = int(np.argmin(m["loss"].to_numpy()))
        x_opt, _, interior = parabola_vertex(m.index.to_numpy(), np.where(finite, m["loss"], np.nan))
        # the vertex ignores diverged neighbours; an argmin next to a divergence is interior
        interior = bool(0 < i < len(m) - 1)
        rows.append({"protocol": key[0], "decay_frac": key[1] if key[1] >= 0 else float("nan"),
                     "decay_shape": key[2], "budget": key[3], "best_loss": float(m["loss"].iloc[i]),
                     "best_log2_lr": float(m.index[i]), "opt_log2_lr": x_opt, "interior": interior,
                     "n_lrs": len(m), "seeds_at_best": int(m["seeds"].iloc[i])})
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
    """Pooled per-run seed standard deviation σ_seed and the number of pairs it comes from.

    Pairs are (seed, seed + 1) runs of the same config at LRs within one grid step of that
    schedule's tuned LR (the argmin); σ² = mean(d²)/2 over the pairs.
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


def cooldown_ratios(records: list[dict], opt, scale: str):
    """C3.2 per budget, at the WSD default's tuned LR (seed of the plan): the cooldown's drop and the
    stable phase's drop over as many steps just before the cooldown start."""
    import pandas as pd

    w = pick(opt, "wsd", DEFAULT_FRAC, DEFAULT_SHAPE)
    seed0 = min(r["config"]["seed"] for r in records) if records else 0
    stable = {(r["config"]["lr"], r["config"]["seed"]): r for r in records if r["experiment"] == "constant"}
    rows = []
    for b, row in w.iterrows():
        lr = 2.0 ** row["best_log2_lr"]
        br = [r for r in records if r["experiment"] == "wsd" and r["config"]["total_steps"] == b
              and r["config"]["seed"] == seed0 and math.isclose(r["config"]["lr"], lr)
              and math.isclose(r["config"]["decay_frac"], DEFAULT_FRAC) and r["config"]["decay_shape"] == DEFAULT_SHAPE]
        par = stable.get((br[0]["config"]["lr"], seed0)) if br else None
        if not br or par is None or br[0]["result"]["final_eval_loss"] is None:
            continue
        start = br[0]["config"]["init_step"]
        d = b - start
        ev = par["result"]["eval_curve"]
        if start - d < min(ev["step"], default=np.inf):
            continue
        l_start = float(np.interp(start, ev["step"], ev["loss"]))
        l_before = float(np.interp(start - d, ev["step"], ev["loss"]))
        cool = l_start - float(br[0]["result"]["final_eval_loss"])
        stab = l_before - l_start
        rows.append({"budget": b, "log2_lr": row["best_log2_lr"], "cooldown_steps": d, "stable_drop": stab,
                     "cooldown_drop": cool, "ratio": cool / stab if stab > 0 else float("inf"),
                     "on_eval_grid": bool((start in ev["step"]) and ((start - d) in ev["step"]))})
    return pd.DataFrame(rows)


def comparison_table(opt):
    """Best loss per budget for each protocol and WSD variant (columns), one row per budget."""
    import pandas as pd

    cols = {}
    for prot in ("cosine", "constant", "multistep"):
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
    for shape in p.shapes:
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


# ----------------------------------------------------------------------------- analyze
def _fmt(x: float, nd: int = 4) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def _aggregate(outcomes: list[str]) -> str:
    if outcomes and all(o == "holds" for o in outcomes):
        return "reproduced"
    if any(o == "fails" for o in outcomes):
        return "contradicted"
    return "not resolved at this scale"


def _le(a: float, b: float, tau: float) -> str:
    """'a ≤ b (within noise)': holds if a ≤ b + τ, fails if a > b + 2τ."""
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(tau)):
        return "unclear"
    if a <= b + tau:
        return "holds"
    if a > b + 2 * tau:
        return "fails"
    return "unclear"


def analyze(records: list[dict], scale: str):
    """Validity checks and verdicts on C3.1–C3.7 from the records (pure and deterministic)."""
    from scalelab.checks import Check, Report, Verdict
    from scalelab.train import TrainConfig

    p = chapter_plan(scale)
    checks: list[Check] = []
    fin = finals(records)
    opt = optima(fin) if len(fin) else None

    # --- records present and finished
    n_fin = sum(r["result"]["status"] == "finished" for r in records)
    n_div = sum(r["result"]["status"] == "diverged" for r in records)
    bad = [r for r in records if r["result"]["status"] not in ("finished", "diverged")]
    have = {r.get("config_key") for r in records}
    roots_missing = [s for s in plan(scale, seed=min((r["config"]["seed"] for r in records), default=0))
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
            ("multistep", None, None)]
    edge = []
    n_main = 0
    if opt is not None:
        for prot, f, s in main:
            d = pick(opt, prot, f, s)
            n_main += len(d)
            edge += [f"{prot}@{b}" for b, row in d.iterrows() if not row["interior"]]
    checks.append(Check("LR optima interior (cosine, constant, WSD 20% 1−√, multi-step)", n_main > 0 and not edge,
                        f"{n_main - len(edge)} of {n_main} (protocol, budget) optima interior"
                        + (f"; at the edge: {', '.join(edge[:6])}" if edge else ""),
                        "argmin of the seed-mean loss is not the smallest or largest grid LR"))
    var_edge = []
    if opt is not None:
        wv = opt[opt["protocol"] == "wsd"]
        var_edge = [f"{r['decay_frac']:.1%} {r['decay_shape']}@{r['budget']}" for _, r in wv.iterrows()
                    if not r["interior"]]

    # --- seed spread
    sigma, n_pairs = seed_spread(fin, opt) if opt is not None else (float("nan"), 0)
    checks.append(Check("seed spread measured", n_pairs >= 2 and np.isfinite(sigma) and sigma > 0,
                        f"σ_seed = {_fmt(sigma)} nats from {n_pairs} seed pairs at the tuned LRs",
                        "≥ 2 (seed, seed+1) pairs within one grid step of a tuned LR, σ_seed finite and > 0"))
    tau = NOISE_SE * math.sqrt(2) * sigma if np.isfinite(sigma) else float("nan")

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

    # --- resolution of verdicts
    span = max(p.budgets) / min(p.budgets)
    resolvable = (min(p.budgets) >= MIN_BUDGET_STEPS and span >= MIN_BUDGET_SPAN and p.grid_step <= MAX_GRID_STEP + 1e-9
                  and np.isfinite(tau))
    why = (f"budgets {min(p.budgets)}–{max(p.budgets)} steps ({span:g}×), grid step 2^{p.grid_step:g}, "
           f"τ = {_fmt(tau)} nats")

    verdicts = []

    def add(claim: str, outcomes: list[str], evidence: str, force_nr: bool = False):
        v = _aggregate(outcomes)
        if not resolvable or force_nr:
            v = "not resolved at this scale"
        verdicts.append(Verdict(claim, STATEMENTS[claim], v, RULE + " " + CRITERIA[claim],
                                evidence + ("" if resolvable else f" [below the verdict minimums: {why}]"),
                                SOURCES[claim]))

    empty = opt is None or opt.empty
    cos = pick(opt, "cosine") if not empty else None
    budgets = list(cos.index) if cos is not None else []

    def best(prot, f=None, s=None):
        d = pick(opt, prot, f, s) if not empty else None
        return (lambda b: float(d.loc[b, "best_loss"]) if d is not None and b in d.index else float("nan"))

    L_cos, L_wsd, L_ms = best("cosine"), best("wsd", DEFAULT_FRAC, DEFAULT_SHAPE), best("multistep")

    # C3.1
    out = [_le(L_wsd(b), L_cos(b), tau) for b in budgets]
    ev = "; ".join(f"B={b}: WSD {_fmt(L_wsd(b))} vs cos {_fmt(L_cos(b))} ({o})" for b, o in zip(budgets, out))
    add("C3.1", out, ev + f"; τ = {_fmt(tau)}")
    c31 = _aggregate(out)

    # C3.2
    cr = cooldown_ratios(records, opt, scale) if not empty else None
    out = []
    if cr is not None and len(cr):
        for _, r in cr.iterrows():
            out.append("holds" if r["ratio"] >= COOLDOWN_RATIO else ("fails" if r["ratio"] <= 1 else "unclear"))
        ev = "; ".join(f"B={int(r['budget'])}: drop in the cooldown {_fmt(r['cooldown_drop'])}, in the stable phase "
                       f"before it {_fmt(r['stable_drop'])} (R = {r['ratio']:.1f})" for _, r in cr.iterrows())
    else:
        ev = "no cooldown/stable pairs"
    add("C3.2", out or ["unclear"], ev)

    # C3.3
    out, ev = [], []
    sweep_b = [b for b in budgets if b in p.sweep_budgets]
    for b in sweep_b:
        lf = {f: best("wsd", f, DEFAULT_SHAPE)(b) for f in p.fractions}
        if not all(f in lf for f in (0.025, 0.1, 0.2)):
            continue
        gap = lf[0.025] - lf[0.1]
        a = "holds" if gap > tau else ("fails" if gap < -tau else "unclear")
        bb = _le(lf[0.1], min(v for v in lf.values() if np.isfinite(v)), tau)
        c = _le(lf[0.2], L_cos(b), tau)
        parts = (a, bb, c)
        out.append("holds" if all(x == "holds" for x in parts) else ("fails" if "fails" in parts else "unclear"))
        ev.append(f"B={b}: " + ", ".join(f"{f:.1%} {_fmt(v)}" for f, v in lf.items())
                  + f", cos {_fmt(L_cos(b))} (a {a}, b {bb}, c {c})")
    note = f"; variant optima at a grid edge (best loss an upper bound): {', '.join(var_edge)}" if var_edge else ""
    add("C3.3", out or ["unclear"], ("; ".join(ev) or "no fraction sweep") + note)

    # C3.4
    out, ev = [], []
    for b in sweep_b:
        lin, sq = best("wsd", DEFAULT_FRAC, "linear")(b), best("wsd", DEFAULT_FRAC, "1-sqrt")(b)
        g = lin - sq
        o = "unclear" if not (np.isfinite(g) and np.isfinite(tau)) else (
            "holds" if g > tau else ("fails" if g < -tau else "unclear"))
        out.append(o)
        ev.append(f"B={b}: linear {_fmt(lin)} vs 1−√ {_fmt(sq)} (gap {_fmt(g)}, {o})")
    add("C3.4", out or ["unclear"], ("; ".join(ev) or "no shape sweep") + note)

    # C3.5
    out, ev = [], []
    const = pick(opt, "constant") if not empty else None
    for b in budgets:
        if const is None or b not in const.index:
            continue
        rc, rk = cos.loc[b], const.loc[b]
        if not (rc["interior"] and rk["interior"]):
            out.append("unclear")
            ev.append(f"B={b}: optimum at a grid edge")
            continue
        x = rk["opt_log2_lr"] - rc["opt_log2_lr"]
        o = "holds" if HALF_BAND[0] <= x <= HALF_BAND[1] else (
            "fails" if (x > HALF_WRONG[1] or x < HALF_WRONG[0]) else "unclear")
        out.append(o)
        ev.append(f"B={b}: LR*_const/LR*_cos = 2^{x:+.2f} = {2 ** x:.2f} ({o})")
    add("C3.5", out or ["unclear"], "; ".join(ev) or "no constant-LR optima")

    # C3.6
    if led_ok:
        t = tot.set_index("protocol")
        frac_c = float(t.loc["wsd", "fraction_of_cosine"])
        flops_frac = float(t.loc["wsd", "flops"] / t.loc["cosine", "flops"])
        wall_frac = float(t.loc["wsd", "wall_s"] / t.loc["cosine", "wall_s"])
        if frac_c >= 1 or c31 == "contradicted":
            v36 = ["fails"]
        elif c31 == "reproduced":
            v36 = ["holds"]
        else:
            v36 = ["unclear"]
        ev = (f"WSD protocol used {frac_c:.2f} of cosine's steps ({flops_frac:.2f} of its FLOPs, {wall_frac:.2f} of "
              f"its "
              f"wall time) for {len(p.budgets)} budgets; C3.1: {c31}. With a fixed fraction f the cost is "
              f"(1−f)·B_max + f·ΣB: O(n) only for fixed-length cooldowns, ~f of cosine's for many linearly spaced "
              f"budgets")
    else:
        v36, ev = ["unclear"], "ledger incomplete or not equal to the closed form"
    add("C3.6", v36, ev)

    # C3.7
    out = []
    for b in budgets:
        a, c = L_ms(b), L_cos(b)
        if not (np.isfinite(a) and np.isfinite(c) and np.isfinite(tau)):
            out.append("unclear")
        elif abs(a - c) <= tau:
            out.append("holds")
        elif a > c + 2 * tau:
            out.append("fails")
        else:
            out.append("unclear")
    ev = "; ".join(f"B={b}: ms {_fmt(L_ms(b))} vs cos {_fmt(L_cos(b))} ({o})" for b, o in zip(budgets, out))
    add("C3.7", out, ev)

    return Report(SLUG, scale, checks, verdicts)


def verdict_inputs(records: list[dict], scale: str) -> dict:
    """The numbers the takeaway quotes: τ, σ_seed, ledger ratio, best losses at the largest budget."""
    fin = finals(records)
    opt = optima(fin)
    sigma, n_pairs = seed_spread(fin, opt)
    tot = ledger_totals(ledger(records, scale))
    out = {"sigma_seed": sigma, "tau": NOISE_SE * math.sqrt(2) * sigma, "n_pairs": n_pairs}
    if len(tot) and "fraction_of_cosine" in tot:
        t = tot.set_index("protocol")
        out["ledger_fraction"] = float(t.loc["wsd", "fraction_of_cosine"])
    bmax = max(chapter_plan(scale).budgets)
    for prot, f, s in (("cosine", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE), ("multistep", None, None),
                       ("constant", None, None)):
        d = pick(opt, prot, f, s)
        out[f"best_{prot}"] = float(d.loc[bmax, "best_loss"]) if bmax in d.index else float("nan")
        out[f"lr_{prot}"] = float(2 ** d.loc[bmax, "opt_log2_lr"]) if bmax in d.index else float("nan")
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
