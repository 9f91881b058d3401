"""Chapter 2 (μ-transfer ablations): plan sizes, criteria applied to synthetic records, records-only mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalelab.experiments import mu_transfer_ablations as ch
from scalelab.runner import chapter_records
from scalelab.schedules import lr_multipliers
from scalelab.store import RunStore
from scalelab.sweep import MissingRecordsError


def test_bad_scale_names_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        ch.plan("tpu")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        chapter_records(ch, "huge", records_only=True)


@pytest.mark.parametrize("scale", ["cpu", "gpu"])
def test_plan_meets_the_issue_minimums(scale):
    p = ch.chapter_plan(scale)
    specs = ch.plan(scale)
    assert len(p.widths) >= 3 and max(p.widths) / min(p.widths) >= 4
    assert p.seeds >= 2 and len(p.lr_exponents) >= 6 and p.grid_step == 1.0  # powers of 2
    assert min(s.config.total_steps for s in specs) >= 300
    names = {s.experiment for s in specs}
    # every ablation of the issue appears at cpu and gpu
    assert set(ch.ABLATIONS) <= names and any(n.startswith("wd_independent") for n in names)
    per = len(p.widths) * p.seeds
    for name in names:
        assert sum(s.experiment == name for s in specs) == per * len(ch.lr_grid(scale, name))
    if scale == "gpu":
        assert (min(p.widths), max(p.widths)) == (128, 2048)  # Lingle's width range


def test_cpu_plan_cost_fits_the_budget():
    total = ch.plan_summary("cpu").iloc[-1]
    assert total["ablation"] == "total" and total["est_hours"] <= 4.0  # ≤ 4 h on 2 cores (issue 7)


def test_smoke_is_small():
    assert len(ch.plan("smoke")) <= 40


def test_baseline_schedule_is_warmup_then_linear_decay_to_zero():
    cfg = ch.baseline_config("cpu", 64, 2.0 ** -6, 0)
    m = lr_multipliers(cfg.schedule_config, np.arange(cfg.total_steps))
    w = cfg.warmup_steps
    assert m[w - 1] == pytest.approx(1.0) and m[-1] == pytest.approx(0.0)
    d = np.diff(m[w - 1:])
    assert np.allclose(d, d[0]) and d[0] < 0  # one straight line from the peak to zero


def test_ablations_are_config_deltas():
    base = ch.baseline_config("cpu", 64, 2.0 ** -6, 0)
    specs = {s.experiment: s.config for s in ch.plan("cpu") if s.config.model.d_model == 64
             and s.config.seed == 0 and s.config.lr == 2.0 ** -6}
    assert specs["baseline"] == base
    # Lion's grid (2^-11 … 2^-5) contains 2^-6: both Lion rows differ from the baseline by optimizer (and β) only
    assert specs["lion"] == base.replace(optimizer="lion")
    assert specs["lion_lingle_betas"] == base.replace(optimizer="lion", betas=(0.95, 0.98))
    assert specs["rmsnorm_gains"] == base.replace(norm_gain=True)
    assert specs["wd_torch"] == base.replace(weight_decay=0.1, wd_mode="torch")
    assert specs["full_sp"].model.parametrization == "sp"
    assert specs["batch_x4"].batch_size == 4 * base.batch_size
    assert specs["batch_x4"].total_steps == base.total_steps  # cpu holds steps fixed
    gpu = {s.experiment: s.config for s in ch.plan("gpu")}
    assert gpu["batch_x4"].num_tokens == gpu["baseline"].num_tokens  # gpu holds tokens fixed, as Lingle


def test_attention_ablation_is_degenerate_with_fixed_head_size():
    t = ch.attention_scales("cpu")
    assert np.allclose(t[t["layout"] == "fixed d_head"]["ratio"], 1.0)
    nh = t[t["layout"] == "fixed n_head"]["ratio"].to_numpy()
    assert nh[0] == pytest.approx(1.0) and nh[-1] == pytest.approx(2.0)  # √(32/8) at cpu


def test_stage_plans_keep_the_first_stage_and_add_the_sources_controls():
    st = ch.stage_plans("cpu")
    assert [sp.config_key for sp in st["base"]] == [sp.config_key for sp in ch.plan("cpu")]
    faithful = st[ch.STAGE2]
    assert all(sp.config.grad_clip == ch.GRAD_CLIP for sp in faithful)  # Lingle v1 clips at 1.0
    assert {sp.config.seed for sp in faithful} == {0, 1, 2}
    grid = ch.stage2_grid("cpu", "s2_baseline")
    assert -5.5 in grid and -4.5 in grid and -6.0 in grid  # half-octave points beside the integer grid
    sp = next(s.config for s in faithful if s.experiment == "s2_full_sp_fanin" and s.config.model.d_model == 128)
    assert sp.model.sp_init == "fan_in" and sp.model.parametrization == "sp"
    unc = next(s.config for s in faithful if s.experiment == "s2_attn_uncalibrated")
    assert unc.model.attn_scale == "inv_d_uncalibrated" and unc.model.d_head is not None
    long = st["long_horizon"]
    assert {s.config.total_steps for s in long} == set(ch.LONG_HORIZON_STEPS["cpu"].values())
    assert not (set(s.config_key for s in faithful) & set(s.config_key for s in st["base"]))


def test_timescales_use_the_group_lr():
    recs = _synthetic("cpu", {})
    t = ch.decay_timescales(ch.finals(recs), "cpu").set_index(["d_model", "group"])
    # optimum at 2^-6 everywhere: hidden τ = m/(η λ), embedding τ = 1/(η λ)
    assert t.loc[(128, "hidden"), "tau_steps"] == pytest.approx(4 * 2 ** 6 / ch.WD_TORCH, rel=0.02)
    assert t.loc[(128, "embedding"), "tau_steps"] == pytest.approx(2 ** 6 / ch.WD_TORCH, rel=0.02)
    active, why, cost = ch.mechanism_gate(ch.finals(recs), "cpu", "decay")
    assert not active and "not active" in why and cost > 0


def _synthetic(scale: str, centres: dict[str, dict[int, float]], noise: float = 0.002) -> list[dict]:
    """Records with loss = 0.05·(log2 η − c)² + 2 + seeded noise; c per (ablation, width), default −6."""
    rng = np.random.default_rng(0)
    recs = []
    for s in ch.plan(scale):
        c = s.config
        centre = centres.get(s.experiment, {}).get(c.model.d_model, -6.0)
        e = math.log2(c.lr)
        loss = 0.05 * (e - centre) ** 2 + 2.0 + noise * rng.standard_normal()
        recs.append({"key": s.config_key, "config_key": s.config_key, "experiment": s.experiment, "version": 1,
                     "config": c.to_dict(), "meta": {"seconds": 10.0},
                     "result": {"status": "finished", "final_eval_loss": loss, "steps": c.total_steps,
                                "tokens": c.num_tokens}})
    return recs


def _verdicts(report):
    return {v.claim: v.verdict for v in report.verdicts}


def test_analyze_judges_effects_against_the_baseline_with_seeds_as_the_unit():
    p = ch.chapter_plan("cpu")
    lo, mid, hi = p.widths
    drift = {lo: -5.0, mid: -6.0, hi: -7.0}  # −1 octave per doubling: SP's size
    recs = _synthetic("cpu", {"swiglu": drift, "full_sp": drift}, noise=0.0005)
    rep = ch.analyze(recs, "cpu")
    assert rep.all_valid, rep.failed_checks()
    v = {x.claim: x for x in rep.verdicts}
    assert v["C2.1"].statistic == pytest.approx(-1.0, abs=0.05) and v["C2.1"].n_units == 2
    assert v["C2.1"].method == "t" and v["C2.1"].df == 1  # two seeds: a t interval, not a bootstrap
    assert v["C2.1"].verdict == "contradicted"  # −1 per doubling against ±0.25, with the power to see it
    assert v["C2.11"].verdict == "reproduced"  # |effect| ≥ 0.25
    assert v["C2.2"].verdict == "reproduced"  # no drift: inside ±0.25
    assert v["C2.9"].verdict == "not resolved at this scale" and "not active" in v["C2.9"].reason
    ctl = [c for c in rep.checks if c.name.startswith("positive control")]
    assert ctl and ctl[0].passed and "missed" not in ctl[0].value


def test_an_underpowered_control_gates_every_verdict():
    p = ch.chapter_plan("cpu")
    lo, mid, hi = p.widths
    # SP's drift differs by seed: its two per-seed slopes are −0.2 and −1.8, so the t interval with 1 df is wide
    recs = _synthetic("cpu", {"swiglu": {lo: -5.0, mid: -6.0, hi: -7.0}}, noise=0.0005)
    for r in recs:
        if r["experiment"] == "full_sp":
            c = r["config"]
            k = {lo: 0, mid: 1, hi: 2}[c["model"]["d_model"]]
            centre = -6.0 - (0.2 if c["seed"] == 0 else 1.8) * k
            r["result"]["final_eval_loss"] = 0.05 * (math.log2(c["lr"]) - centre) ** 2 + 2.0
    rep = ch.analyze(recs, "cpu")
    ctl = next(c for c in rep.checks if c.name.startswith("positive control"))
    assert ctl.passed and "cannot see its effect" in ctl.value
    assert {x.verdict for x in rep.verdicts} == {"not resolved at this scale"}
    assert "could not register" in next(x for x in rep.verdicts if x.claim == "C2.1").reason


def test_edge_optimum_fails_the_validity_check():
    # the baseline optimum far above the grid at the base width: the check must fail
    recs = _synthetic("smoke", {"baseline": {16: 3.0}})
    rep = ch.analyze(recs, "smoke")
    failed = {c.name for c in rep.failed_checks()}
    assert any(n.startswith("LR optima interior") for n in failed)
    assert set(_verdicts(rep).values()) == {"not resolved at this scale"}  # smoke is below the minimums


def test_missing_runs_fail_the_record_check():
    recs = _synthetic("smoke", {})[:-1]
    rep = ch.analyze(recs, "smoke")
    assert "runs finished or recorded as diverged" in {c.name for c in rep.failed_checks()}


def test_records_only_on_empty_store_names_the_command(tmp_path):
    with pytest.raises(MissingRecordsError, match="make chapter NB=02 SCALE=cpu"):
        chapter_records(ch, "cpu", records_only=True, store=RunStore(tmp_path / "empty.jsonl"))


def test_disagreements_list_what_did_not_reproduce():
    recs = _synthetic("cpu", {})
    d = ch.disagreements(recs, "cpu").set_index("claim")
    assert "C2.9" in d.index and all(d["reason"].str.len() > 0)
    assert abs(d.loc["C2.9", "at 16× (Lingle's span)"] - 4 * d.loc["C2.9", "effect (oct/doubling)"]) < 1e-12
    t = ch.rule_change_table(ch.analyze(recs, "cpu"))
    assert list(t.columns)[:3] == ["claim", "first rule (cpu records)", "new verdict"]


def test_glue_values_are_plain_numbers_from_the_records():
    g = ch.glue_values(_synthetic("cpu", {}), "cpu")
    assert all(type(v) in (float, int) for v in g.values())  # numpy scalars would break glue's number format
    assert g["n_seeds"] == 2 and g["width_ratio"] == 4.0
    assert g["baseline_slope"] == pytest.approx(0.0, abs=0.05)  # optimum at 2^-6 at every width
    assert g["n_reproduced"] + g["n_contradicted"] + g["n_not_resolved"] == len(ch.STATEMENTS)


def test_the_package_surface_names_what_it_exports():
    assert set(ch.__all__) <= set(dir(ch)) and len(ch.__all__) == len(set(ch.__all__))
    for name in ("plan", "stage_plans", "analyze", "glue_values", "finals", "optima", "shifts", "STATEMENTS",
                 "SOURCES"):
        assert name in ch.__all__
