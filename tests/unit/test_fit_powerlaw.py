"""fit_power_law: exact on noise-free data, honest CIs on noisy data, clear errors on bad input."""

import numpy as np
import pytest

from scalelab.fit import FitInputError, fit_power_law


def test_noise_free_power_law_is_exact():
    x = np.logspace(18, 22, 7)
    fit = fit_power_law(x, 0.3 * x**0.52)
    # Noise-free data: only floating-point rounding separates the fit from the truth.
    assert fit.p == pytest.approx(0.52, rel=1e-12)
    assert fit.k == pytest.approx(0.3, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit(1e20) == pytest.approx(0.3 * 1e20**0.52, rel=1e-9)


def test_bootstrap_ci_covers_truth_and_is_seeded():
    rng = np.random.default_rng(1)
    x = np.logspace(17, 21, 30)
    y = 2.0 * x**-0.125 * np.exp(rng.normal(0, 0.05, x.size))
    a = fit_power_law(x, y, bootstrap=500, seed=3)
    b = fit_power_law(x, y, bootstrap=500, seed=3)
    assert a.p_ci == b.p_ci
    assert a.p_ci[0] < -0.125 < a.p_ci[1]
    assert a.p_ci[1] - a.p_ci[0] < 0.05  # 5% log-noise over 4 decades pins p to ~±0.01
    d = a.to_dict()
    assert set(d) >= {"k", "p", "k_ci", "p_ci"}
    assert "p" in str(a) and "ci_low" in str(a)
    assert list(a.to_frame().columns) == ["value", "ci_low", "ci_high"]


@pytest.mark.parametrize(
    "x, y, msg",
    [
        ([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], "NaN"),
        ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0], "> 0"),
        ([1.0, 0.0, 3.0], [1.0, 2.0, 3.0], "> 0"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], "same length"),
        ([1.0], [2.0], "at least 2"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "equal"),
    ],
)
def test_bad_input_raises(x, y, msg):
    with pytest.raises(FitInputError, match=msg):
        fit_power_law(x, y)
