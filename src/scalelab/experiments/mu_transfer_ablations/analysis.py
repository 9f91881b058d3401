"""Chapter 2's analysis: validity checks, controls and verdicts on C2.1–C2.11, and the tables and numbers the page
builds from them."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from scalelab.checks import Check, Report, budgets_met, optima_interior, runs_finished
from scalelab.resample import Interval
from scalelab.verdicts import Claim, Control, judge, minimum_detectable_effect

from .claims import (
    BREAK_CLAIMED,
    BREAK_DELTA,
    LEVEL,
    MEASURE,
    MECHANISM_TAUS,
    MECHANISM_WIDTHS,
    MIN_SEEDS,
    MIN_STEPS,
    MIN_WIDTH_RATIO,
    OLD_VERDICTS,
    SETTLE,
    SLUG,
    SOURCES,
    SP_CONTROL_CLAIMED,
    SP_CONTROL_DELTA,
    STATEMENTS,
    TRANSFER_DELTA,
    TRANSFER_RULE,
)
from .design import (
    STAGE2,
    STAGE2_CLAIMS,
    ablations,
    attention_scales,
    baseline_of,
    chapter_plan,
    claim_arms,
    lr_grid,
    plan,
    stage_complete,
)
from .statistic import effect_interval, magnitude_interval
from .tables import decay_timescales, finals, optima, shifts


def _unit_hours(fin, arms: list[str]) -> float:
    """Process-hours of one more seed of these arms (every width and LR), from the records' seconds."""
    d = fin[fin["ablation"].isin(arms)]
    n = d["seed"].nunique()
    return float(d["seconds"].sum()) / max(n, 1) / 3600.0 if len(d) else float("nan")


def mechanism_gate(fin, scale: str, mechanism: str) -> tuple[bool, str, float]:
    """Whether the runs last ≥ MECHANISM_TAUS·τ at ≥ MECHANISM_WIDTHS widths; the reason; the cost of settling it.

    τ is that of the slowest group the mechanism acts on (hidden matrices for decay, the gains for gains). The
    cost: baseline and ablation at the two narrowest widths, run to MECHANISM_TAUS·τ steps, every LR and seed,
    priced at the measured seconds per step of the first stage's runs of those widths.
    """
    p = chapter_plan(scale)
    t = decay_timescales(fin, scale)
    t = t[t["group"] == ("hidden" if mechanism == "decay" else "vector (gains)")].set_index("d_model")
    need = MECHANISM_TAUS * t["tau_steps"]
    ok_widths = [int(w) for w in t.index if p.total_steps >= need.loc[w]]
    active = len(ok_widths) >= MECHANISM_WIDTHS
    narrow = sorted(p.widths)[:MECHANISM_WIDTHS]
    base = fin[(fin["ablation"] == "baseline") & fin["d_model"].isin(narrow)]
    sec_per_step = {w: float(base[base["d_model"] == w]["seconds"].mean()) / p.total_steps for w in narrow}
    n_lr = len(lr_grid(scale, "baseline"))
    cost = sum(2 * n_lr * max(p.seeds, 3) * need.loc[w] * sec_per_step[w] for w in narrow) / 3600.0
    why = ", ".join(f"d{w}: τ = {t.loc[w, 'tau_steps']:.0f} steps = {t.loc[w, 'run_lengths']:.2f} run lengths"
                    for w in t.index)
    reason = (f"mechanism {'active' if active else 'not active'}: runs of {p.total_steps} steps against "
              f"{MECHANISM_TAUS:g}τ ({why}); settling it needs runs of ≥ {MECHANISM_TAUS:g}τ steps at widths "
              f"{', '.join(map(str, narrow))} (baseline and ablation, {n_lr} LRs, {max(p.seeds, 3)} seeds): about "
              f"{cost:.1f} process-hours")
    return active, reason, cost


def _gated(v, why: str):
    """The verdict made "not resolved" by a gate: the claim's interval is replaced by (−∞, ∞), the measured one
    stays in the evidence."""
    return dataclasses.replace(
        v, verdict="not resolved at this scale", outcome="not resolved at this scale",
        interval=(-math.inf, math.inf), se=math.inf, mde=math.inf, units_needed=None,
        sensitivity=math.inf, evidence=v.evidence + f"; gated: {why}",
        reason=f"{why} (measured: {v.reason})")


def controls(fin, scale: str, stage2: bool = False):
    """The positive control (full SP against the baseline) and the negative one (the baseline's own slope), each
    with its interval, whether it met its criterion and whether the design could have seen its effect. With the
    stage 'faithful' complete, the fan-in SP and the clipped baseline of that stage."""
    p = chapter_plan(scale)
    out = []
    present = set(fin["ablation"])
    spec = [
        (Control("full SP against the μP baseline", "positive",
                 Claim(SP_CONTROL_CLAIMED, SP_CONTROL_DELTA, "less", MEASURE),
                 "full SP (constant σ, 1/√d_head, global LR) minus the baseline, per doubling: SP's optimum is "
                 "known to fall with width"), *(("s2_full_sp_fanin", "s2_baseline") if stage2
                                                 else ("full_sp", "baseline"))),
        (Control("the μP baseline transfers", "negative", Claim.no_effect(TRANSFER_DELTA, MEASURE),
                 "the baseline's own slope of log2 η* against log2 width: μP is known to transfer (chapter 1)"),
         "s2_baseline" if stage2 else "baseline", None),
    ]
    for ctl, arm, base in spec:
        if arm not in present or (base and base not in present):
            continue
        iv = effect_interval(fin, arm, base, p.widths)
        res = ctl.evaluate(iv)
        mde = minimum_detectable_effect(iv.se, iv.df, level=iv.level)
        out.append((res, mde, mde <= ctl.expect.target))
    return out


def analyze(records: list[dict], scale: str):
    """Validity checks, controls and verdicts on C2.1–C2.11 from the records (pure and deterministic)."""
    p = chapter_plan(scale)
    checks: list[Check] = []
    fin = finals(records)
    abls = ablations(scale)

    # --- every planned run has a record, finished or diverged; every finished run met its budget
    seed0 = int(fin["seed"].min()) if len(fin) else 0
    checks.append(runs_finished(records, plan(scale, seed=seed0)))
    checks.append(budgets_met(records))
    # --- the optima of the baselines (every width) and of every ablation at the base width lie inside the grid
    opt = optima(fin) if len(fin) else None
    checks.append(optima_interior(
        [] if opt is None else [(f"{r['ablation']}@{r['d_model']}", r["where"] == "interior")
                                for _, r in opt.iterrows()
                                if r["ablation"] in ("baseline", "baseline_nhead") or r["d_model"] == p.base_d_model],
        "baselines at every width; every ablation at the base width"))
    ratio = attention_scales(scale)
    dh = ratio[ratio["layout"] == "fixed d_head"]["ratio"]
    nh = ratio[ratio["layout"] == "fixed n_head"]["ratio"]
    checks.append(Check("attention-scale ablation is width-dependent only with a fixed head count",
                        bool(np.allclose(dh, 1.0) and np.isclose(nh.iloc[0], 1.0) and nh.iloc[-1] > 1.01),
                        f"(1/√d_head)/(calibrated 1/d_head) = {', '.join(f'{x:.2f}' for x in dh)} (fixed d_head), "
                        f"{', '.join(f'{x:.2f}' for x in nh)} (fixed n_head)",
                        "ratio 1 at every width with fixed d_head; 1 at base, > 1 at the widest with fixed n_head"))
    n_seeds = int(opt["n_seeds"].min()) if opt is not None and len(opt) else 0
    checks.append(Check("seeds for an interval", n_seeds >= MIN_SEEDS,
                        f"{n_seeds} seeds per (arm, width) at least: a "
                        f"{'t interval with ' + str(n_seeds - 1) + ' df' if n_seeds < 5 else 'bootstrap'} over seeds",
                        f"≥ {MIN_SEEDS} seeds in every arm (resampled jointly across widths)"))

    # --- controls: a control that misses while the design could have seen its effect makes the chapter invalid;
    # one the design is too small to see (mde > its effect) makes every verdict "not resolved" instead.
    stage2 = scale != "smoke" and stage_complete(records, scale, STAGE2, seed0)
    ctl = controls(fin, scale, stage2) if len(fin) else []
    underpowered = []
    for res, mde, powered in ctl:
        ck = res.to_check()
        ok = res.passed or not powered
        note = "" if res.passed else (f"; missed, but the design cannot see its effect (mde {mde:.3g} > "
                                      f"{res.control.expect.target:.3g}): every verdict is gated to not resolved"
                                      if not powered else f"; missed with mde {mde:.3g}")
        if not res.passed and not powered:
            underpowered.append(res.control.name)
        checks.append(Check(ck.name, ok, ck.value + note, ck.criterion + " (or mde above its effect: gate)"))

    # --- verdicts
    span = max(p.widths) / min(p.widths)
    min_steps = min(p.steps_for(a.batch_mult) for a in abls.values())
    resolvable = span >= MIN_WIDTH_RATIO and min_steps >= MIN_STEPS
    present = set(fin["ablation"]) if len(fin) else set()
    verdicts = []
    for claim, names in sorted(claim_arms(scale).items(), key=lambda kv: int(kv[0].split(".")[1])):
        paper = abls[names[0]].paper
        base = baseline_of(names[0])
        if stage2 and claim in STAGE2_CLAIMS:  # the sources' form of the test, once its stage is recorded
            names, base = [STAGE2_CLAIMS[claim][0]], STAGE2_CLAIMS[claim][1]
        ivs = [(nm, effect_interval(fin, nm, base, p.widths)) for nm in names if nm in present and base in present]
        if paper == "transfers":
            cl = Claim.no_effect(TRANSFER_DELTA, MEASURE)
        else:
            cl = Claim(BREAK_CLAIMED, BREAK_DELTA, "greater", MEASURE)
        if ivs:
            nm, iv = max(ivs, key=lambda t: abs(t[1].estimate) if np.isfinite(t[1].estimate) else np.inf)
            if paper == "breaks":  # judged on |effect|: the image of the signed interval under |·|, same se
                iv = magnitude_interval(iv)
        else:
            nm, iv = names[0], Interval(float("nan"), -math.inf, math.inf, LEVEL, "t", "seed", 0, math.inf, 0)
        cost = _unit_hours(fin, [nm, base])

        v = judge(claim, STATEMENTS[claim], cl, iv, source=SOURCES[claim], criterion=TRANSFER_RULE + f" Paper: "
                  f"{paper}.", cost_per_unit=cost if np.isfinite(cost) else None, cost_label="process-hours")
        extra = f"arm {nm} against {base}" + (f" (the larger |effect| of {', '.join(names)})" if len(names) > 1
                                               else "")
        v = dataclasses.replace(v, evidence=f"{extra}: {v.evidence}")
        if claim == "C2.10" and not stage2:
            v = dataclasses.replace(v, evidence=v.evidence + "; measured with a fixed head count (ratio "
                                    "√(d_head/d_head,base)); Lingle's fixed-d_head test (uncalibrated 1/d_head "
                                    "against 1/√d_head) is the planned stage 'faithful'")
        if not resolvable:
            v = _gated(v, f"below the verdict minimums: widths {span:g}× (≥ {MIN_WIDTH_RATIO}), ≥ {min_steps} "
                          f"steps (≥ {MIN_STEPS})")
        elif claim in ("C2.7", "C2.9"):
            active, why, _ = mechanism_gate(fin, scale, "gains" if claim == "C2.7" else "decay")
            if not active:
                v = _gated(v, why)
            else:
                v = dataclasses.replace(v, evidence=v.evidence + f"; {why}")
        if underpowered and v.verdict != "not resolved at this scale":
            v = _gated(v, f"the control(s) {', '.join(underpowered)} could not register at this design's power")
        verdicts.append(v)
    return Report(SLUG, scale, checks, verdicts)


def verdict_table(records: list[dict], scale: str):
    """The chapter's table: ablation | η* per width | own slope | effect vs baseline [interval] | verdict."""
    p = chapter_plan(scale)
    fin = finals(records)
    sh = shifts(fin, scale)
    ver = {v.claim: v.verdict for v in analyze(records, scale).verdicts}
    out = sh[["label", "claim"]].copy()
    for w in p.widths:
        out[f"η* @ d={w}"] = [f"2^{x:.2f}" if np.isfinite(x) else "—" for x in sh[f"log2_lr*@{w}"]]
    out["own slope (oct/doubling)"] = sh["own_slope"].round(3)
    out["effect vs baseline (oct/doubling)"] = [f"{e:+.3f} [{lo:+.2f}, {hi:+.2f}]" + (" (edge)" if ed else "")
                                                 for e, lo, hi, ed in zip(sh["effect"], sh["effect_lo"],
                                                                           sh["effect_hi"], sh["edge"])]
    out["paper (v1)"] = [x or "—" for x in sh["paper"]]
    out["verdict"] = [ver.get(c, "—") if c else "—" for c in sh["claim"]]
    return out.rename(columns={"label": "ablation"})


def disagreements(records: list[dict], scale: str):
    """The claims whose verdict is not "reproduced": the effect per doubling, its interval, that rate over Lingle's
    16× span (4 doublings; a yardstick, not a prediction), the mde, and what would settle it."""
    rep = analyze(records, scale)
    abls = ablations(scale)
    label = {a.claim: a.label for a in abls.values() if a.claim}
    rows = []
    for v in rep.verdicts:
        if v.verdict == "reproduced":
            continue
        rows.append({"claim": v.claim, "ablation": label.get(v.claim, ""), "verdict": v.verdict,
                     "effect (oct/doubling)": v.statistic, "at 16× (Lingle's span)": 4 * v.statistic,
                     "mde": v.mde, "reason": v.reason, "mechanism": SETTLE[v.claim]})
    return pd.DataFrame(rows, columns=["claim", "ablation", "verdict", "effect (oct/doubling)",
                                       "at 16× (Lingle's span)", "mde", "reason", "mechanism"])


def glue_values(records: list[dict], scale: str) -> dict:
    """Numbers the takeaway quotes, all from the records."""
    fin = finals(records)
    p = chapter_plan(scale)
    rep = analyze(records, scale)
    sh = shifts(fin, scale).set_index("ablation")
    out = {"width_ratio": max(p.widths) / min(p.widths), "n_seeds": int(fin["seed"].nunique())}
    b = sh.loc["baseline"] if "baseline" in sh.index else None
    out["baseline_slope"] = float(b["own_slope"]) if b is not None else float("nan")
    out["baseline_lr_base"] = float(2 ** b[f"log2_lr*@{min(p.widths)}"]) if b is not None else float("nan")
    for key, name in (("sp", "full_sp"), ("lion", "lion_lingle_betas"), ("lion_base_betas", "lion"),
                      ("zero_readout", "zero_readout")):
        r = sh.loc[name] if name in sh.index else None
        for f in ("effect", "effect_lo", "effect_hi"):
            out[f"{key}_{f}"] = float(r[f]) if r is not None else float("nan")
    counts = rep.verdict_counts()
    out.update({"n_reproduced": counts["reproduced"], "n_contradicted": counts["contradicted"],
                "n_not_resolved": counts["not resolved at this scale"]})
    tau = decay_timescales(fin, scale) if "baseline" in sh.index else None
    if tau is not None:
        hid = tau[tau["group"] == "hidden"].set_index("d_model")["run_lengths"]
        emb = tau[tau["group"] == "embedding"].set_index("d_model")["run_lengths"]
        out["tau_hidden_widest"] = float(hid.loc[max(p.widths)])
        out["tau_hidden_base"] = float(hid.loc[min(p.widths)])
        out["tau_embedding_widest"] = float(emb.loc[max(p.widths)])
        out["decay_settle_hours"] = mechanism_gate(fin, scale, "decay")[2]
    sp_ctl = [r for r, _, _ in controls(fin, scale) if r.control.kind == "positive"]
    if sp_ctl:
        iv = sp_ctl[0].interval
        out["sp_control_mde"] = minimum_detectable_effect(iv.se, iv.df, level=iv.level)
    # plain Python numbers: glue formats its text/plain repr, and numpy 2 writes np.float64(…) there
    return {k: float(v) if isinstance(v, (float, np.floating, np.integer)) else v for k, v in out.items()}


def rule_change_table(report):
    """Claim | first rule's verdict | verdict now | why (the reason the rules give now)."""
    return pd.DataFrame([{"claim": v.claim, "first rule (cpu records)": OLD_VERDICTS.get(v.claim, "—"),
                          "new verdict": v.verdict, "why": v.reason} for v in report.verdicts])
