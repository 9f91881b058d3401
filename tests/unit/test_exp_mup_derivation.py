"""Chapter 1 (μP derivation): plan sizes, the numerics' known exponents, and analyze() on synthetic records."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from scalelab.experiments import mup_derivation as M
from scalelab.experiments.mup_derivation import coords as coords_mod
from scalelab.experiments.mup_derivation.numerics import _init_std, _lr_scale
from scalelab.runner import chapter_records
from scalelab.store import RunStore
from scalelab.sweep import MissingRecordsError


@pytest.mark.parametrize("scale", ["cpu", "gpu"])
def test_plan_meets_the_issue_minimums(scale):
    p = M.chapter_plan(scale)
    specs = M.plan(scale)
    assert len(specs) == 2 * len(p.widths) * len(p.lr_exponents) * p.seeds
    assert len(p.widths) >= 4 and max(p.widths) / min(p.widths) >= 8 and max(p.widths) >= 256
    assert p.total_steps >= 500 and p.seeds >= 2
    assert min(p.numeric_widths) <= 64 and max(p.numeric_widths) >= 2048
    assert len(p.coord_widths) >= 4 and p.coord_seeds >= 3
    cfgs = [s.config for s in specs]
    assert len({c.num_tokens for c in cfgs}) == 1  # equal tokens per run
    assert {c.model.parametrization for c in cfgs} == {"sp", "mup"}
    assert all(c.model.base_d_model == min(p.widths) for c in cfgs)
    exps = sorted({math.log2(c.lr) for c in cfgs})
    assert np.allclose(np.diff(exps), p.grid_step)
    if scale == "gpu":
        assert max(p.widths) >= 2048 and p.total_steps > M.chapter_plan("cpu").total_steps


def test_cpu_plan_fits_the_budget():
    est = M.plan_summary("cpu")["est_hours"].iloc[-1]
    assert 0.2 < est <= 2.5  # 4 h on 2 cores is the chapter's cap; the sweep runs beside other work


def test_smoke_plan_is_small():
    specs = M.plan("smoke")
    assert len(specs) <= 40 and all(s.config.total_steps <= 30 for s in specs)


def test_unknown_scale_names_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        M.plan("huge")
    with pytest.raises(ValueError, match="smoke"):
        M.chapter_plan("tiny")


def test_records_only_on_empty_store_names_the_command(tmp_path):
    with pytest.raises(MissingRecordsError, match="make chapter NB=01 SCALE=smoke"):
        chapter_records(M, "smoke", records_only=True, store=RunStore(tmp_path / "empty.jsonl"))


def test_a1_init_std_formula():
    assert M.a1_init_std(64, 64) == pytest.approx(1 / 8)
    assert M.a1_init_std(128, 64) == pytest.approx(1 / 8)  # fan-out > fan-in: 1/√fan_in
    assert M.a1_init_std(64, 128) == pytest.approx(1 / math.sqrt(128) * math.sqrt(0.5))


def test_numeric_exponents_match_the_derivation():
    # Widths 64…256 with three seeds: slopes within 0.3 of the first-order theory for the linear net.
    # At these sizes two terms of different exponents mix (e.g. SP+SGD's layer 2 measures 0.24 for an
    # asymptotic 0.5), but a wrong rule is off by a full unit.
    st = M.slope_table(M.spectral_checks("smoke"))
    lin = st[st["net"] == "linear"]
    assert (lin["widths"] == 3).all() and np.isfinite(lin["se"]).all()
    assert np.allclose(lin["slope"], lin["theory"], atol=0.3)


def test_operator_norm_ratio_near_one():
    on = M.operator_norm_check("smoke")
    assert set(on["shape"]) == {"1n × 1n", "2n × 1n", "1n × 2n", "4n × 1n"}
    assert ((on["ratio"] - 1).abs() < 0.06).all()  # Gaussian top singular value at n ≥ 64


def test_one_step_is_deterministic():
    case = M.NUMERIC_CASES[3]
    assert M.one_step(64, case, seed=1) == M.one_step(64, case, seed=1)


def test_one_step_matches_autograd_on_the_explicit_matrices():
    # The rank-one matrix-vector step against autograd on W = σ·Z. Tolerance 1e-5 relative: the reference's
    # Adam step g/(|g| + 1e-12) differs from sign(g) by up to ~1e-6 where |g_i a_j| is small; SGD agrees to 1e-9.
    for net in M.NETS:
        for case in M.NUMERIC_CASES:
            relu = net == "relu"
            dims, base = M.numeric_dims(64), M.numeric_dims(M.NUMERIC_BASE_WIDTH)
            x, v, zs = M.standard_draws(64, 2)
            Ws = [(z * _init_std(case, l, dims, base, relu)).requires_grad_(True) for l, z in zip((1, 2, 3), zs)]
            c = math.sqrt(base[3]) / dims[3] if case.readout == "mup" else 1.0 / math.sqrt(dims[3])

            def fwd(ws, x=x, relu=relu):
                hs, a = [], x
                for i, W in enumerate(ws):
                    h = W @ a
                    hs.append(h)
                    a = torch.relu(h) if (relu and i < 2) else h
                return hs

            hs = fwd(Ws)
            (c * torch.dot(v, hs[-1])).backward()
            with torch.no_grad():
                new = []
                for l, W in zip((1, 2, 3), Ws):
                    eta = M.NUMERIC_LR * _lr_scale(case.lr_rule, dims, l) / _lr_scale(case.lr_rule, base, l)
                    g = W.grad
                    new.append(W - eta * (g if case.optimizer == "sgd" else g / (g.abs() + 1e-12)))
                hs2 = fwd(new)
            ref = [float((b - a.detach()).norm() / math.sqrt(a.numel())) for a, b in zip(hs, hs2)]
            got = M.one_step(64, case, seed=2, net=net)["update"]
            assert np.allclose(got, ref, rtol=1e-5), (net, case.name)


def test_numeric_interval_recovers_a_known_exponent():
    rows = [{"net": "linear", "case": "k", "layer": 1, "n": n, "seed": s, "value": n ** 0.5 * (1 + 0.01 * s)}
            for n in (64, 128, 256) for s in range(4)]
    iv = M.numeric_interval(pd.DataFrame(rows), "linear", "k", (1,))
    assert iv.estimate == pytest.approx(0.5) and iv.method == "t" and iv.n_units == 4


# ----------------------------------------------------------------------------- synthetic records
def _records(scale, opt_of, loss_at_opt, width_gain=0.05, seed_jitter=0.002):
    """Records with a parabolic loss in log2 LR whose optimum for (param, width) is ``opt_of(param, d)``."""
    recs = []
    p = M.chapter_plan(scale)
    for spec in M.plan(scale):
        c = spec.config
        d, param = c.model.d_model, c.model.parametrization
        e = math.log2(c.lr)
        # μP == SP at base width: same optimum and loss there (and identical seeds' noise).
        opt = opt_of("sp", d) if d == p.base_d_model else opt_of(param, d)
        base = loss_at_opt - width_gain * math.log2(d / p.base_d_model)
        noise = seed_jitter * ((c.seed * 7 + int(e * 3)) % 5) / 5
        loss = base + 0.02 * (e - opt) ** 2 + noise
        recs.append({
            "config": c.to_dict(), "config_key": spec.config_key,
            "result": {"status": "finished", "steps": c.total_steps, "tokens": c.num_tokens,
                       "final_eval_loss": loss},
        })
    return recs


def _frames():
    # cheap, deterministic inputs for the section-1/3 verdicts
    numerics = M.spectral_checks("smoke")
    opnorms = M.operator_norm_check("smoke")
    return numerics, opnorms, _coords()


def _coords(mup_exp=0.0, sp_exp=1.0):
    """A coordinate check whose change since init scales as d^mup_exp (μP) and d^sp_exp (SP, hidden sites and
    logits), with a little seed noise; the embedding is flat in both."""
    rows = []
    for param in ("sp", "mup"):
        for d in (32, 64, 128, 256):
            for s in range(3):
                for site in M.COORD_SITES:
                    e = 0.0 if site == "embedding" else (sp_exp if param == "sp" else mup_exp)
                    jit = 1 + 0.01 * ((s * 3 + d) % 5 - 2)
                    rows.append({"parametrization": param, "d_model": d, "seed": s, "measure": "abs", "step": 1,
                                 "site": site, "mean_abs": 1.0})
                    rows.append({"parametrization": param, "d_model": d, "seed": s, "measure": "change", "step": 5,
                                 "site": site, "mean_abs": (d / 32) ** e * jit})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frames():
    return _frames()


def _verdicts(rep):
    return {v.claim: v.verdict for v in rep.verdicts}


def test_analyze_transfer_reproduced_and_contradicted(frames):
    numerics, opnorms, coords = frames
    p = M.chapter_plan("cpu")
    narrow = math.log2(p.base_d_model)

    def mup_flat(param, d):
        return -6.0 if param == "mup" else -6.0 - 1.0 * (math.log2(d) - narrow)  # SP: one octave per doubling

    recs = _records("cpu", mup_flat, 3.0)
    rep = M.analyze(recs, "cpu", numerics=numerics, opnorms=opnorms, coords=coords)
    assert rep.all_valid, rep.failed_checks()
    v = _verdicts(rep)
    assert v["C1.6"] == "reproduced" and v["C1.7"] == "reproduced"
    assert v["C1.5"] == "reproduced"

    def mup_drifts(param, d):
        return -4.0 - 1.0 * (math.log2(d) - narrow) if param == "mup" else -6.0 - 0.5 * (math.log2(d) - narrow)

    rep2 = M.analyze(_records("cpu", mup_drifts, 3.0), "cpu", numerics=numerics, opnorms=opnorms, coords=coords)
    assert _verdicts(rep2)["C1.6"] == "contradicted"

    # wider is worse under μP → C1.7 contradicted
    rep3 = M.analyze(_records("cpu", mup_flat, 3.0, width_gain=-0.05), "cpu", numerics=numerics, opnorms=opnorms,
                     coords=coords)
    assert _verdicts(rep3)["C1.7"] == "contradicted"


def test_analyze_validity_checks_can_fail(frames):
    numerics, opnorms, coords = frames
    edge = _records("cpu", lambda param, d: -2.0, 3.0)  # optimum above the grid for every width
    rep = M.analyze(edge, "cpu", numerics=numerics, opnorms=opnorms, coords=coords)
    failed = {c.name for c in rep.failed_checks()}
    assert "LR optima interior (SP and μP, every width)" in failed
    good = _records("cpu", lambda param, d: -6.0, 3.0)
    broken = copy.deepcopy(good)
    for r in broken:  # μP differs from SP at the base width
        if r["config"]["model"]["parametrization"] == "mup" and r["config"]["model"]["d_model"] == 32:
            r["result"]["final_eval_loss"] += 0.01
    rep = M.analyze(broken[:-1], "cpu", numerics=numerics, opnorms=opnorms, coords=coords)
    failed = {c.name for c in rep.failed_checks()}
    assert {"μP equals SP at the base width", "runs finished or recorded as diverged"} <= failed


def test_analyze_smoke_transfer_not_resolved(frames):
    numerics, opnorms, coords = frames
    recs = _records("smoke", lambda param, d: -4.0, 3.0)
    v = _verdicts(M.analyze(recs, "smoke", numerics=numerics, opnorms=opnorms, coords=coords))
    assert v["C1.6"] == v["C1.7"] == "not resolved at this scale"  # widths span only 2×


def test_coordinate_verdict_flips(frames):
    numerics, opnorms, _ = frames
    recs = _records("smoke", lambda param, d: -4.0, 3.0)
    v = _verdicts(M.analyze(recs, "smoke", numerics=numerics, opnorms=opnorms, coords=_coords(mup_exp=1.0)))
    assert v["C1.5"] == "contradicted"  # μP's change grows as d: not flat
    v = _verdicts(M.analyze(recs, "smoke", numerics=numerics, opnorms=opnorms, coords=_coords(sp_exp=0.0)))
    assert v["C1.5"] == "contradicted"  # SP's change does not grow


def test_controls_gate_or_fail(frames):
    numerics, opnorms, coords = frames
    recs = _records("cpu", lambda param, d: -6.0, 3.0)  # SP does not drift: the positive control misses
    rep = M.analyze(recs, "cpu", numerics=numerics, opnorms=opnorms, coords=coords)
    failed = {c.name for c in rep.failed_checks()}
    assert "positive control: constant-σ SP's optimum falls against μP" in failed  # powered (tiny seed noise)
    bad = M.analyze(recs, "cpu", numerics=numerics, opnorms=opnorms, coords=_coords(sp_exp=1.0, mup_exp=0.5))
    assert "negative control: μP block outputs and logits change Θ(1)" in {c.name for c in bad.failed_checks()}


def test_every_verdict_carries_the_fields(frames):
    numerics, opnorms, coords = frames
    rep = M.analyze(_records("cpu", lambda param, d: -6.0, 3.0), "cpu", numerics=numerics, opnorms=opnorms,
                    coords=coords)
    for v in rep.verdicts:
        assert v.kind in ("statistical", "arithmetic") and v.reason
        if v.kind == "statistical":
            assert v.interval is not None and v.mde is not None and v.sensitivity is not None
    assert {v.claim for v in rep.verdicts} == set(M.OLD_VERDICTS)


def test_coordinate_sites_follow_the_claims():
    assert tuple(coords_mod.SITES) == M.COORD_SITES


def test_budgets_check_fails_on_a_short_run(frames):
    numerics, opnorms, coords = frames
    recs = copy.deepcopy(_records("cpu", lambda param, d: -6.0, 3.0))
    recs[0]["result"]["steps"] -= 1
    rep = M.analyze(recs, "cpu", numerics=numerics, opnorms=opnorms, coords=coords)
    assert "budgets met" in {c.name for c in rep.failed_checks()}
