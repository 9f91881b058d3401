"""Chapter 4 (DeepSeek's B_tok and η laws): plan sizes, and analyze() on synthetic records with known answers."""

import math

import numpy as np
import pytest

from scalelab.experiments import deepseek_lr_batch as E
from scalelab.runner import chapter_records
from scalelab.store import RunStore
from scalelab.sweep import MissingRecordsError


@pytest.mark.parametrize("scale", ["cpu", "gpu"])
def test_plan_meets_the_issue_minimums(scale):
    p = E.chapter_plan(scale)
    bs = E.budgets(scale)
    fitted = [b for b in bs if not b.heldout]
    held = bs[-1]
    assert held.heldout and sum(b.heldout for b in bs) == 1
    assert len(fitted) >= 4 and fitted[-1].flops / fitted[0].flops >= 10  # ≥4 budgets over ≥10×
    assert held.flops > max(b.flops for b in fitted)  # held-out is larger than every fitted budget
    for b in fitted:
        assert len(b.batch_exps) >= 5 and len(b.lr_exps) >= 7  # ±2 octaves in B_tok, ±1.5 or more in η per column
        assert max(b.lr_exps) - min(b.lr_exps) >= 3.0 and max(b.all_lr_exps) - min(b.all_lr_exps) >= 4.0
    assert len(held.batch_exps) >= 3 and len(held.lr_exps) >= 5
    specs = E.plan(scale, records=[])
    for s in specs:
        c = s.config
        assert c.schedule == "multistep" and c.model.parametrization == "sp"
        assert c.total_steps >= 100 and 10 * c.warmup_steps < 8 * c.total_steps
        assert c.model.n_layer == p.n_layer and c.tokens_per_step == c.batch_size * p.seq_len
    # ≥3 seeds at each fitted budget's grid centre (the grid's own seed included)
    for b in fitted:
        be, le = b.centre
        n = sum(1 for s in specs if s.config.model.d_model == b.d_model and s.config.tokens_per_step == 2 ** be
                and math.isclose(s.config.lr, 2.0 ** le))
        assert n >= 3
    # fixed budget: steps · B_tok = D up to integer rounding
    by_d = {b.d_model: b for b in bs}
    for s in specs:
        b = by_d[s.config.model.d_model]
        assert abs(s.config.num_tokens / b.num_tokens - 1) <= E.BUDGET_TOL


def test_cpu_plan_fits_the_budget():
    est = E.plan_summary("cpu")["est_hours"].iloc[-1]  # no records: the held-out grid estimated a priori
    assert 1.0 < est <= 4.0  # the chapter's cap: 4 h on 2 cores (issue 9)


def test_planning_reads_no_store():
    # the committed cpu store holds the whole first stage, yet without records only the fitted stage is planned
    first = [s.config_key for s in E.fitted_plan("cpu")]
    assert [s.config_key for s in E.plan("cpu")] == first
    assert [s.config_key for s in E.stage_plans("cpu")["base"]] == first
    assert E.heldout_plan("cpu") == [] and E.heldout_plan("cpu", records=[]) == []
    # the ridge grids are placed a priori without records, on the first stage's laws with them (a batch optimum
    # that does not grow with C moves the larger budgets' centres off the a-priori ones)
    recs = _records("cpu", 0.0, -0.125)
    assert E.ridge_centres("cpu") == E.ridge_centres("cpu", records=[])
    assert E.ridge_centres("cpu", records=recs) != E.ridge_centres("cpu")
    held = E.heldout_plan("cpu", records=recs)
    assert held and [s.config_key for s in E.plan("cpu", records=recs)] == first + [s.config_key for s in held]


def test_smoke_plan_is_small():
    first = E.fitted_plan("smoke")
    specs = E.plan("smoke", records=_records("smoke", 0.3, -0.1))
    assert len(specs) > len(first)  # the held-out stage is placed
    assert len(specs) <= 30 and all(s.config.total_steps <= 120 for s in specs)


def test_unknown_scale_names_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        E.plan("huge")
    with pytest.raises(ValueError, match="smoke"):
        E.analyze([], "tiny")


def test_band_and_laws_match_published():
    assert E.BAND == E.published_band()
    # the grid centre is DeepSeek's law at C plus the stated offsets, rounded to the grid (at least one
    # sequence below the smallest batch)
    p = E.chapter_plan("cpu")
    for b in E.budgets("cpu"):
        side = p.heldout_batch_side if b.heldout else p.batch_side
        want_b = max(round(math.log2(float(E.deepseek_batch(b.flops))) + p.batch_offset),
                     math.log2(p.seq_len) + side)
        assert b.centre[0] == want_b
        assert abs(b.centre[1] - math.log2(float(E.deepseek_eta(b.flops))) - p.lr_offset) <= p.lr_step / 2


def test_diagonal_grid_moves_eta_with_the_batch():
    b = E.budgets("cpu")[0]
    lo, hi = b.lr_exps_at(b.batch_exps[0]), b.lr_exps_at(b.batch_exps[-1])
    assert np.allclose(np.array(hi) - np.array(lo), b.lr_slope * (b.batch_exps[-1] - b.batch_exps[0]))
    assert len(b.nodes) == len(b.batch_exps) * len(b.lr_exps)


def test_measures_differ_at_small_scale():
    t = E.measure_table("cpu")
    assert (t["6N1/M"] < 0.9).all()  # attention is a large share of M at small d
    assert np.all(np.diff(t["6N1/M"]) > 0)  # and a shrinking one as d grows
    # at cpu, 6·V = 12·n_layer·seq_len (256·6 = 12·2·64): 6N₂ equals M exactly, so C4.5 compares M with 6N₁
    assert np.allclose(t["6N2/M"], 1.0)


# ---------------------------------------------------------------------- synthetic records

def _records(scale, p_b, p_eta, *, curv=0.004, noise=1e-4, shift_eta=0.0, diverge_above=None):
    """Records whose loss is a bowl in (log2 B_tok, log2 η) around known laws B* = B_DS(C0)·(C/C0)^p_b etc.

    loss = 2 − 0.02·log2(C/C0) + curv·[(log2 B − log2 B*)² + (log2 η − log2 η*)²] (nats), times (1 + noise·z_seed).
    """
    bs = {b.d_model: b for b in E.budgets(scale)}
    p = E.chapter_plan(scale)
    C0 = min(b.flops for b in bs.values())
    # the bowl sits where the plan expects it: DeepSeek's laws plus the plan's offsets
    lb0 = math.log2(float(E.deepseek_batch(C0))) + p.batch_offset
    le0 = math.log2(float(E.deepseek_eta(C0))) + p.lr_offset
    recs = []

    def loss_of(s):
        c = s.config
        b = bs[c.model.d_model]
        x = math.log2(b.flops / C0)
        lb, le = lb0 + p_b * x, le0 + p_eta * x + shift_eta
        # the floor falls with compute (the positive control), the bowl sits on the laws
        loss = 2.0 - 0.02 * x + curv * ((math.log2(c.tokens_per_step) - lb) ** 2 + (math.log2(c.lr) - le) ** 2)
        z = [0.0, 1.0, -1.0, 0.5, -0.5][c.seed % 5]
        loss *= 1.0 + noise * z
        status = "finished"
        if diverge_above is not None and c.lr > diverge_above:
            status, loss = "diverged", None
        recs.append({"key": s.config_key, "config_key": s.config_key, "experiment": s.experiment,
                     "version": s.version, "config": c.to_dict(),
                     "result": {"status": status, "final_eval_loss": loss, "steps": c.total_steps}})

    for s in E.fitted_plan(scale):  # first stage, then the held-out grid placed on its fit
        loss_of(s)
    for s in E.plan(scale, records=list(recs))[len(recs):]:
        loss_of(s)
    return recs


def _v(rep):
    return {v.claim: v.verdict for v in rep.verdicts}


def test_analyze_recovers_deepseek_like_laws():
    recs = _records("cpu", 0.3271, -0.125)
    rep = E.analyze(recs, "cpu")
    assert rep.all_valid, rep.failed_checks()
    v = _v(rep)
    assert v["C4.2"] == "reproduced" and v["C4.3"] == "reproduced"
    assert v["C4.4"] == "reproduced"  # the laws find the held-out optimum; the naive rule does not
    assert v["C4.1"] == "reproduced"  # a flat bowl: the 0.25% contour spans ~2.2 octaves
    laws = E.surface_laws(E.surface_table(E.grid_table(recs, "cpu"), "cpu"), "cpu")
    # the surface vertex recovers the bowl's centre exactly (noise 1e-4): the exponents to 0.01
    assert abs(laws["batch"].p - 0.3271) < 0.01 and abs(laws["eta"].p + 0.125) < 0.01
    assert laws["batch"].interval.unit == "budget" and laws["batch"].interval.n_units == 4
    for vd in rep.verdicts:  # every verdict is data made by scalelab.verdicts
        assert vd.kind in ("statistical", "arithmetic") and vd.reason
        if vd.kind == "statistical":
            assert vd.mde is not None and vd.interval is not None and vd.sensitivity is not None


def test_verdicts_flip_when_the_laws_go_the_other_way():
    # η* grows with C: the LR law is contradicted (on the gpu plan's wider, rectangular grid: the cpu grid follows
    # the laws and would lose a reversed optimum over its edge)
    v = _v(E.analyze(_records("gpu", 0.3271, 0.15), "gpu"))
    assert v["C4.3"] == "contradicted" and v["C4.2"] == "reproduced"
    # at cpu: a batch optimum that does not grow with C, inside every grid
    rep = E.analyze(_records("cpu", 0.0, 0.05), "cpu")
    assert rep.all_valid and _v(rep)["C4.2"] == "contradicted"


def test_sharp_landscape_contradicts_a_wide_band():
    # a steep bowl: the 0.25% contour spans 0.3 octave along each axis
    v = _v(E.analyze(_records("cpu", 0.3271, -0.125, curv=0.2), "cpu"))
    assert v["C4.1"] == "contradicted"


def test_noisy_optima_leave_the_laws_unresolved():
    # seed noise of 1% scatters the surface vertices: the slope SE misses its target and nothing is contradicted
    rep = E.analyze(_records("cpu", 0.3271, -0.125, noise=0.01), "cpu")
    v = {x.claim: x for x in rep.verdicts}
    assert v["C4.2"].verdict != "contradicted" or v["C4.2"].mde <= 0.3271
    assert all(x.verdict != "contradicted" or x.kind == "arithmetic" or x.mde <= abs(x.claimed) or x.claimed == 0
               for x in rep.verdicts)


def test_loss_control_fails_when_bigger_budgets_do_worse():
    recs = _records("cpu", 0.3271, -0.125)
    for r in recs:  # losses that grow with width: the positive control must fail and the chapter be invalid
        d = r["config"]["model"]["d_model"]
        if r["result"]["final_eval_loss"] is not None:
            r["result"]["final_eval_loss"] += 0.01 * d
    rep = E.analyze(recs, "cpu")
    assert "positive control: loss falls with compute" in {c.name for c in rep.failed_checks()}


def test_optimum_on_the_grid_edge_fails_validity():
    # η* three octaves below DeepSeek's: the best η falls on the grid's lower edge
    rep = E.analyze(_records("cpu", 0.3271, -0.125, shift_eta=-4.0), "cpu")
    failed = {c.name for c in rep.failed_checks()}
    assert "LR optima interior (η, in the best B_tok column, every fitted budget)" in failed


def test_missing_runs_fail_validity():
    recs = _records("cpu", 0.3271, -0.125)
    rep = E.analyze(recs[:-3], "cpu")
    assert "runs finished or recorded as diverged" in {c.name for c in rep.failed_checks()}


def test_records_only_on_an_empty_store_names_the_command(tmp_path):
    with pytest.raises(MissingRecordsError, match="make chapter NB=04 SCALE=cpu"):
        chapter_records(E, "cpu", records_only=True, store=RunStore(tmp_path / "x.jsonl"))


def test_heldout_grid_waits_for_the_first_stage_and_centres_on_the_prediction():
    recs = _records("cpu", 0.3271, -0.125)
    first = E.fitted_plan("cpu")
    n_first = len(first)
    # with a first-stage record missing there is no held-out grid yet
    partial = [r for r in recs if r["config_key"] != first[0].config_key]
    assert len(E.plan("cpu", records=partial)) == n_first and E.heldout_budget("cpu", partial) is None
    # complete: the held-out grid is centred on the fitted laws' prediction, rounded to the grid
    hb = E.heldout_budget("cpu", recs)
    assert hb is not None and hb.predicted and hb.heldout
    grid = E.grid_table(recs, "cpu")
    fitted = grid[grid["experiment"].isin([E.EXP_GRID, E.EXP_NOISE])]
    band = E.effective_band(E.pooled_rel_sd(E.noise_table(fitted), fitted))
    fit = E.near_optimal_fit_table(fitted, "cpu", band=band)
    p = E.chapter_plan("cpu")
    assert hb.centre[0] == round(math.log2(float(fit.batch_opt(hb.flops))))
    assert abs(hb.centre[1] - math.log2(float(fit.eta_opt(hb.flops)))) <= p.lr_step / 2
    # the held-out runs never enter the placement: changing their losses leaves the centre where it was
    # (they may only extend the grid by a column, see the next test)
    held = [dict(r, result={**r["result"], "final_eval_loss": 9.0}) if r["experiment"] == E.EXP_HELDOUT else r
            for r in recs]
    hb2 = E.heldout_budget("cpu", held)
    assert hb2.centre == hb.centre and hb2.lr_exps == hb.lr_exps and set(hb.batch_exps) <= set(hb2.batch_exps)


def _held_loss(recs, fn):
    out = []
    for r in recs:
        if r["experiment"] == E.EXP_HELDOUT:
            c = r["config"]
            be = math.log2(int(c["batch_size"]) * int(c["model"]["seq_len"]))
            r = dict(r, result={**r["result"], "final_eval_loss": fn(be, math.log2(c["lr"]))})
        out.append(r)
    return out


def test_heldout_grid_gains_a_column_when_its_best_sits_in_an_end_column():
    recs = _records("cpu", 0.3271, -0.125)
    hb = E.heldout_budget("cpu", recs)
    assert hb.extended == 0  # the bowl's optimum is where the laws put it: interior, no extension
    pred = E.heldout_comparison(E.surface_table(E.grid_table(recs, "cpu"), "cpu"))["pred"]
    # the held-out loss falls with the batch: the best is in the top column, so one more column is added above
    falling = _held_loss(recs, lambda be, le: 3.0 - 0.01 * be)
    ext = E.heldout_budget("cpu", falling)
    assert ext.extended == 1 and ext.batch_exps == (*hb.batch_exps, max(hb.batch_exps) + 1)
    assert ext.centre == hb.centre  # the prediction and the grid centre do not move
    new = [s for s in E.plan("cpu", records=falling) if s.config_key not in {r["config_key"] for r in falling}]
    assert len(new) == len(hb.lr_exps) and all(s.config.tokens_per_step == 2 ** ext.batch_exps[-1] for s in new)
    # the new column's runs land (worse): the best is now interior and nothing more is added
    landed = falling + [{"key": s.config_key, "config_key": s.config_key, "experiment": s.experiment,
                         "version": s.version, "config": s.config.to_dict(),
                         "result": {"status": "finished", "final_eval_loss": 4.0, "steps": s.config.total_steps}}
                        for s in new]
    assert E.heldout_budget("cpu", landed) == ext
    assert E.interior_table(E.grid_table(landed, "cpu"), "cpu").iloc[-1]["batch_interior"]
    # better still in the new column: the cap (HELDOUT_EXTEND = 1) stops a second extension
    better = _held_loss(landed, lambda be, le: 3.0 - 0.01 * be)
    assert E.heldout_budget("cpu", better).extended == E.HELDOUT_EXTEND == 1
    # the prediction is the same whatever the held-out losses
    got = E.heldout_comparison(E.surface_table(E.grid_table(better, "cpu"), "cpu"))["pred"]
    assert got == pred


def test_glue_values_come_from_the_records():
    recs = _records("cpu", 0.3271, -0.125)
    g = E.glue_values(recs, "cpu")
    laws = E.surface_laws(E.surface_table(E.grid_table(recs, "cpu"), "cpu"), "cpu")
    assert g["p_B"] == laws["batch"].p and g["p_eta"] == laws["eta"].p and g["band"] == E.BAND
    assert all(isinstance(v, float) for v in g.values())
    assert {"excess_laws", "node_excess_naive", "ridge_runs", "sp_width_p_eta"} <= set(g)


def test_c45_is_arithmetic_at_shapes_where_the_measures_differ():
    rep = E.analyze(_records("cpu", 0.3271, -0.125), "cpu")
    v = next(v for v in rep.verdicts if v.claim == "C4.5")
    assert v.kind == "arithmetic" and v.mde is None and "6N₂ ≡ M" in v.evidence
    t = E.measure_comparison("cpu")
    bpe = t[t["shape"].str.startswith("BPE")]
    assert (abs(bpe["6N2/M"] - 1) > 0.1).all()  # with a BPE vocabulary 6N₂ and M differ


def test_versus_deepseek_reads_the_offset_and_its_drift():
    # laws with DeepSeek's exponents: the best config sits at the plan's offsets from the published laws at
    # every budget (up to grid rounding), so the offset neither drifts nor strays from the plan's
    p = E.chapter_plan("cpu")
    v = E.versus_deepseek(E.surface_table(E.grid_table(_records("cpu", 0.3271, -0.125), "cpu"), "cpu"))
    f = v[v["budget"] == "fitted"]
    assert len(f) == len(p.widths) and (v["budget"] == "held-out").sum() == 1
    # the surface vertex is the bowl's centre, which sits at the offsets exactly (no grid rounding)
    assert (abs(f["B_octaves"] - p.batch_offset) <= 0.01).all()
    assert (abs(f["eta_octaves"] - p.lr_offset) <= 0.01).all()
    # a steeper LR law than DeepSeek's makes the η offset fall across budgets
    v2 = E.versus_deepseek(E.surface_table(E.grid_table(_records("cpu", 0.3271, -0.3), "cpu"), "cpu"))
    f2 = v2[v2["budget"] == "fitted"]
    assert f2["eta_octaves"].iloc[-1] < f2["eta_octaves"].iloc[0] - 0.5


def test_width_exponent_follows_the_budget_rule():
    # C = M·20·N₁ with N₁ ∝ d² and M between d and d²: d grows as C^s with 1/4 ≤ s ≤ 1/3
    for scale in ("cpu", "gpu"):
        assert 0.25 <= E.width_exponent(scale) <= 1 / 3


def test_ridge_stage_meets_issue_21():
    rp = E.ridge_plan_of("cpu")
    specs = E.ridge_plan("cpu", records=[])
    s = E.ridge_summary("cpu", records=[])
    fitted = s[s["budget"] == "fitted"]
    assert len(fitted) >= E.MIN_RIDGE_BUDGETS and fitted["C / C_min"].max() >= E.MIN_RIDGE_SPAN
    held = s[s["budget"] == "held-out"]["C=M·D"].iloc[0]
    assert held >= E.HELDOUT_MIN_RATIO * fitted["C=M·D"].max()
    assert {16, 20, 28, 40, 56} <= set(rp.widths) and {24, 32, 48, 64} <= set(rp.widths)
    p = E.chapter_plan("cpu")
    for sp in specs:  # the shape is fixed except width
        m = sp.config.model
        assert (m.n_layer, m.seq_len, m.n_head, m.init_std) == (p.n_layer, p.seq_len, p.n_head, p.init_std)
    # every cell at ≥2 seeds; B_tok columns about half an octave apart
    for d in rp.widths:
        mine = [sp for sp in specs if sp.config.model.d_model == d]
        cells = {}
        for sp in mine:
            cells.setdefault((sp.config.batch_size, sp.config.lr), set()).add(sp.config.seed)
        assert all(len(v) >= 2 for v in cells.values())
        cols = np.log2(sorted({b for b, _ in cells}))
        steps = np.diff(cols)[1:] if cols[0] == 0 else np.diff(cols)  # from one sequence the next is two
        assert len(cols) == 2 * rp.batch_side + 1 and (steps <= 0.6).all() and (steps >= 0.4).all()
    # the first stage keeps its keys: the ridge stage adds runs under its own experiment names
    base = {sp.config_key for sp in E.plan("cpu", records=[])}
    assert not base & {sp.config_key for sp in specs}
    assert set(E.stage_plans("cpu")) == {"base", "ridge"} and "ridge" not in E.stage_plans("gpu")


def test_ridge_stage_is_analysed_once_complete():
    recs = _records("smoke", 0.3, -0.1)
    assert not E.stage_complete(recs, "smoke", "ridge")
    rep = E.analyze(recs, "smoke")
    assert all("first stage" in v.evidence for v in rep.verdicts if v.claim in ("C4.2", "C4.3"))
    extra = []
    for sp in E.ridge_plan("smoke", records=recs):
        c = sp.config
        loss = 3.0 + 0.01 * (math.log2(c.tokens_per_step) - 7) ** 2 + 0.01 * (math.log2(c.lr) + 8) ** 2
        extra.append({"key": sp.config_key, "config_key": sp.config_key, "experiment": sp.experiment,
                      "version": sp.version, "config": c.to_dict(),
                      "result": {"status": "finished", "final_eval_loss": loss, "steps": c.total_steps}})
    assert E.stage_complete(recs + extra, "smoke", "ridge")
    rep = E.analyze(recs + extra, "smoke")
    assert all("stage ridge" in v.evidence for v in rep.verdicts if v.claim in ("C4.2", "C4.3"))


def test_ridge_records_stay_out_of_the_first_stage_grid():
    """The ridge stage trains the same widths: its records must not enter the first stage's grid table (and so
    its fits and checks) once the stage lands."""
    from scalelab.experiments import deepseek_lr_batch as ch

    rec = {"experiment": ch.EXP_GRID, "version": ch.VERSION,
           "config": ch.fitted_plan("cpu")[0].config.to_dict(),
           "result": {"status": "finished", "final_eval_loss": 2.0}}
    assert len(ch.grid_table([rec], "cpu")) == 1
    assert ch.grid_table([{**rec, "experiment": ch.EXP_RIDGE}], "cpu").empty
