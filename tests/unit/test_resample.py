import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scalelab.resample import DRAW_COLUMN, Interval, array_interval, expanded_alpha, mean_interval, unit_interval

N_DESIGNS = 2000


def binomial_band(p: float, n: int, z: float = 3.5) -> tuple[float, float]:
    """Where an observed coverage rate may fall if the true rate is p (±3.5 binomial sd: a false alarm
    roughly once in 2,000 runs, yet a 2.5-point undercoverage at n = 2000 is caught)."""
    sd = math.sqrt(p * (1 - p) / n)
    return p - z * sd, p + z * sd


def coverage(n_units: int, n_boot: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for d in range(N_DESIGNS):
        x = rng.normal(1.0, 2.0, n_units)  # one value per unit; the truth is 1.0
        iv = mean_interval(x, n_boot=n_boot, seed=d)
        hits += iv.lo <= 1.0 <= iv.hi
    return hits / N_DESIGNS


def test_t_interval_covers_at_the_stated_rate():
    lo, hi = binomial_band(0.95, N_DESIGNS)
    c = coverage(3, 100, seed=11)  # 3 units: the t interval
    assert lo <= c <= hi


def test_bootstrap_interval_covers_at_the_stated_rate():
    lo, hi = binomial_band(0.95, N_DESIGNS)
    c = coverage(8, 500, seed=12)  # 8 units: the expanded percentile bootstrap
    assert lo <= c <= hi


def test_method_follows_the_number_of_units():
    assert mean_interval(np.arange(4.0)).method == "t"
    assert mean_interval(np.arange(5.0)).method == "bootstrap"
    iv = mean_interval(np.arange(4.0))
    assert iv.df == 3 and iv.n_units == 4 and iv.n_boot == 0


def test_t_interval_is_students_for_a_mean():
    x = np.array([0.3, -0.1, 0.5])
    iv = mean_interval(x, level=0.9, unit="seed")
    half = stats.t.ppf(0.95, 2) * x.std(ddof=1) / math.sqrt(3)
    assert iv.estimate == pytest.approx(x.mean())
    assert (iv.lo, iv.hi) == pytest.approx((x.mean() - half, x.mean() + half))
    assert iv.se == pytest.approx(x.std(ddof=1) / math.sqrt(3)) and iv.unit == "seed"


def test_expanded_percentile_tail():
    # √(n/(n−1))·t_{n−1}(0.975) for n = 10 is 2.384, whose two-sided normal tail is 0.0171.
    assert expanded_alpha(0.95, 10) == pytest.approx(0.0171, abs=2e-4)
    assert expanded_alpha(0.95, 10_000) == pytest.approx(0.05, abs=1e-3)


def test_one_unit_has_no_interval():
    iv = mean_interval([0.4], unit="seed")
    assert iv.lo == -math.inf and iv.hi == math.inf and iv.se == math.inf and iv.df == 0
    d = iv.to_dict()
    assert d["lo"] is None and d["hi"] is None
    json.dumps(d, allow_nan=False)


def seeds_by_width(n_seeds=6, effect=-0.3, rng_seed=0):
    """Losses at two widths; a large per-seed offset shared by both widths (one data order per seed)."""
    rng = np.random.default_rng(rng_seed)
    offset = rng.normal(0, 1.0, n_seeds)
    rows = []
    for s in range(n_seeds):
        for w, eff in ((64, 0.0), (256, effect)):
            rows.append({"seed": 100 + s, "d_model": w, "loss": 3.0 + offset[s] + eff + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def paired_difference(t: pd.DataFrame) -> float:
    """Mean over draws of (loss at 256 − loss at 64): a seed's two rows must stay together."""
    sign = np.where(t["d_model"].to_numpy() == 256, 1.0, -1.0)
    per_draw = np.bincount(t[DRAW_COLUMN].to_numpy(), weights=sign * t["loss"].to_numpy())
    return float(per_draw.mean())


def test_seeds_travel_jointly_across_widths():
    t = seeds_by_width()
    iv = unit_interval(t, paired_difference, unit="seed", n_boot=200)
    assert iv.method == "bootstrap" and iv.n_units == 6 and iv.unit == "seed"
    # The shared seed offset (sd 1 nat) cancels only if a seed's two widths are drawn together;
    # the paired noise is 0.01·√2 per seed, so the interval is a few hundredths wide.
    assert iv.lo <= -0.3 <= iv.hi and iv.hi - iv.lo < 0.05
    # Independent resampling of the widths would not cancel it: the spread of the unpaired
    # difference is about 1 nat · √(2/6) ≈ 0.6, two orders of magnitude wider.
    assert iv.se < 0.02


def test_draw_column_tells_repeated_units_apart():
    t = seeds_by_width()
    seen = []

    def stat(r):
        seen.append((r[DRAW_COLUMN].nunique(), len(r)))
        return paired_difference(r)

    unit_interval(t, stat, unit="seed", n_boot=20)
    assert all(n == 6 and rows == 12 for n, rows in seen[1:])  # every resample: 6 draws of 2 rows


def test_few_units_use_the_jackknife_t_interval_on_tables():
    t = seeds_by_width(n_seeds=3)
    iv = unit_interval(t, paired_difference, unit="seed")
    per_seed = t.pivot_table(index="seed", columns="d_model", values="loss")
    d = (per_seed[256] - per_seed[64]).to_numpy()
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert iv.method == "t" and (iv.lo, iv.hi) == pytest.approx((d.mean() - half, d.mean() + half))


def test_deterministic_given_a_seed():
    t = seeds_by_width()
    a = unit_interval(t, paired_difference, unit="seed", n_boot=50, seed=3)
    b = unit_interval(t, paired_difference, unit="seed", n_boot=50, seed=3)
    c = unit_interval(t, paired_difference, unit="seed", n_boot=50, seed=4)
    assert np.array_equal(a.draws, b.draws) and (a.lo, a.hi) == (b.lo, b.hi)
    assert not np.array_equal(a.draws, c.draws)


def test_vectorized_and_plain_statistics_agree():
    x = np.random.default_rng(5).normal(size=(7, 3))  # 7 units, 3 measurements each
    plain = array_interval(x, lambda a: float(a[:, 2].mean() - a[:, 0].mean()), n_boot=200, seed=1)
    vec = array_interval(x, lambda a: a[..., 2].mean(axis=-1) - a[..., 0].mean(axis=-1), n_boot=200, seed=1,
                         vectorized=True)
    assert np.allclose(plain.draws, vec.draws) and plain.lo == pytest.approx(vec.lo)


def test_failed_resamples_are_counted_and_left_out():
    x = np.arange(10.0)
    iv = array_interval(x, lambda a: float(a.mean()) if a.min() > 0 else float("nan"), n_boot=400, seed=0)
    assert 0 < iv.n_failed < 400 and np.isfinite([iv.lo, iv.hi]).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"n_boot": 0}, "n_boot"), ({"n_boot": 2.5}, "n_boot"), ({"level": 1.0}, "level"), ({"level": 0}, "level"),
    ({"min_bootstrap_units": 1}, "min_bootstrap_units")])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mean_interval(np.arange(6.0), **kwargs)
    with pytest.raises(ValueError, match=match):
        unit_interval(seeds_by_width(), paired_difference, unit="seed", **kwargs)


def test_bad_tables_and_statistics():
    t = seeds_by_width()
    with pytest.raises(ValueError, match="not in the table"):
        unit_interval(t, paired_difference, unit="trunk")
    with pytest.raises(ValueError, match="empty"):
        unit_interval(t.iloc[:0], paired_difference, unit="seed")
    with pytest.raises(TypeError, match="one number"):
        unit_interval(t, lambda r: r["loss"].to_numpy(), unit="seed")
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="method"):
        Interval(0.0, -1.0, 1.0, 0.95, "normal", "seed", 3, 0.5, 2)
