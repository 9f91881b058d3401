"""The analysis: validity checks, controls and verdicts on C1.1–C1.7, the tables beside them, and the numbers the
chapter's prose quotes (:func:`glue_values`)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from scalelab.checks import Check, Report, budgets_met, optima_interior, runs_finished
from scalelab.experiments.mup_derivation.claims import (
    BASE_MATCH_NATS,
    CONST_SIGMA_CLAIMED,
    CONST_SIGMA_DELTA,
    COORD_DELTA,
    COORD_GROWTH_CLAIMED,
    COORD_SITES,
    CRITERIA,
    EXPONENT,
    FLAT_SLOPE,
    GROWTH_SLOPE,
    HIDDEN_SITES,
    LEVEL,
    MIN_SEEDS,
    MIN_STEPS,
    MIN_WIDTH_RATIO,
    NATS,
    OCTAVES,
    OLD_VERDICTS,
    OPNORM_BAD,
    OPNORM_TOL,
    PARAMETRIZATION_LABELS,
    SLUG,
    SOURCES,
    SP_DRIFT_CLAIMED,
    SP_DRIFT_DELTA,
    STATEMENTS,
    SWAPPED_CLAIMED,
    SWAPPED_DELTA,
    TRANSFER_DELTA,
    WIDER_GAIN,
)
from scalelab.experiments.mup_derivation.coords import coord_check
from scalelab.experiments.mup_derivation.design import chapter_plan, plan
from scalelab.experiments.mup_derivation.numerics import NETS, operator_norm_check, slope_table, spectral_checks
from scalelab.experiments.mup_derivation.stats import (
    coord_interval,
    coord_summary,
    numeric_interval,
    transfer_interval,
    wider_intervals,
)
from scalelab.experiments.mup_derivation.tables import (
    loss_table,
    optimum_table,
    seed_hours,
    seed_noise,
    transfer_resolvable,
)
from scalelab.resample import Interval
from scalelab.scales import validate_scale
from scalelab.verdicts import Claim, Control, arithmetic, control_table, judge, minimum_detectable_effect


def _margin(v) -> float:
    return v.sensitivity - v.delta if v.kind == "statistical" else 0.0


def conjunction(claim_id: str, parts: list[tuple[str, object]]):
    """One verdict for a claim with several parts: contradicted if a part is, reproduced if every part is, else
    not resolved. The deciding part's verdict is returned (its statistic, interval and mde), its label and every
    part's interval in the evidence."""
    contra = [p for p in parts if p[1].verdict == "contradicted"]
    if contra:
        label, v = max(contra, key=lambda p: _margin(p[1]))
    else:
        pool = [p for p in parts if p[1].verdict != "reproduced"] or parts
        label, v = max(pool, key=lambda p: _margin(p[1]))
    summary = "; ".join(f"{lab} {p.statistic:+.3f} [{p.interval[0]:+.3f}, {p.interval[1]:+.3f}]" for lab, p in parts)
    return dataclasses.replace(v, claim=claim_id, evidence=f"deciding part: {label}: {v.evidence}. "
                               f"All {len(parts)} parts: {summary}", reason=f"{label}: {v.reason}")


def _gated(v, why: str):
    """The verdict made "not resolved" by a gate: the interval becomes (−∞, ∞); the measured one stays in the
    evidence and the reason."""
    return dataclasses.replace(
        v, verdict="not resolved at this scale", outcome="not resolved at this scale",
        interval=(-math.inf, math.inf), se=math.inf, mde=math.inf, units_needed=None, sensitivity=math.inf,
        evidence=v.evidence + f"; gated: {why}", reason=f"{why} (measured: {v.reason})")


def controls(records: list[dict], scale: str, numerics, coords):
    """The chapter's controls, each (ControlResult, mde, powered, anchored claims).

    - positive: the constant σ (GPT-2) grows at init (layer 3, linear net): anchors C1.1;
    - negative: the embedding's change since init does not depend on width (same rule under SP and μP): anchors
      C1.5 (the instrument);
    - negative: μP's block outputs and logits change by Θ(1) in width (the μP implementation behaves as μP):
      anchors C1.6, C1.7;
    - positive: constant-σ SP's LR optimum falls against μP's: anchors C1.6, C1.7. Evaluated only where the
      transfer design meets the verdict minimums (below them nothing is claimed from the records).
    """
    out = []

    def add(ctl, iv, anchors):
        res = ctl.evaluate(iv)
        mde = minimum_detectable_effect(iv.se, iv.df, level=iv.level)
        out.append((res, mde, bool(mde <= ctl.expect.target), anchors))

    add(Control("constant σ grows at init (layer 3)", "positive",
                Claim(CONST_SIGMA_CLAIMED, CONST_SIGMA_DELTA, "greater", EXPONENT),
                "GPT-2's constant σ at every width: ‖h_3‖/√n_3 grows as n (derivation: exponent 1)"),
        numeric_interval(numerics, "linear", "constant σ (GPT-2)", (3,)), ("C1.1",))
    for param in ("sp", "mup"):
        add(Control(f"{PARAMETRIZATION_LABELS[param]} embedding change flat", "negative",
                    Claim.no_effect(COORD_DELTA, EXPONENT),
                    "the embedding's init and LR do not depend on width under either parametrization"),
            coord_interval(coords, param, "embedding"), ("C1.5",))
    ivs = [coord_interval(coords, "mup", s) for s in ("attention", "mlp", "logits")]
    worst = max(ivs, key=lambda iv: max(abs(iv.lo), abs(iv.hi)) if np.isfinite(iv.estimate) else math.inf)
    add(Control("μP block outputs and logits change Θ(1)", "negative", Claim.no_effect(COORD_DELTA, EXPONENT),
                "μP's derivation: the attention and MLP outputs and the logits move by Θ(1) per coordinate at "
                "every width (worst of the three sites)"), worst, ("C1.6", "C1.7"))
    if records and transfer_resolvable(records):
        add(Control("constant-σ SP's optimum falls against μP", "positive",
                    Claim(SP_DRIFT_CLAIMED, SP_DRIFT_DELTA, "less", OCTAVES),
                    "SP minus μP slope of log2 η* against log2 width: a global Adam LR moves the optimum as "
                    "1/width (Tensor Programs V §5)"), transfer_interval(records, "sp", "mup"), ("C1.6", "C1.7"))
    return out


# ----------------------------------------------------------------------------- analysis


def _fmt(x: float, nd: int = 3) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.{nd}f}"


def analyze(records: list[dict], scale: str, *, numerics=None, opnorms=None, coords=None, seed: int = 0):
    """Validity checks, controls and verdicts on C1.1–C1.7 (all made by :mod:`scalelab.verdicts`).

    ``records`` are the LR-transfer runs; ``numerics``, ``opnorms`` and ``coords`` are the frames of
    :func:`spectral_checks`, :func:`operator_norm_check` and :func:`coord_check` (recomputed,
    deterministically, when not given). The result depends on its inputs only.

    Raises:
        ValueError: on an unknown scale.
    """
    def _check(name: str, passed, value: str, criterion: str):
        return Check(name, bool(passed), value, criterion)  # plain bool: the report is saved as JSON

    validate_scale(scale)
    numerics = spectral_checks(scale, seed) if numerics is None else numerics
    opnorms = operator_norm_check(scale, seed) if opnorms is None else opnorms
    coords = coord_check(scale, seed) if coords is None else coords
    checks: list = []

    # --- validity: numerics
    st = slope_table(numerics)
    widths = sorted(numerics["n"].unique())
    n_num_seeds = int(numerics["seed"].nunique())
    ok = bool(len(st) and st["finite"].all() and (st["widths"] >= 3).all() and widths[-1] / widths[0] >= 4
              and n_num_seeds >= 2)
    checks.append(_check("numerics: exponents over widths and seeds", ok,
                         f"{len(st)} exponents over {len(widths)} widths ({widths[0]}…{widths[-1]}), "
                         f"{n_num_seeds} seeds", "every (net, case, layer) has ≥ 3 widths spanning ≥ 4×, finite "
                         "positive values and ≥ 2 seeds"))
    on = opnorms
    ok = bool(len(on) and np.isfinite(on["ratio"]).all() and on["n"].nunique() >= 3)
    checks.append(_check("operator norms measured", ok, f"{len(on)} matrices, {on['n'].nunique()} widths",
                         "finite ‖W‖_op for every shape at ≥ 3 widths"))
    # --- validity: coordinate check
    cw, cs = coords["d_model"].nunique(), coords["seed"].nunique()
    has_change = "measure" in coords and (coords["measure"] == "change").any()
    ok = bool(cw >= 4 and cs >= 3 and np.isfinite(coords["mean_abs"]).all() and (coords["mean_abs"] > 0).all()
              and set(coords["site"]) == set(COORD_SITES) and has_change)
    checks.append(_check("coordinate check well posed", ok,
                         f"{cw} widths × {cs} seeds × {coords['step'].max()} steps, sites {', '.join(COORD_SITES)}",
                         "≥ 4 widths, ≥ 3 seeds, every site, |x_t| and |x_T − x_0| finite and positive"))
    # --- validity: training records
    lt = loss_table(records) if records else None
    checks.append(runs_finished(records, plan(scale, seed=seed)))
    if lt is not None and len(lt):
        # every finished run processed exactly its steps and tokens; the plan gives every run the same budget
        checks.append(budgets_met(records))
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
        checks.append(optima_interior([(f"{PARAMETRIZATION_LABELS[r.parametrization]} d={r.d_model}", r.interior)
                                       for r in opt.itertuples()], "SP and μP, every width"))
        noise = seed_noise(records)
        nseeds = int(lt.groupby(["parametrization", "d_model", "log2_lr"])["seed"].nunique().min())
        checks.append(_check("seeds for an interval", nseeds >= MIN_SEEDS and np.isfinite(noise),
                             f"{nseeds} seeds per cell (a t interval with {nseeds - 1} df); pooled seed std "
                             f"{_fmt(noise, 4)} nats; per-width optimum spread up to "
                             f"{_fmt(float(opt['seed_opt_std'].max()), 2)} (log2 LR)",
                             f"≥ {MIN_SEEDS} seeds in every cell and a finite pooled standard deviation"))

    # --- controls: a control that misses while the design could have seen its effect makes the chapter invalid;
    # one the design is too small to see (mde > its effect) makes the verdicts it anchors "not resolved" instead.
    gates: dict[str, list[str]] = {}
    for res, mde, powered, anchors in controls(records, scale, numerics, coords):
        ck = res.to_check()
        note = "" if res.passed else (f"; missed, but the design cannot see its effect (mde {mde:.3g} > "
                                      f"{res.control.expect.target:.3g}): {', '.join(anchors)} gated to not resolved"
                                      if not powered else f"; missed with mde {mde:.3g}")
        if not res.passed and not powered:
            for c in anchors:
                gates.setdefault(c, []).append(res.control.name)
        checks.append(Check(ck.name, bool(res.passed or not powered), ck.value + note,
                            ck.criterion + f" (or mde above its effect: gates {', '.join(anchors)})"))

    def statv(cid, label, claim, iv, cost=None):
        return label, judge(cid, STATEMENTS[cid], claim, iv, source=SOURCES[cid], criterion=CRITERIA[cid],
                            cost_per_unit=cost, cost_label="process-hours")

    flat = Claim.no_effect(FLAT_SLOPE, EXPONENT)
    verdicts = []
    # C1.1: A1 at every layer
    parts = [statv("C1.1", f"{net}, layer {ly}", flat, numeric_interval(numerics, net, "A1 rule σ_l", (ly,)))
             for net in NETS for ly in (1, 2, 3)]
    verdicts.append(conjunction("C1.1", parts))
    # C1.2: arithmetic
    last = on[on["n"] == on["n"].max()].groupby("shape")["ratio"].mean()
    dev = float((last - 1).abs().max()) if len(last) else float("nan")
    v = "reproduced" if dev <= OPNORM_TOL else "contradicted" if dev > OPNORM_BAD else "not resolved at this scale"
    first = on[on["n"] == on["n"].min()]["ratio"]
    ev = (f"at n = {int(on['n'].max())}: ratios " + ", ".join(f"{k}: {_fmt(x)}" for k, x in last.items())
          + f"; at n = {int(on['n'].min())}: min ratio {_fmt(float(first.min()))}")
    verdicts.append(arithmetic("C1.2", STATEMENTS["C1.2"], v, criterion=CRITERIA["C1.2"], evidence=ev,
                               source=SOURCES["C1.2"], statistic=dev, claimed=0.0, measure="relative deviation",
                               reason=f"largest |ratio − 1| at the widest width is {_fmt(dev)}: "
                               + ("within" if dev <= OPNORM_TOL else "beyond") + f" {OPNORM_TOL}"
                               + ("" if dev <= OPNORM_TOL else f" (contradicted above {OPNORM_BAD})")))
    # C1.3: the matched rules flat, the swapped rules fail
    parts = [statv("C1.3", f"{case}, {net}, layer {ly}", flat, numeric_interval(numerics, net, case, (ly,)))
             for case in ("μP + SGD", "μP + Adam") for net in NETS for ly in (1, 2, 3)]
    for case, sign in (("SGD with Adam's rule", -1.0), ("Adam with SGD's rule", 1.0)):
        for net in NETS:
            parts.append(statv("C1.3", f"{case}, {net} (layer mean × {sign:+g})",
                               Claim(SWAPPED_CLAIMED, SWAPPED_DELTA, "greater", EXPONENT),
                               numeric_interval(numerics, net, case, (1, 2, 3), sign)))
    verdicts.append(conjunction("C1.3", parts))
    # C1.4: SP's hidden updates grow
    parts = []
    for case, claimed in (("SP + SGD", 0.5), ("SP + Adam", 1.0)):
        for net in NETS:
            parts.append(statv("C1.4", f"{case}, {net} (layers 2–3)",
                               Claim(claimed, claimed - GROWTH_SLOPE, "greater", EXPONENT),
                               numeric_interval(numerics, net, case, (2, 3))))
    verdicts.append(conjunction("C1.4", parts))
    # C1.5: the change since init
    parts = [statv("C1.5", f"μP {site}", Claim.no_effect(COORD_DELTA, EXPONENT), coord_interval(coords, "mup", site))
             for site in COORD_SITES]
    parts += [statv("C1.5", f"SP {site}", Claim(COORD_GROWTH_CLAIMED, COORD_GROWTH_CLAIMED - GROWTH_SLOPE, "greater",
                                                EXPONENT), coord_interval(coords, "sp", site))
              for site in (*HIDDEN_SITES, "logits")]
    verdicts.append(conjunction("C1.5", parts))
    # C1.6, C1.7: transfer
    if records:
        cost = seed_hours(records)
        cost = cost if np.isfinite(cost) else None
        mu_claim = Claim.no_effect(TRANSFER_DELTA, OCTAVES)
        verdicts.append(conjunction("C1.6", [statv("C1.6", "μP's optimum slope", mu_claim,
                                                   transfer_interval(records, "mup"), cost)]))
        parts = [statv("C1.7", lab, Claim(-WIDER_GAIN, WIDER_GAIN, "less", NATS), iv, cost)
                 for lab, iv in wider_intervals(records, scale)]
        if parts:
            verdicts.append(conjunction("C1.7", parts))
        else:
            verdicts.append(_no_statistic("C1.7", "no near-optimal LR"))
        if not transfer_resolvable(records):
            p = chapter_plan(scale)
            why = (f"below the verdict minimums (widths ≥ {MIN_WIDTH_RATIO}×: {max(p.widths) / min(p.widths):g}×, "
                   f"≥ {MIN_STEPS} steps: {p.total_steps}, ≥ {MIN_SEEDS} seeds)")
            verdicts[-2:] = [v if v.verdict == "not resolved at this scale" and v.interval == (-math.inf, math.inf)
                             else _gated(v, why) for v in verdicts[-2:]]
    else:
        verdicts += [_no_statistic(c, "no records") for c in ("C1.6", "C1.7")]
    verdicts = [_gated(v, f"the control(s) {', '.join(gates[v.claim])} could not register at this design's power")
                if v.claim in gates and v.verdict != "not resolved at this scale" else v for v in verdicts]
    return Report(SLUG, scale, checks, verdicts)


def _no_statistic(claim_id: str, why: str):
    iv = Interval(float("nan"), -math.inf, math.inf, LEVEL, "t", "seed", 0, math.inf, 0)
    claim = (Claim.no_effect(TRANSFER_DELTA, OCTAVES) if claim_id == "C1.6"
             else Claim(-WIDER_GAIN, WIDER_GAIN, "less", NATS))
    v = judge(claim_id, STATEMENTS[claim_id], claim, iv, source=SOURCES[claim_id], criterion=CRITERIA[claim_id])
    return _gated(v, why)


def controls_table(records: list[dict], scale: str, numerics, coords):
    """The controls as a table: control, kind, statistic [interval], criterion, met, mde, anchors."""
    ctl = controls(records, scale, numerics, coords)
    t = control_table([r for r, _, _, _ in ctl])
    t["mde"] = [round(m, 3) for _, m, _, _ in ctl]
    t["anchors"] = [", ".join(a) for _, _, _, a in ctl]
    return t


# The verdicts of the first rule (thresholds on point estimates, a |x_t| ratio for the coordinate check, a parabola's

def rule_change_table(report):
    """Claim | first rule's verdict | verdict now | why (the reason the rules give now)."""
    return pd.DataFrame([{"claim": v.claim, "first rule (cpu records)": OLD_VERDICTS.get(v.claim, "—"),
                          "new verdict": v.verdict, "why": v.reason} for v in report.verdicts])


def glue_values(records: list[dict], scale: str, numerics, opnorms, coords) -> dict[str, float]:
    """The numbers the chapter's prose quotes (glued by the notebook), all from the inputs."""
    st = slope_table(numerics)
    lin = st[st["net"] == "linear"]

    def steepest(case: str, absolute: bool = False) -> float:
        s = lin[lin["case"] == case]["slope"]
        return float(s.abs().max() if absolute else s.max())

    wide = opnorms[opnorms["n"] == opnorms["n"].max()]["ratio"]
    cs = coord_summary(coords).set_index(["parametrization", "site"])
    p = chapter_plan(scale)
    out = {
        "a1_max_abs_slope": float(st[st["case"] == "A1 rule σ_l"]["slope"].abs().max()),
        "const_sigma_slope": steepest("constant σ (GPT-2)"),
        "mup_sgd_max_abs_slope": steepest("μP + SGD", absolute=True),
        "mup_adam_max_abs_slope": steepest("μP + Adam", absolute=True),
        "sp_sgd_slope": steepest("SP + SGD"),
        "sp_adam_slope": steepest("SP + Adam"),
        "opnorm_max_dev": float((wide - 1).abs().max()),
        "opnorm_width": float(opnorms["n"].max()),
        "coord_width_ratio": float(max(p.coord_widths) / min(p.coord_widths)),
        "coord_updates": float(p.coord_steps),
        "coord_sp_logits_init_exp": float(cs.loc[("SP", "logits"), "exponent of |x_0|"]),
        "coord_sp_logits_init_ratio": float((max(p.coord_widths) / min(p.coord_widths))
                                            ** cs.loc[("SP", "logits"), "exponent of |x_0|"]),
        "coord_sp_logits_change_exp": float(cs.loc[("SP", "logits"), "exponent of |x_T − x_0|"]),
        "coord_sp_mlp_change_exp": float(cs.loc[("SP", "mlp"), "exponent of |x_T − x_0|"]),
        "coord_sp_qk_change_exp": float(cs.loc[("SP", "qk"), "exponent of |x_T − x_0|"]),
        "coord_mup_qk_change_exp": float(cs.loc[("μP", "qk"), "exponent of |x_T − x_0|"]),
        "coord_mup_worst_block_exp": float(cs.loc[[("μP", s) for s in ("attention", "mlp", "logits")],
                                                  "exponent of |x_T − x_0|"].abs().max()),
    }
    if records:
        opt = optimum_table(records)
        mu = transfer_interval(records, "mup")
        sp = transfer_interval(records, "sp", "mup")
        out.update({
            "mup_opt_slope": mu.estimate, "mup_opt_slope_lo": mu.lo, "mup_opt_slope_hi": mu.hi,
            "sp_rel_slope": sp.estimate, "sp_rel_slope_lo": sp.lo, "sp_rel_slope_hi": sp.hi,
            "n_seeds": float(loss_table(records)["seed"].nunique()),
            "seed_noise": seed_noise(records), "grid_step": p.grid_step,
            "mup_opt_base": float(opt[(opt["parametrization"] == "mup")]["log2_lr_opt"].iloc[0]),
            "seed_hours": seed_hours(records),
        })
    return out


