import json
import math

import numpy as np
import pytest
from scipy import stats

from scalelab.checks import Check, Report, ValidityError, Verdict
from scalelab.resample import Interval, mean_interval
from scalelab.verdicts import (
    Claim,
    Control,
    arithmetic,
    control_table,
    judge,
    minimum_detectable_effect,
    sensitivity,
    units_needed,
    verdict_table,
)

TRANSFERS = Claim.no_effect(0.5, "octaves")  # "the optimal LR transfers": shift within ±0.5 octaves
BREAKS = Claim(-1.0, 0.5, "less", "octaves")  # "the ablation moves the optimum down by an octave": ≤ −0.5


def iv(est, lo, hi, se, n=6, method="bootstrap"):
    return Interval(est, lo, hi, 0.95, method, "seed", n, se, n - 1)


def test_the_three_outcomes():
    assert judge("C", "s", TRANSFERS, iv(0.1, -0.2, 0.4, 0.15), source="x").verdict == "reproduced"
    v = judge("C", "s", TRANSFERS, iv(1.5, 1.3, 1.7, 0.1), source="x")  # mde = 3.49·0.1 ≤ δ = 0.5
    assert v.verdict == "contradicted" and v.mde <= 0.5
    v = judge("C", "s", TRANSFERS, iv(0.4, 0.1, 0.7, 0.15), source="x")  # straddles +0.5
    assert v.verdict == "not resolved at this scale" and "straddles" in v.reason
    v = judge("C", "s", BREAKS, iv(-1.2, -1.6, -0.8, 0.2), source="x")
    assert v.verdict == "reproduced" and v.region == (-math.inf, -0.5)


def test_excluding_the_claim_without_power_is_not_resolved():
    # The interval excludes the ±0.5 region, but with se 0.4 (mde ≈ 1.2 octaves) the design could not
    # have seen a 0.5-octave effect: not resolved, and the reason says what would settle it.
    v = judge("C", "s", TRANSFERS, iv(2.0, 0.6, 3.4, 0.4), source="x", cost_per_unit=3.0, cost_label="CPU-hours")
    assert v.verdict == "not resolved at this scale"
    assert v.mde > 0.5 and "could not have seen" in v.reason and "mde ≤ 0.5" in v.reason
    assert v.units_needed is not None and f"about {v.units_needed} seeds" in v.reason and "CPU-hours" in v.reason


def test_underpowered_designs_never_contradict():
    # Simulated designs with 2–6 seeds and per-seed noise so large that mde > |claimed|, at true effects
    # far from the claim: whatever the data, the outcome is never "contradicted".
    rng = np.random.default_rng(0)
    claim = Claim(0.3, 0.15, "two-sided", "nats")
    outcomes = set()
    for d in range(300):
        n = int(rng.integers(2, 7))
        x = rng.normal(rng.uniform(-3, 3), 1.0, n)
        i = mean_interval(x, unit="seed", n_boot=200, seed=d)
        v = judge("C", "s", claim, i, source="x")
        if v.mde > claim.target:
            assert v.verdict != "contradicted"
            outcomes.add(v.verdict)
    assert "not resolved at this scale" in outcomes  # the loop did test underpowered designs


def test_a_contradicted_verdict_without_power_cannot_be_built():
    v = judge("C", "s", TRANSFERS, iv(2.0, 0.6, 3.4, 0.4), source="x")
    d = v.to_dict()
    d["verdict"] = d["outcome"] = "contradicted"
    with pytest.raises(ValueError, match="does not follow from the rules"):
        Verdict.from_dict(d)


def test_true_claims_are_rarely_contradicted():
    # With the truth inside the region, a false "contradicted" needs the interval to miss the truth on one
    # side: at most α/2 = 2.5% of designs (binomial tolerance for 2,000 designs: +1.2 points at 3.5 sd).
    rng = np.random.default_rng(1)
    claim = Claim.no_effect(0.2, "octaves")
    wrong = 0
    for _ in range(2000):
        i = mean_interval(rng.normal(0.2, 0.1, 4), unit="seed")  # truth on the region's edge, 4 seeds: t
        wrong += judge("C", "s", claim, i, source="x").verdict == "contradicted"
    assert wrong / 2000 <= 0.025 + 3.5 * math.sqrt(0.025 * 0.975 / 2000)


def test_mde_formula():
    assert minimum_detectable_effect(1.0, math.inf) == pytest.approx(1.959964 + 0.841621, rel=1e-5)
    assert minimum_detectable_effect(0.1, 3) == pytest.approx(0.1 * (stats.t.ppf(0.975, 3) + stats.t.ppf(0.8, 3)))
    assert minimum_detectable_effect(0.1, 0) == math.inf
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_effect(0.1, 3, power=1.0)


def test_units_needed_meets_the_target_and_no_fewer_would():
    claim = Claim(0.3, 0.15, "two-sided", "nats")
    est, se, n = 1.5, 0.2, 4  # far outside the region: power is what binds
    need = units_needed(est, se, n, claim)

    def mde_at(m):
        return minimum_detectable_effect(se * math.sqrt(n / m), m - 1)

    assert mde_at(need) <= 0.3 < mde_at(need - 1)
    # the large-sample formula n·(se·(z_a + z_b)/|c|)² is close
    assert need == pytest.approx(n * (se * (1.959964 + 0.841621) / 0.3) ** 2, rel=0.15)
    assert units_needed(est, math.inf, 1, claim) is None


def test_sensitivity_is_the_delta_where_the_outcome_turns():
    rng = np.random.default_rng(2)
    for _ in range(200):
        lo = rng.normal(0, 1)
        hi = lo + rng.uniform(0.05, 2)
        c = rng.normal(0, 1)
        side = ["two-sided", "greater", "less"][rng.integers(3)]
        base = Claim(c, 1.0, side)
        s = sensitivity((lo, hi), base)
        above, below = max(s + 1e-6, 1e-3), s - 1e-6
        i = iv((lo + hi) / 2, lo, hi, 0.01)
        assert judge("C", "s", Claim(c, above, side), i, source="x").verdict == "reproduced"
        if below >= 0 and (c != 0 or below > 0):
            assert judge("C", "s", Claim(c, below, side), i, source="x").verdict != "reproduced"


def test_one_unit_is_not_resolved_and_serialises():
    v = judge("C", "s", TRANSFERS, mean_interval([0.1], unit="seed"), source="x")
    assert v.verdict == "not resolved at this scale" and v.mde == math.inf and "gives no interval" in v.reason
    d = json.loads(json.dumps(v.to_dict(), allow_nan=False))
    assert d["interval"] == [None, None] and d["mde"] is None
    assert Verdict.from_dict(d) == v


def test_arithmetic_verdicts():
    v = arithmetic("C1.2", "6ND counts the FLOPs", "reproduced", criterion="within 1%", evidence="0.4%",
                   source="x", reason="closed-form count against the traced count", statistic=0.004)
    d = v.to_dict()
    assert d["kind"] == "arithmetic" and d["mde"] is None and d["reason"]
    with pytest.raises(ValueError, match="reason"):
        arithmetic("C1.2", "s", "reproduced", criterion="c", evidence="e", source="x", reason="")
    with pytest.raises(ValueError, match="null mde"):
        Verdict("C1.2", "s", "reproduced", "c", "e", "x", kind="arithmetic", reason="r", mde=0.1)


def test_report_round_trip_keeps_text_only_verdicts_unchanged():
    legacy = Verdict("C9.1", "s", "contradicted", "c", "e", "src")
    stat = judge("C9.2", "s", BREAKS, iv(-1.2, -1.6, -0.8, 0.2), source="src")
    arith = arithmetic("C9.3", "s", "reproduced", criterion="c", evidence="e", source="x", reason="r")
    r = Report("demo", "cpu", [Check("x", True, "v", "c")], [legacy, stat, arith])
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert set(d["verdicts"][0]) == {"claim", "statement", "verdict", "criterion", "evidence", "source"}
    for k in ("statistic", "interval", "level", "unit", "n_units", "method", "claimed", "mde", "outcome", "reason",
              "sensitivity"):
        assert k in d["verdicts"][1]
    assert d["verdicts"][1]["region"] == [None, -0.5]
    assert Report.from_dict(d) == r


def test_verdict_fields_are_validated():
    with pytest.raises(ValueError, match="kind"):
        Verdict("C", "s", "reproduced", "c", "e", "x", kind="vibes", reason="r")
    with pytest.raises(ValueError, match="needs"):
        Verdict("C", "s", "reproduced", "c", "e", "x", kind="statistical", reason="r", statistic=0.1)
    with pytest.raises(ValueError, match="outcome"):
        Verdict("C", "s", "reproduced", "c", "e", "x", outcome="contradicted")
    with pytest.raises(ValueError, match="delta > 0"):
        Claim.no_effect(0.0)
    with pytest.raises(ValueError, match="side"):
        Claim(1.0, 0.1, "sideways")


def test_a_positive_control_that_misses_makes_the_chapter_invalid():
    sp = Control("full SP", "positive", Claim(-2.0, 1.5, "less", "octaves"),
                 "standard parametrization must move the optimal LR down with width")
    flat = Control("μP baseline, two seeds of one config", "negative", Claim.no_effect(0.25, "octaves"))
    moved = sp.evaluate(iv(-1.5, -1.8, -1.2, 0.15))
    missed = sp.evaluate(iv(-0.2, -0.6, 0.2, 0.2))  # the interval reaches above −0.5: no clear move
    quiet = flat.evaluate(iv(0.02, -0.1, 0.14, 0.06))
    assert moved.passed and not missed.passed and quiet.passed
    good = Report("demo", "cpu", [moved.to_check(), quiet.to_check()])
    good.assert_valid()
    bad = Report("demo", "cpu", [missed.to_check(), quiet.to_check()])
    with pytest.raises(ValidityError, match="positive control: full SP"):
        bad.assert_valid()
    t = control_table([moved, missed, quiet])
    assert list(t["met"]) == ["✓", "✗", "✓"] and list(t["kind"]) == ["positive", "positive", "negative"]
    json.dumps(missed.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="positive"):
        Control("x", "sham", TRANSFERS)


def test_verdict_table():
    vs = [judge("C2.1", "s", TRANSFERS, iv(0.1, -0.2, 0.4, 0.15), source="x"),
          arithmetic("C2.2", "s", "reproduced", criterion="c", evidence="exact", source="x", reason="r")]
    t = verdict_table(vs)
    assert list(t.columns) == ["claim", "statistic", "claimed", "mde", "outcome", "sensitivity", "design", "reason"]
    assert t.loc[0, "statistic"].startswith("+0.1 [−0.2, +0.4]") and t.loc[0, "claimed"] == "0 ± 0.5 octaves"
    assert t.loc[0, "sensitivity"] == "reproduced iff δ ≥ 0.4" and t.loc[1, "mde"] == "—"
