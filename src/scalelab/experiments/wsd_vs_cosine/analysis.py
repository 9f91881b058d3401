"""Chapter 3's analysis: the controls, the validity checks and the verdicts on C3.1–C3.7, the tables the page
shows beside them, and the numbers it glues into its prose."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from scalelab.checks import Check, Report, branches_reuse_checkpoints, budgets_met, optima_interior, runs_finished
from scalelab.experiments.wsd_vs_cosine.claims import (
    CONTROL_MIN_GAIN,
    CONTROL_SCALES,
    CONTROL_SHAPE,
    COOLDOWN_RATIO,
    CRITERIA,
    DEFAULT_FRAC,
    DEFAULT_SHAPE,
    GAP_CLAIMED,
    GAP_DELTA,
    HALF_CLAIMED,
    HALF_DELTA,
    LEDGER_RTOL,
    LEVEL,
    MATCH_DELTA,
    RULE,
    RULE_CHANGES,
    SLUG,
    SOURCES,
    STATEMENTS,
)
from scalelab.experiments.wsd_vs_cosine.cost import ledger, ledger_totals, unit_costs
from scalelab.experiments.wsd_vs_cosine.design import (
    _is_control_record,
    _seed0,
    _stage_of,
    analysed_records,
    chapter_plan,
    controls_progress,
    plan,
)
from scalelab.experiments.wsd_vs_cosine.intervals import (
    _no_interval,
    best_of_interval,
    paired_interval,
    seed_interval,
)
from scalelab.experiments.wsd_vs_cosine.tables import (
    _select,
    _vkey,
    cooldown_drops,
    finals,
    near_optimal,
    optima,
    pick,
    replica_records,
    replica_reproducibility,
    replicated_budgets,
    seed_spread,
    trunk_cells,
)
from scalelab.resample import mean_interval
from scalelab.verdicts import Claim, Control, arithmetic, judge


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

    A later stage enters only once complete (:func:`analysed_records`): with 'controls' C3.1b is judged too,
    with 'exp_cooldown' the exponential cooldown joins the shapes.
    """
    p = chapter_plan(scale)
    records = analysed_records(records, scale)
    have_c0 = any(_stage_of(r) == "controls" for r in records)
    have_exp = any(_stage_of(r) == "exp_cooldown" for r in records)
    checks: list[Check] = []
    fin = finals(records)
    opt = optima(fin) if len(fin) else None

    # --- records present and finished; budgets met; branches reuse their checkpoint (scalelab.checks)
    roots = [s for s in plan(scale, seed=_seed0(records)) if s.config.init_from is None]
    checks.append(runs_finished(records, roots, planned_label="planned cosine/stable runs"))
    checks.append(budgets_met(records))
    checks.append(branches_reuse_checkpoints(records))

    # --- LR optima interior
    main = [("cosine", None, None), ("constant", None, None), ("wsd", DEFAULT_FRAC, DEFAULT_SHAPE),
            ("multistep", None, None)] + ([("cosine_to_zero", None, None)] if have_c0 else [])
    items = []
    if opt is not None and len(opt):
        for prot, f, s in main:
            d = pick(opt, prot, f, s)
            items += [(f"{prot}{'' if s is None else ' ' + s}@{b}", bool(row["interior"])) for b, row in d.iterrows()]
    if have_exp:  # both shapes on the replica trunks
        ropt = optima(finals(replica_records(records)))
        for s in (DEFAULT_SHAPE, CONTROL_SHAPE):
            d = pick(ropt, "wsd", DEFAULT_FRAC, s)
            items += [(f"replica wsd {s}@{b}", bool(row["interior"])) for b, row in d.iterrows()]
    checks.append(optima_interior(items, "cosine, constant, WSD 20% 1−√, multi-step"
                                  + (", and the controls" if have_c0 or have_exp else "")))

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
    if have_c0:
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
    now = {v.claim: v.verdict for v in report.verdicts}
    rows = []
    for claim, (old, why) in RULE_CHANGES.items():
        new = "; ".join(f"{c}: {v}" for c, v in now.items() if c == claim or c.startswith(claim) and
                        c[len(claim):].isalpha())
        rows.append({"claim": claim, "old verdict": old, "new verdict": new or "—", "why": why})
    return pd.DataFrame(rows, columns=["claim", "old verdict", "new verdict", "why"])


def shape_table(records: list[dict], scale: str):
    """Each 20% cooldown shape against 1−√ (shape minus 1−√, nats), paired by trunk at the near-optimal LRs,
    with its interval; MiniCPM's ``exp`` once the 'exp_cooldown' stage is recorded, paired on its replica trunks
    (both shapes branched from one replica)."""
    recs = analysed_records(records, scale)
    fin = finals(recs)
    cols = ["shape", "minus 1−√ (nats)", "interval", "unit", "trunks"]
    if fin.empty:
        return pd.DataFrame(columns=cols)
    opt = optima(fin)
    cells = near_optimal(trunk_cells(recs, scale), opt, scale)
    rows = []
    ref = _vkey(DEFAULT_FRAC, DEFAULT_SHAPE)
    for shape in chapter_plan(scale).shapes:
        k = _vkey(DEFAULT_FRAC, shape)
        if shape == DEFAULT_SHAPE or k not in cells:
            continue
        iv = paired_interval(cells, k, ref)
        rows.append({"shape": shape, "minus 1−√ (nats)": iv.estimate, "interval": f"[{iv.lo:+.4f}, {iv.hi:+.4f}]",
                     "unit": f"{iv.method}, {iv.unit}s", "trunks": iv.n_units})
    rep = replica_records(recs)
    if rep:
        rcells = near_optimal(trunk_cells(rep, scale), opt, scale)  # near-optimal by the first stage's optima
        k = _vkey(DEFAULT_FRAC, CONTROL_SHAPE)
        if k in rcells and ref in rcells:
            iv = paired_interval(rcells, k, ref)
            rows.append({"shape": f"{CONTROL_SHAPE} (replica trunks)", "minus 1−√ (nats)": iv.estimate,
                         "interval": f"[{iv.lo:+.4f}, {iv.hi:+.4f}]", "unit": f"{iv.method}, {iv.unit}s",
                         "trunks": iv.n_units})
    return pd.DataFrame(rows, columns=cols)


def control_changes(records: list[dict], scale: str):
    """What the later stages change, per budget (tuned losses, nats; empty until one is recorded):
    WSD − cosine to 10% (C3.1's reference until now) beside WSD − cosine to 0, and the exponential
    cooldown beside 1−√ on the replica trunks (NaN until that stage is recorded)."""
    cols = ["budget", "WSD − cos→10%", "WSD − cos→0", "cos→0 − cos→10%", "exp − 1−√"]
    recs = analysed_records(records, scale)
    if not any(_is_control_record(r) for r in recs):
        return pd.DataFrame(columns=cols)
    opt = optima(finals(recs))
    w, c10, c0 = (pick(opt, "wsd", DEFAULT_FRAC, DEFAULT_SHAPE), pick(opt, "cosine"), pick(opt, "cosine_to_zero"))
    rep = replica_records(recs)  # the exponential cooldown and its 1−√ reference, on the replica trunks
    ropt = optima(finals(rep)) if rep else None
    rw = pick(ropt, "wsd", DEFAULT_FRAC, DEFAULT_SHAPE) if ropt is not None else w.iloc[0:0]
    ex = pick(ropt, "wsd", DEFAULT_FRAC, CONTROL_SHAPE) if ropt is not None else w.iloc[0:0]
    rows = []
    for b in w.index:
        g = {k: (d.loc[b, "loss_at_opt"] if b in d.index else float("nan"))
             for k, d in (("w", w), ("c10", c10), ("c0", c0), ("ex", ex), ("rw", rw))}
        rows.append({"budget": int(b), "WSD − cos→10%": g["w"] - g["c10"], "WSD − cos→0": g["w"] - g["c0"],
                     "cos→0 − cos→10%": g["c0"] - g["c10"], "exp − 1−√": g["ex"] - g["rw"]})
    return pd.DataFrame(rows, columns=cols)


def glue_values(records: list[dict], scale: str) -> dict:
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
    done, planned = controls_progress(records, scale, "controls")
    out.update({"controls_recorded": done, "controls_planned": planned,
                "controls_complete": float(any(_stage_of(r) == "controls" for r in recs))})
    rr = replica_reproducibility(recs)
    out["replica_max_abs"] = float(rr["replica − committed"].abs().max()) if len(rr) else float("nan")
    out["replica_lrs"] = int(rr["log2_lr"].nunique()) if len(rr) else 0
    done, planned = controls_progress(records, scale, "exp_cooldown")
    out.update({"exp_recorded": done, "exp_planned": planned,
                "exp_complete": float(any(_stage_of(r) == "exp_cooldown" for r in recs))})
    ch = control_changes(records, scale)
    for col, name in (("WSD − cos→0", "gap_cos0"), ("WSD − cos→10%", "gap_cos10"), ("exp − 1−√", "gap_exp")):
        out[f"{name}_bmax"] = float(ch.set_index("budget")[col].get(bmax, float("nan"))) if len(ch) else float("nan")
    return out
