"""Chapter 3 (WSD vs cosine): plan sizes, branch wiring, and analyze() on synthetic records with known answers."""

import math
import zlib

import numpy as np
import pytest

from scalelab.checks import ValidityError
from scalelab.experiments import wsd_vs_cosine as W
from scalelab.runner import chapter_records
from scalelab.schedules import cooldown_start
from scalelab.store import RunStore
from scalelab.sweep import MissingRecordsError


@pytest.mark.parametrize("scale", ["cpu", "gpu"])
def test_plan_meets_the_issue_minimums(scale):
    p = W.chapter_plan(scale)
    specs = W.plan(scale)
    assert len(p.budgets) >= 4 and max(p.budgets) / min(p.budgets) >= 8
    assert min(p.budgets) >= 500 and min(p.budgets) >= 10 * p.warmup_steps
    assert p.grid_step <= 0.5 + 1e-12 and len(p.lr_exponents) >= 7
    assert np.allclose(np.diff(p.lr_exponents), p.grid_step)
    assert set(p.fractions) >= {0.025, 0.05, 0.1, 0.2, 0.4} and set(p.shapes) == {"linear", "cosine", "1-sqrt"}
    by = {}
    for s in specs:
        c = s.config
        by.setdefault((s.experiment, c.seed), []).append(c)
    # cosine: one run per (budget, LR) at the first seed, decaying to 10% of the peak
    cos0 = by[("cosine", 0)]
    assert len(cos0) == len(p.budgets) * len(p.lr_exponents)
    assert {c.final_frac for c in cos0} == {0.1}
    # a second seed at every grid LR for some budgets
    assert len(by[("cosine", 1)]) == len(p.second_seed_budgets) * len(p.lr_exponents) >= 2 * 7
    # one stable run per (seed, LR), constant schedule, same warmup
    st0 = by[("constant", 0)]
    assert len(st0) == len(p.lr_exponents) and all(c.total_steps == max(p.budgets) for c in st0)
    assert {c.warmup_steps for s in specs for c in [s.config]} == {p.warmup_steps}
    if scale == "gpu":
        cpu = W.chapter_plan("cpu")
        assert p.d_model > cpu.d_model and len(p.budgets) > len(cpu.budgets)


@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_branches_start_at_a_parent_checkpoint(scale):
    specs = W.plan(scale)
    parents = {s.config_key: s for s in specs if s.config.init_from is None}
    branches = [s for s in specs if s.config.init_from is not None]
    assert branches
    for b in branches:
        par = parents[b.config.init_from]  # the parent is in the plan
        assert par.experiment == "constant" and par.config.lr == b.config.lr and par.config.seed == b.config.seed
        assert b.config.init_step in par.config.checkpoint_steps
        if b.experiment == "wsd":
            assert b.config.init_step == cooldown_start(b.config.schedule_config)
            assert b.config.final_frac == 0.0
        else:  # multistep: its first drop is at 80% of the steps, before which it is the constant schedule
            assert b.experiment == "multistep"
            from scalelab.schedules import lr_multiplier

            sc = b.config.schedule_config
            assert lr_multiplier(sc, b.config.init_step - 1) == 1.0 and lr_multiplier(sc, b.config.init_step) < 1


def test_cpu_plan_fits_the_budget():
    est = W.plan_summary("cpu")["est_hours"].iloc[-1]
    assert 0.5 < est <= 3.0  # the chapter's cap is 4 h on 2 cores


def test_smoke_plan_is_small():
    specs = W.plan("smoke")
    assert len(specs) <= 45 and all(s.config.total_steps <= 40 for s in specs)


def test_unknown_scale_names_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        W.plan("huge")
    with pytest.raises(ValueError, match="smoke"):
        W.analyze([], "tiny")


def test_records_only_on_empty_store_names_the_command(tmp_path):
    with pytest.raises(MissingRecordsError, match="make chapter NB=03 SCALE=smoke"):
        chapter_records(W, "smoke", records_only=True, store=RunStore(tmp_path / "empty.jsonl"))


def test_closed_form_ledger():
    cf = W.closed_form_steps([500, 1000, 2000, 4000], 0.2, 50)
    assert cf == {"cosine": 7500, "wsd": 3200 + 100 + 200 + 400 + 800}
    sc = W.saving_curve("cpu", n_max=64)
    lin = sc[sc["spacing"] == "linear"].set_index("n_budgets")["ratio"]
    assert lin.loc[64] == pytest.approx(0.2 + 0.8 * 2 / 65)  # → f for many linearly spaced budgets


# ----------------------------------------------------------------------------- synthetic records
def _noise(seed: int, lr: float, b: int, amp: float) -> float:
    return 0.0 if seed == 0 else amp * (1 if (round(math.log2(lr) * 2) + b // 100) % 2 else -1)


def _hash_noise(*key, amp: float) -> float:
    """A deterministic pseudo-random number in [−amp, amp] per key (one draw per run)."""
    seed = zlib.crc32("|".join(map(str, key)).encode())  # stable across processes (str hashes are salted)
    return amp * (2 * np.random.default_rng(seed).random() - 1)


def synth(scale="cpu", *, opt=-5.5, wsd_offset=0.0, ms_offset=0.0, const_shift=-1.0, noise=0.002, curv=0.02,
          run_noise=0.0, branch_noise=0.0, cooldown_gain=0.15, controls=False, cos0_offset=-0.005):
    """Records for every planned run with losses from a known model:
    L = base(B) + curv·(log2 η − opt)² + offsets; constant LR sits ``cooldown_gain`` above and has its
    optimum at opt + const_shift; WSD 2.5% pays 0.03, 5% 0.01; linear cooldown 0.02 and cosine 0.01 more
    than 1−√, exp 0.005. Seed 1 differs by ±noise for every run of a (seed, LR, budget) alike;
    ``run_noise`` adds independent noise per separately trained run (cosine, stable run), ``branch_noise``
    per branch. With ``controls`` both later stages are included (cosine to zero ``cos0_offset`` from cosine, and
    the exponential cooldown)."""
    specs = W.plan(scale) + (W.controls_plan(scale) + W.exp_cooldown_plan(scale) if controls else [])

    def base(t):
        return 2.0 + (t / 100) ** -0.3

    recs = []
    for s in specs:
        c = s.config
        x = math.log2(c.lr)
        steps = c.total_steps - c.init_step
        tps = c.tokens_per_step
        res = {"status": "finished", "steps": steps, "tokens": steps * tps, "start_step": c.init_step,
               "flops": 6.0 * 1e5 * steps * tps, "wall_s": 0.03 * steps, "checkpoints": {},
               "parent_checkpoint_sha256": None}
        eps = _noise(c.seed, c.lr, c.total_steps, noise)
        if s.experiment in ("constant", W.REPLICA_TRUNK):
            ev = [t for t in range(c.eval_every, c.total_steps + 1, c.eval_every)]
            own = _hash_noise("stable", c.seed, c.lr, amp=run_noise)
            ls = [base(t) + cooldown_gain + curv * (x - opt - const_shift) ** 2 + _noise(c.seed, c.lr, t, noise) + own
                  for t in ev]
            res["eval_curve"] = {"step": ev, "tokens": [t * tps for t in ev], "loss": ls}
            res["final_eval_loss"] = ls[-1]
            res["checkpoints"] = {str(k): {"path": "x", "sha256": f"{s.config_key}-{k}"} for k in c.checkpoint_steps}
        else:
            off = 0.0
            if s.experiment in ("wsd", W.REPLICA_BRANCH):
                off = wsd_offset + {0.025: 0.03, 0.05: 0.01}.get(c.decay_frac, 0.0) + {
                    "linear": 0.02, "cosine": 0.01, "exp": 0.005}.get(c.decay_shape, 0.0)
                off += _hash_noise("branch", c.seed, c.lr, c.total_steps, c.decay_frac, c.decay_shape,
                                   amp=branch_noise)
                off += _hash_noise("stable", c.seed, c.lr, amp=run_noise)  # a branch carries its trunk's state
            elif s.experiment == "multistep":
                off = ms_offset + _hash_noise("stable", c.seed, c.lr, amp=run_noise)
            else:  # cosine, cosine_to_zero: separately trained runs
                off = _hash_noise(s.experiment, c.seed, c.lr, c.total_steps, amp=run_noise)
                off += cos0_offset if s.experiment == "cosine_to_zero" else 0.0
            loss = base(c.total_steps) + off + curv * (x - opt) ** 2 + eps
            res["final_eval_loss"] = loss
            res["eval_curve"] = {"step": [c.total_steps], "tokens": [c.total_steps * tps], "loss": [loss]}
            if c.init_from:
                res["parent_checkpoint_sha256"] = f"{c.init_from}-{c.init_step}"
        recs.append({"key": s.config_key, "config_key": s.config_key, "experiment": s.experiment,
                     "version": s.version, "config": c.to_dict(), "corpus": {}, "result": res,
                     "meta": {"seconds": 0.03 * steps}})
    return recs


def _verdicts(report):
    return {v.claim: v.verdict for v in report.verdicts}


@pytest.fixture(scope="module")
def good():
    return synth(branch_noise=0.001)


@pytest.fixture(scope="module")
def good_report(good):
    return W.analyze(good, "cpu")


def test_analyze_known_answer_reproduces_everything(good, good_report):
    rep = good_report
    assert rep.all_valid, rep.failed_checks()
    v = _verdicts(rep)
    assert set(v) == {"C3.1", "C3.2", "C3.3a", "C3.3b", "C3.4", "C3.5", "C3.6", "C3.7"}  # no C3.1b: no controls
    assert all(x == "reproduced" for x in v.values()), v
    for vd in rep.verdicts:  # every verdict is data: statistical ones with interval, claimed, mde, sensitivity
        if vd.claim == "C3.6":
            assert vd.kind == "arithmetic" and vd.mde is None
        else:
            assert vd.kind == "statistical" and vd.mde is not None and vd.sensitivity is not None
            assert vd.unit == ("trunk" if vd.claim[:4] in ("C3.2", "C3.3", "C3.4") else "seed")
    fin = W.finals(good)
    opt = W.optima(fin)
    sigma, n = W.seed_spread(fin, opt)
    # each pair differs by ±0.002 (see _noise), so σ² = mean(d²)/2 gives 0.002/√2; the WSD pairs also carry
    # the ±0.001 branch noise, which moves the pooled value by up to 0.001/√2 either way
    assert abs(sigma - 0.002 / math.sqrt(2)) < 0.001 / math.sqrt(2) and n > 10
    cos = W.pick(opt, "cosine")
    assert np.allclose(cos["opt_log2_lr"], -5.5, atol=1e-6)  # scalelab.optimum recovers the optimum
    const = W.pick(opt, "constant")
    assert np.allclose(const["opt_log2_lr"], -6.5, atol=1e-6)
    c35 = next(x for x in rep.verdicts if x.claim == "C3.5")
    assert c35.statistic == pytest.approx(-1.0, abs=1e-6)
    c34 = next(x for x in rep.verdicts if x.claim == "C3.4")
    assert c34.statistic == pytest.approx(0.02, abs=0.002)  # linear pays 0.02 (± the branch noise)
    assert {c.name for c in rep.checks} >= {"positive control: a cooldown against none",
                                           "negative control: seed against a same-trunk gap"}


def test_analyze_is_deterministic(good, good_report):
    assert good_report.to_dict() == W.analyze(list(good), "cpu").to_dict()


@pytest.mark.parametrize("kw, claims", [
    ({"wsd_offset": 0.05}, ("C3.1",)),  # every WSD variant worse alike: the paired branch claims do not move
    ({"ms_offset": 0.05}, ("C3.7",)),
    ({"const_shift": 0.0}, ("C3.5",)),
])
def test_verdict_flips_to_contradicted(kw, claims):
    rep = W.analyze(synth("smoke", opt=-6.0, curv=0.002, **kw), "smoke")
    v = _verdicts(rep)
    assert all(v[c] == "contradicted" for c in claims), v
    assert {c for c, x in v.items() if x == "contradicted"} == set(claims), v


def test_the_unit_matches_the_pairing():
    """Large independent noise per separately trained run, branches exact: the cross-schedule claims (seeds as
    units, two seeds) are not resolved, the same-trunk claims (trunks) still are; none is contradicted."""
    rep = W.analyze(synth(run_noise=0.03, noise=0.0, branch_noise=0.001), "cpu")
    v = _verdicts(rep)
    assert v["C3.1"] == v["C3.7"] == "not resolved at this scale", v
    assert v["C3.3a"] == v["C3.4"] == "reproduced", v
    assert "contradicted" not in v.values()
    c31 = next(x for x in rep.verdicts if x.claim == "C3.1")
    assert c31.method == "t" and c31.n_units == 2 and c31.units_needed and c31.units_needed > 2
    nt = W.noise_table(synth(run_noise=0.03, noise=0.0, branch_noise=0.001), "cpu").set_index("unit")
    assert nt.loc["trunk", "noise of one difference (nats)"] < nt.loc["seed", "noise of one difference (nats)"] / 5


def test_c32_uses_the_same_window():
    """Without a cooldown advantage (the stable run ends where the branch does) φ is 1: contradicted."""
    recs = synth(branch_noise=0.001)
    stable = {r["config_key"]: r for r in recs if r["experiment"] == "constant"}
    out = []
    for r in recs:
        r = {**r, "result": dict(r["result"])}
        c = r["config"]
        if r["experiment"] == "wsd" and c["decay_frac"] == 0.2 and c["decay_shape"] == "1-sqrt":
            ev = stable[c["init_from"]]["result"]["eval_curve"]
            r["result"]["final_eval_loss"] = ev["loss"][ev["step"].index(c["total_steps"])]  # = the stable run at B
        out.append(r)
    rep = W.analyze(out, "cpu")
    c32 = next(x for x in rep.verdicts if x.claim == "C3.2")
    assert c32.statistic == pytest.approx(1.0, abs=0.05) and c32.verdict == "contradicted"
    assert "positive control: a cooldown against none" in [c.name for c in rep.failed_checks()]


def test_linear_better_than_sqrt_contradicts_c34(good):
    recs = []
    for r in good:
        r = {**r, "result": dict(r["result"])}
        c = r["config"]
        if r["experiment"] == "wsd" and c["decay_shape"] == "linear":
            r["result"]["final_eval_loss"] -= 0.04  # linear now 0.02 better than 1−√
        recs.append(r)
    assert _verdicts(W.analyze(recs, "cpu"))["C3.4"] == "contradicted"


def test_later_stages_enter_only_when_complete():
    full = synth("smoke", opt=-6.0, curv=0.002, controls=True)
    rep = W.analyze(full, "smoke")
    v = _verdicts(rep)
    assert "C3.1b" in v
    c31b = next(x for x in rep.verdicts if x.claim == "C3.1b")
    assert c31b.statistic == pytest.approx(0.005, abs=1e-3)  # WSD − (cosine − 0.005)
    assert W.controls_progress(full, "smoke") == (len(W.controls_plan("smoke")),) * 2
    assert W.controls_progress(full, "smoke", "exp_cooldown") == (len(W.exp_cooldown_plan("smoke")),) * 2
    with pytest.raises(ValueError, match="valid: controls, exp_cooldown"):
        W.controls_progress(full, "smoke", "nope")

    def drop_one(stage):
        i = next(k for k, r in enumerate(full) if W._stage_of(r) == stage)
        return full[:i] + full[i + 1:], [r for r in full if W._stage_of(r) != stage]

    # one exponential branch missing: that stage is ignored, cosine to zero still counts (C3.1b judged)
    part, without = drop_one("exp_cooldown")
    assert W.analyze(part, "smoke").to_dict() == W.analyze(without, "smoke").to_dict()
    assert "C3.1b" in _verdicts(W.analyze(part, "smoke"))
    assert W.control_changes(part, "smoke")["exp − 1−√"].isna().all()
    assert not any("exp" in x for x in W.shape_table(part, "smoke")["shape"])
    # one cosine-to-zero run missing: C3.1b is not judged, the exponential cooldown still enters
    part, without = drop_one("controls")
    assert W.analyze(part, "smoke").to_dict() == W.analyze(without, "smoke").to_dict()
    assert "C3.1b" not in _verdicts(W.analyze(part, "smoke"))
    ch = W.control_changes(full, "smoke")
    assert np.allclose(ch["cos→0 − cos→10%"], -0.005, atol=1e-3) and np.allclose(ch["exp − 1−√"], 0.005, atol=1e-3)
    assert W.control_changes([r for r in full if not W._is_control_record(r)], "smoke").empty
    shapes = W.shape_table(full, "smoke").set_index("shape")
    row = "exp (replica trunks)"  # both shapes branched from one replica trunk
    assert row in shapes.index and shapes.loc[row, "minus 1−√ (nats)"] == pytest.approx(0.005, abs=1e-6)
    # the replicas stay out of the first stage's tables: their 1−√ branches do not double the reference's seeds
    assert not (W.finals(full)["protocol"] == W.REPLICA_BRANCH).any()
    assert W.analyze(full, "smoke").to_dict()["verdicts"] == W.analyze(
        [r for r in full if r["experiment"] not in W.REPLICA_EXPERIMENTS], "smoke").to_dict()["verdicts"]


def test_checkpoint_recreation_table(tmp_path):
    import json

    from scalelab.checks import RECREATED_TOL

    t, meta = W.checkpoint_recreation("cpu", tmp_path / "none.json")
    assert t.empty and meta == {}
    assert W.recreation_values("cpu", tmp_path / "none.json")["recreated_runs"] == 0
    runs = [{"log2_lr": e, "sha256_equal": False, "abs_diff_at_step": d, "eval_steps": [100, 200]}
            for e, d in ((-8.0, 0.0), (-6.0, RECREATED_TOL / 2), (-5.0, 7e-4), (-4.5, 0.03))]
    (tmp_path / "m.json").write_text(json.dumps({"step": 400, "threads": 1, "runs": runs}))
    g = W.recreation_values("cpu", tmp_path / "m.json")
    assert g == {"recreated_runs": 4, "recreated_ok": 2, "recreated_worst": 0.03,
                 "recreated_first_miss_log2_lr": -5.0, "recreated_step": 400.0}


def test_rule_changes_cover_every_old_claim(good_report):
    t = W.rule_changes(good_report).set_index("claim")
    assert list(t.index) == [f"C3.{i}" for i in range(1, 8)]
    assert "C3.3a" in t.loc["C3.3", "new verdict"] and "C3.3b" in t.loc["C3.3", "new verdict"]
    assert set(t["old verdict"]) <= {"reproduced", "not resolved at this scale", "contradicted"}


def test_wrong_parent_sha_fails_the_branch_check(good):
    recs = [dict(r) for r in good]
    i = next(k for k, r in enumerate(recs) if r["experiment"] == "wsd")
    recs[i] = {**recs[i], "result": {**recs[i]["result"], "parent_checkpoint_sha256": "deadbeef"}}
    rep = W.analyze(recs, "cpu")
    failed = [c.name for c in rep.failed_checks()]
    assert failed == ["branches reuse their parent's checkpoint"]
    with pytest.raises(ValidityError, match="checkpoint"):
        rep.assert_valid()


def test_short_run_fails_budgets_met():
    recs = synth("smoke", opt=-6.0, curv=0.002)
    i = next(k for k, r in enumerate(recs) if r["experiment"] == "cosine")
    recs[i] = {**recs[i], "result": {**recs[i]["result"], "steps": recs[i]["result"]["steps"] - 1}}
    assert "budgets met" in [c.name for c in W.analyze(recs, "smoke").failed_checks()]


def test_edge_optimum_fails_the_interior_check():
    rep = W.analyze(synth("smoke", opt=-9.0, curv=0.002), "smoke")
    assert any(c.name.startswith("LR optima interior") for c in rep.failed_checks())


def test_smoke_reports_controls_without_gating():
    rep = W.analyze(synth("smoke", opt=-6.0, curv=0.002, cooldown_gain=-0.1), "smoke")  # a cooldown that hurts
    assert rep.all_valid, rep.failed_checks()
    assert not any("control" in c.name for c in rep.checks)
    res = W.controls(synth("smoke", opt=-6.0, curv=0.002, cooldown_gain=-0.1), "smoke")
    assert [r.control.kind for r in res] == ["positive", "negative"] and not res[0].passed


def test_ledger_counts_the_stable_run_to_the_last_cooldown(good):
    tot = W.ledger_totals(W.ledger(good, "cpu")).set_index("protocol")
    n = len(W.chapter_plan("cpu").lr_exponents)
    assert tot.loc["cosine", "steps"] == 7500 * n and tot.loc["wsd", "steps"] == 4700 * n
    assert tot.loc["wsd", "fraction_of_cosine"] == pytest.approx(4700 / 7500)


def test_shared_runs_matches_configs_up_to_the_eval_period():
    specs = [s for s in W.plan("smoke") if s.experiment == "cosine"][:2]

    def rec(spec, loss, **over):
        cfg = {**spec.config_dict, **over}
        return {"experiment": spec.experiment, "config": cfg, "result": {"status": "finished", "final_eval_loss": loss}}

    ours = [rec(specs[0], 2.0), rec(specs[1], 2.5)]
    theirs = [rec(specs[0], 2.0004, eval_every=0), rec(specs[1], 2.5, lr=specs[1].config.lr * 2)]
    df = W.shared_runs(ours, theirs)
    assert len(df) == 1 and abs(df["abs_diff"].iloc[0] - 4e-4) < 1e-12
    assert W.shared_runs(ours, []).empty


def test_glue_values_are_plain_numbers_from_the_records(good):
    g = W.glue_values(good, "cpu")
    assert all(type(v) in (int, float) for v in g.values()), {k: type(v) for k, v in g.items()}  # no numpy scalars
    p = W.chapter_plan("cpu")
    cf = W.closed_form_steps(p.budgets, W.DEFAULT_FRAC, p.warmup_steps)
    assert g["ledger_fraction"] == pytest.approx(cf["wsd"] / cf["cosine"])  # the synthetic runs meet their budgets
    assert math.log2(g["lr_cosine"]) == pytest.approx(-5.5, abs=1e-6)
    assert g["best_constant"] > g["best_wsd"]  # a cooldown helps (cooldown_gain)
    assert g["controls_recorded"] == 0 and g["controls_planned"] == len(W.controls_plan("cpu"))


def test_the_package_exports_what_the_page_and_chapter_6_use():
    assert all(hasattr(W, name) for name in W.__all__)
    for name in ("plan_summary", "analysed_records", "finals", "optima", "glue_values", "chapter_plan", "shared_runs",
                 "schedule_curves", "loss_curves", "comparison_table", "pick", "near_optimal", "trunk_cells",
                 "cooldown_drops", "shape_table", "noise_table", "control_changes", "ledger", "ledger_totals",
                 "saving_curve", "measured_saving", "analyze", "controls", "rule_changes", "_base", "seed_spread"):
        assert name in W.__all__, name
