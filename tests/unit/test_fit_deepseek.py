"""near_optimal_fit recovers η_opt(C) and B_opt(C) from a synthetic loss landscape."""

import numpy as np
import pandas as pd
import pytest

from scalelab.fit import FitInputError, near_optimal_fit


def landscape(eta_law=(0.3118, -0.125), b_law=(0.2920, 0.3271)):
    """Loss bowl in (log lr, log batch) centred on the laws; symmetric, so the near-optimal
    set is centred on the optimum and its log-mean is the optimum."""
    rows = []
    for C in np.logspace(17, 20, 7):
        eta0, b0 = eta_law[0] * C ** eta_law[1], b_law[0] * C ** b_law[1]
        for dl in np.linspace(-1.0, 1.0, 9):
            for db in np.linspace(-1.0, 1.0, 9):
                loss = 3.0 * (1 + 0.011 * dl**2 + 0.011 * db**2)
                rows.append({"flops": C, "lr": eta0 * np.exp(dl), "batch_tokens": b0 * np.exp(db), "loss": loss})
    return pd.DataFrame(rows)


def test_recovers_laws():
    res = near_optimal_fit(landscape(), bootstrap=200)
    # The grid is symmetric around the optimum in log space, so the pooled near-optimal points are
    # symmetric too and the fit is exact up to rounding.
    assert res.eta.p == pytest.approx(-0.125, abs=1e-9)
    assert res.eta.k == pytest.approx(0.3118, rel=1e-6)
    assert res.batch.p == pytest.approx(0.3271, abs=1e-9)
    assert res.batch.k == pytest.approx(0.2920, rel=1e-6)
    assert res.eta.p_ci[0] <= -0.125 <= res.eta.p_ci[1]
    # 0.25% band, curvature 1.1% per unit², grid step 0.25: dl²+db² ≤ 0.227 keeps the centre,
    # its 4 neighbours and 4 diagonals — 9 configs per budget.
    assert (res.points.groupby("flops").size() == 9).all()
    assert (res.points["excess"] <= 0.0025 + 1e-12).all()
    assert res.eta_opt(1e20) == pytest.approx(0.3118 * 1e20**-0.125, rel=1e-6)
    assert "eta_p" in res.to_dict() and "batch_p" in str(res)


def test_bad_tables():
    df = landscape()
    with pytest.raises(FitInputError, match="missing"):
        near_optimal_fit(df.drop(columns="lr"))
    bad = df.copy()
    bad.loc[3, "loss"] = np.nan
    with pytest.raises(FitInputError, match="NaN"):
        near_optimal_fit(bad)
    with pytest.raises(FitInputError, match="2 compute budgets"):
        near_optimal_fit(df[df["flops"] == df["flops"].iloc[0]])
