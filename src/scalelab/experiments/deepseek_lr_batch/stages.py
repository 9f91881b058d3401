"""Chapter 4's staged plan: the stages after the first, each placed on the records of the ones before, and
:func:`run`, which trains (or looks up) them in order.

Every function here is pure: it plans from the records it is given and never reads a store. ``records=None``
means "no records": the plan is then what an empty store gives — the first stage (:func:`fitted_plan`) with no
held-out grid, and the ridge stage placed a priori.

The stages, in order:

* ``base``: :func:`fitted_plan` (no record needed), then the held-out grid (:func:`heldout_plan`), placed once the
  fitted budgets' records are complete on the prediction of the laws fitted to them (:func:`heldout_budget`),
  and, when the held-out best lands in an end column, one more column beyond it (``HELDOUT_EXTEND``);
* ``ridge`` (issue 21, cpu and smoke): :func:`ridge_plan`, centred on the laws through the first stage's surface
  optima (:func:`ridge_centres`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from scalelab.fit import FitInputError
from scalelab.fit.deepseek import optimum_law
from scalelab.runner import RunSpec
from scalelab.store import config_key

from .claims import (
    EXP_GRID,
    EXP_HELDOUT,
    EXP_NOISE,
    EXP_RIDGE,
    EXP_RIDGE_HELDOUT,
    HELDOUT_CLIP,
    HELDOUT_EXTEND,
    INTERIOR_AXES,
    VERSION,
    deepseek_batch,
    deepseek_eta,
)
from .design import (
    Budget,
    budget_of,
    chapter_plan,
    fitted_plan,
    prior_budgets,
    ridge_nodes,
    ridge_plan_of,
    train_config,
)
from .tables import (
    as_grid,
    effective_band,
    grid_table,
    near_optimal_fit_table,
    noise_table,
    pooled_rel_sd,
    surface_table,
)

# ----------------------------------------------------------------------------- the held-out budget


def budgets(scale: str, grid: pd.DataFrame | None = None) -> list[Budget]:
    """The fitted budgets (by width) and, last, the held-out one.

    Args:
        grid: a :func:`grid_table` frame. With the fitted budgets complete in it, the held-out grid is
            centred on the laws' prediction (:func:`heldout_budget`); without, on the a-priori rule (the
            published laws plus the offsets, as the fitted budgets), which only the cost estimate uses.

    Raises:
        ValueError: on an unknown scale.
    """
    out = prior_budgets(scale)
    if grid is not None:
        out[-1] = heldout_budget(scale, grid) or out[-1]
    return out


def heldout_budget(scale: str, records_or_grid, seed: int = 0) -> Budget | None:
    """The held-out budget with its grid centred on the prediction of the laws fitted to the fitted budgets
    (measure M; DeepSeek's band, or the noise-widened band when seed noise exceeds it,
    :func:`effective_band`), rounded to the grid and clipped to ±``HELDOUT_CLIP`` octaves of B_tok around the
    a-priori centre (at least one sequence per batch); None until the fitted records are complete or when the
    fit cannot run.

    Args:
        records_or_grid: records or a :func:`grid_table` frame; only the first-stage runs of ``seed`` are used.
    """
    p = chapter_plan(scale)
    prior = prior_budgets(scale)[-1]
    grid = as_grid(records_or_grid, scale)
    fitted = grid[grid["experiment"].isin([EXP_GRID, EXP_NOISE])]
    need = {s.config_key for s in fitted_plan(scale, seed)}
    if not need <= set(fitted["config_key"]):
        return None
    fitted = fitted[fitted["config_key"].isin(need)]
    band = effective_band(pooled_rel_sd(noise_table(fitted), fitted))
    try:
        fit = near_optimal_fit_table(fitted, scale, band=band)
    except (FitInputError, ValueError):
        return None
    C = prior.flops
    be_hat, le_hat = math.log2(float(fit.batch_opt(C))), math.log2(float(fit.eta_opt(C)))
    if not (math.isfinite(be_hat) and math.isfinite(le_hat)):
        return None
    side = p.heldout_batch_side
    b0 = prior.centre[0]
    bc = int(min(max(round(be_hat), b0 - HELDOUT_CLIP, math.ceil(math.log2(p.seq_len)) + side), b0 + HELDOUT_CLIP))
    lc = p.lr_step * round(le_hat / p.lr_step)
    lside = p.heldout_lr_side
    hb = Budget(d_model=prior.d_model, heldout=True, m=prior.m, num_tokens=prior.num_tokens,
                batch_exps=tuple(bc + k for k in range(-side, side + 1)),
                lr_exps=tuple(lc + p.lr_step * k for k in range(-lside, lside + 1)),
                lr_step=p.lr_step, lr_slope=p.lr_slope, predicted=True, centre_batch=bc)
    return _extend_heldout(scale, hb, grid, seed)


def _extend_heldout(scale: str, hb: Budget, grid: pd.DataFrame, seed: int) -> Budget:
    """``hb`` with one more B_tok column beyond an end column that holds the held-out best, once every node of
    ``hb`` has a finished-or-diverged record; repeated up to ``HELDOUT_EXTEND`` times."""
    if "batch" not in INTERIOR_AXES[scale]:  # smoke: one batch column, no batch optimum to bracket
        return hb
    held = grid[grid["experiment"] == EXP_HELDOUT]
    while hb.extended < HELDOUT_EXTEND:
        keys = {RunSpec(EXP_HELDOUT, train_config(scale, hb, be, le, seed), VERSION).config_key for be, le in hb.nodes}
        if not keys <= set(held["config_key"]):
            return hb
        h = held[held["config_key"].isin(keys) & held["loss"].notna()]
        if h.empty:
            return hb
        best = float(h.loc[h["loss"].idxmin(), "batch_exp"])
        if abs(best - max(hb.batch_exps)) < 1e-9:
            hb = replace(hb, batch_exps=(*hb.batch_exps, max(hb.batch_exps) + 1), extended=hb.extended + 1)
        elif abs(best - min(hb.batch_exps)) < 1e-9 and 2 ** (min(hb.batch_exps) - 1) >= chapter_plan(scale).seq_len:
            hb = replace(hb, batch_exps=(min(hb.batch_exps) - 1, *hb.batch_exps), extended=hb.extended + 1)
        else:
            return hb
    return hb


def heldout_plan(scale: str, seed: int = 0, records: list[dict] | None = None) -> list[RunSpec]:
    """The held-out stage: the held-out budget's grid placed on ``records`` (:func:`heldout_budget`); empty
    while the first stage's records are incomplete, and with ``records=None`` (no records)."""
    hb = heldout_budget(scale, records, seed) if records else None
    if hb is None:
        return []
    return [RunSpec(EXP_HELDOUT, train_config(scale, hb, be, le, seed), VERSION) for be, le in hb.nodes]


def plan(scale: str, seed: int = 0, records: list[dict] | None = None) -> list[RunSpec]:
    """All runs of stage ``base`` at ``scale`` that ``records`` allow: :func:`fitted_plan`, then — once its
    records are complete among ``records`` — the held-out grid around the fitted laws' prediction
    (:func:`heldout_plan`).

    Args:
        records: the records the later steps are placed on. None (or empty): no records, so the fitted stage
            only. The caller passes them (e.g. ``RunStore(results_path(SLUG, scale)).records()``); this
            function reads no store.

    Raises:
        ValueError: on an unknown scale.
    """
    return fitted_plan(scale, seed) + heldout_plan(scale, seed, records)




# ----------------------------------------------------------------------------- stage "ridge" (planned, issue 21)


def ridge_centres(scale: str, records: list[dict] | None = None, seed: int = 0) -> dict[int, tuple[float, float]]:
    """(log2 B_tok, log2 η) at the centre of each redesigned budget (held-out included), on the ½-octave lattice.

    Placed on the laws through the first stage's surface optima when ``records`` hold the whole first stage and
    those optima are all finite; else a priori, as the first stage (DeepSeek's laws plus the plan's offsets),
    which only the smoke scale and ``records=None`` (no records) use.
    """
    rp = ridge_plan_of(scale)
    if rp is None:
        return {}
    p = chapter_plan(scale)
    laws = None
    if records:
        grid = grid_table(records, scale)
        need = {s.config_key for s in fitted_plan(scale, seed)}
        if need <= set(grid["config_key"]):
            surf = surface_table(grid, scale)
            f = surf[surf["budget"] == "fitted"]
            if len(f) >= 2 and np.isfinite(f[["log2_B_opt", "log2_eta_opt"]].to_numpy()).all():
                laws = {k: optimum_law(f["flops"], f[c], n_boot=10) for k, c in
                        (("B", "log2_B_opt"), ("eta", "log2_eta_opt"))}
    out = {}
    for d in (*rp.widths, rp.heldout_width):
        C = budget_of(scale, d, False).flops
        if laws is not None:
            be, le = float(laws["B"].log2_at(C)), float(laws["eta"].log2_at(C))
        else:
            be = math.log2(float(deepseek_batch(C))) + p.batch_offset
            le = math.log2(float(deepseek_eta(C))) + p.lr_offset
        out[d] = (rp.batch_step * round(be / rp.batch_step), rp.lr_step * round(le / rp.lr_step))
    return out


def ridge_plan(scale: str, seed: int = 0, records: list[dict] | None = None) -> list[RunSpec]:
    """Stage "ridge" (planned after the first stage's results; the page says so): every redesigned budget's
    grid (:func:`ridge_nodes`) at ``RidgePlan.seeds`` seeds, the held-out budget's with the same rule. Empty
    at a scale without the stage. The centres are placed on ``records`` (:func:`ridge_centres`; None: no
    records, a priori).

    Raises:
        ValueError: on an unknown scale.
    """
    rp = ridge_plan_of(scale)
    if rp is None:
        return []
    p = chapter_plan(scale)
    centres = ridge_centres(scale, records, seed)
    specs = []
    for d in (*rp.widths, rp.heldout_width):
        b = budget_of(scale, d, d == rp.heldout_width)
        exp = EXP_RIDGE_HELDOUT if b.heldout else EXP_RIDGE
        for bsz, le in ridge_nodes(scale, d, centres[d]):
            for s in range(seed, seed + rp.seeds):
                cfg = train_config(scale, b, int(math.log2(p.seq_len)), le, s)
                steps = max(1, round(b.num_tokens / (bsz * p.seq_len)))
                cfg = replace(cfg, batch_size=bsz, total_steps=steps, warmup_steps=max(1, round(p.warmup_frac * steps)))
                specs.append(RunSpec(exp, cfg, VERSION))
    return specs


ANALYSED_STAGES = ("ridge",)  # the later stages analyze() reads, once complete (scalelab.runner.chapter_records)


def stage_plans(scale: str, seed: int = 0, records: list[dict] | None = None) -> dict[str, list[RunSpec]]:
    """The chapter's stages in order: ``base`` (the first stage and its held-out grid, :func:`plan`) and
    ``ridge`` (the redesign, :func:`ridge_plan`), each placed on ``records``, which the caller passes (None: no
    records — the fitted stage only in ``base``, the ridge grids placed a priori). A sweep runs them all; a stage
    is analysed only when every one of its runs is recorded (:func:`stage_complete`)."""
    out = {"base": plan(scale, seed=seed, records=records)}
    ridge = ridge_plan(scale, seed, records)
    if ridge:
        out["ridge"] = ridge
    return out


def stage_complete(records: list[dict], scale: str, stage: str = "ridge", seed: int = 0) -> bool:
    """Whether every run of ``stage`` has a record among ``records`` (matched by config key)."""
    have = {config_key(r["experiment"], r.get("version", VERSION), r["config"]) for r in records}
    specs = stage_plans(scale, seed, records).get(stage, [])
    return bool(specs) and all(sp.config_key in have for sp in specs)


