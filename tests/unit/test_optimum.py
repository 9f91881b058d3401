import json
import math

import numpy as np
import pytest

from scalelab.optimum import CLIFF_NATS, optima_1d, optimum_1d, optimum_2d

# An uneven log2-LR grid (steps of 1, ½, ¼ and 2 octaves) and a bowl whose vertex is off the grid.
X = np.array([-12.0, -10.0, -9.0, -8.5, -8.25, -8.0, -7.0, -6.0])
M, L0, C = -8.4, 3.0, 0.08  # vertex (octaves), loss there (nats), curvature/2 (nats per octave²)


def bowl(x):
    return L0 + C * (np.asarray(x) - M) ** 2


def test_exact_quadratic_on_uneven_grid_is_recovered():
    o = optimum_1d(X, bowl(X))
    assert o.fitted and o.interior and o.points_used == 3
    assert o.x_opt == pytest.approx(M, abs=1e-9) and o.loss_at_opt == pytest.approx(L0, abs=1e-12)
    assert o.x_best == -8.5 and o.window == (-9.0, -8.25)
    assert o.curvature == pytest.approx(2 * C)


def test_least_squares_over_a_wider_window_and_any_input_order():
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(X))
    o = optimum_1d(X[perm], bowl(X)[perm], neighbours=2)
    assert o.points_used == 5 and o.x_opt == pytest.approx(M, abs=1e-9)


def test_three_points_match_the_classic_parabola_vertex():
    # On an even grid with no divergence the rule reduces to the textbook three-point vertex.
    rng = np.random.default_rng(0)
    x = np.arange(-10.0, -3.0)
    for _ in range(50):
        y = bowl(x * 0.9) + rng.normal(0, 0.02, len(x))
        i = int(np.argmin(y))
        if not 0 < i < len(x) - 1:
            continue
        y0, y1, y2 = y[i - 1:i + 2]
        expected = x[i] + (y0 - y2) / (2 * (y0 - 2 * y1 + y2))
        o = optimum_1d(x, y)
        assert o.fitted and o.x_opt == pytest.approx(expected, abs=1e-9)
        assert x[i - 1] <= o.x_opt <= x[i + 1]


def test_diverged_neighbour_keeps_the_grid_best_and_stays_interior():
    y = bowl(X)
    y[4] = np.nan  # -8.25, the neighbour above the best point (-8.5)
    o = optimum_1d(X, y)
    assert not o.fitted and o.interior
    assert o.x_opt == -8.5 and o.loss_at_opt == y[3] and o.points_used == 1
    assert "above diverged" in o.reason
    y = bowl(X)
    y[2] = np.inf  # -9, the neighbour below
    o = optimum_1d(X, y)
    assert not o.fitted and o.interior and "below diverged" in o.reason


def test_divergence_outside_the_window_changes_nothing():
    y = bowl(X)
    y[-1] = np.nan  # -6, far above the best point
    assert optimum_1d(X, y) == optimum_1d(X[:-1], y[:-1])


def test_cliff_stops_the_window():
    y = bowl(X)
    y[4] += CLIFF_NATS + 0.5  # a near-divergent run next to the best point
    o = optimum_1d(X, y)
    assert not o.fitted and o.x_opt == -8.5 and "cliff above" in o.reason
    assert optimum_1d(X, y, cliff=math.inf).fitted  # the same curve, cliffs disabled
    # With a wider window the walk stops at the cliff: the fit uses the points before it, never beyond.
    y = bowl(X)
    y[5] += CLIFF_NATS + 0.5  # -8.0, two steps above the best
    o = optimum_1d(X, y, neighbours=2)
    assert o.fitted and o.points_used == 4 and o.window == (-10.0, -8.25)


def test_edges_are_not_interior():
    y = bowl(X - 3)  # vertex at -5.4, beyond the high end
    o = optimum_1d(X, y)
    assert not o.interior and not o.fitted and o.x_opt == X[-1] and "high end" in o.reason
    o = optimum_1d(X, bowl(X + 6))  # vertex at -14.4
    assert not o.interior and o.x_opt == X[0] and "low end" in o.reason


def test_edge_next_to_divergence_is_still_interior():
    # A diverged point beyond the best counts as worse than it: the optimum is bracketed.
    y = bowl(X - 3)
    y[-1] = np.nan
    o = optimum_1d(X, y)
    assert o.interior and o.x_opt == X[-2] and "diverged" in o.reason


def test_not_convex_keeps_the_grid_best():
    x = np.arange(5.0)
    o = optimum_1d(x, [0.2, 0.9, 0.0, 0.9, 0.2], neighbours=2, cliff=math.inf)
    assert not o.fitted and "not convex" in o.reason and o.x_opt == 2.0


def test_nothing_finite():
    o = optimum_1d(X, np.full(len(X), np.nan))
    assert math.isnan(o.x_opt) and not o.interior and "every point diverged" in o.reason
    json.dumps(o.to_dict())


def test_band_extent_1d():
    o = optimum_1d(X, bowl(X), band=0.0025)
    half = math.sqrt(0.0025 * L0 / C)  # C·h² = band·L0
    assert o.band_extent == pytest.approx((M - half, M + half))
    assert o.band_ratio == pytest.approx(2 ** (2 * half))
    # ±0.31 octaves around -8.4 reaches -8.09, beyond the window's top (-8.25): flagged as extrapolated
    assert o.window == (-9.0, -8.25) and o.band_inside_window is False
    o_wide = optimum_1d(X, bowl(X), neighbours=2)
    assert o_wide.window == (-10.0, -8.0) and o_wide.band_inside_window is True


def test_rows_and_json():
    rows = np.stack([bowl(X), bowl(X + 1), np.full(len(X), np.nan)])
    out = optima_1d(X, rows)
    assert out[0] == pytest.approx(M) and out[1] == pytest.approx(M - 1) and math.isnan(out[2])
    d = json.loads(json.dumps(optimum_1d(X, bowl(X)).to_dict(), allow_nan=False))
    assert d["fitted"] is True and d["band_extent"][0] < d["x_opt"]


@pytest.mark.parametrize("kwargs, match", [
    ({"neighbours": 0}, "neighbours"), ({"cliff": -1.0}, "cliff"), ({"band": -0.1}, "band")])
def test_bad_rule_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optimum_1d(X, bowl(X), **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="duplicate"):
        optimum_1d([1.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one loss per grid point"):
        optimum_1d([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        optimum_1d([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="twice"):
        optimum_2d([1.0, 1.0], [2.0, 2.0], [1.0, 2.0])


# 2-D: log2 batch (uneven: 1-octave and ½-octave steps) × log2 LR (½-octave steps), a tilted bowl.
UG = np.array([2.0, 3.0, 4.0, 4.5, 5.0, 6.0, 7.0])
VG = np.arange(-10.0, -5.5, 0.5)
OPT = np.array([4.3, -8.2])
HESS = np.array([[0.06, 0.025], [0.025, 0.2]])


def surface(u, v, loss0=3.0):
    d = np.stack([u - OPT[0], v - OPT[1]], axis=-1)
    return loss0 + 0.5 * np.einsum("...i,ij,...j->...", d, HESS, d)


def grid2d(drop=()):
    U, V = np.meshgrid(UG, VG, indexing="ij")
    keep = np.ones(U.shape, bool)
    for a, b in drop:
        keep[a, b] = False
    return U[keep], V[keep]


def test_2d_recovers_a_known_quadratic_on_an_uneven_partial_grid():
    u, v = grid2d(drop=[(0, 0), (6, 8), (2, 1)])  # missing corner cells and one far cell
    o = optimum_2d(u, v, surface(u, v))
    assert o.fitted and o.interior and o.points_used == 9
    assert o.x_opt == pytest.approx(tuple(OPT), abs=1e-9) and o.loss_at_opt == pytest.approx(3.0)
    assert np.allclose(o.hessian, HESS)
    # Near-optimal extent at 0.25%: half-width √(2·Δ·(H⁻¹)ᵢᵢ) with Δ = 0.0025·3 nats.
    half = np.sqrt(2 * 0.0025 * 3.0 * np.diag(np.linalg.inv(HESS)))
    assert np.allclose(o.band_extent, [(OPT[0] - half[0], OPT[0] + half[0]), (OPT[1] - half[1], OPT[1] + half[1])])
    assert o.band_ratio == pytest.approx(tuple(2 ** (2 * half)))
    json.loads(json.dumps(o.to_dict(), allow_nan=False))


def test_2d_noisy_recovery():
    rng = np.random.default_rng(3)
    u, v = grid2d()
    errs = []
    for _ in range(20):
        o = optimum_2d(u, v, surface(u, v) + rng.normal(0, 0.002, len(u)))
        assert o.fitted
        errs.append(np.subtract(o.x_opt, OPT))
    # 2 mnats of noise against curvatures of 0.06–0.2 nats/octave²: the vertex moves by ~0.1 octave
    assert np.abs(np.mean(errs, axis=0)).max() < 0.1 and np.abs(errs).max() < 0.5


def test_2d_diverged_and_cliff_cells_leave_the_window():
    u, v = grid2d()
    y = surface(u, v)
    best = np.argmin(y)
    nb = (np.abs(u - u[best]) <= 0.5) & (np.abs(v - v[best]) <= 0.5) & ~((u == u[best]) & (v == v[best]))
    j = np.flatnonzero(nb & (u > u[best]) & (v > v[best]))[0]  # the up-right diagonal neighbour
    y_div = y.copy()
    y_div[j] = np.nan
    o = optimum_2d(u, v, y_div)
    assert o.fitted and o.points_used == 8 and o.x_opt == pytest.approx(tuple(OPT), abs=1e-9)
    y_cliff = y.copy()
    y_cliff[j] += 2.0
    o2 = optimum_2d(u, v, y_cliff)
    assert o2.fitted and o2.points_used == 8 and o2.x_opt == pytest.approx(tuple(OPT), abs=1e-9)


def test_2d_edge_is_flagged_and_not_fitted():
    u, v = grid2d()
    shifted = surface(u - 4.0, v)  # optimum beyond the high end of the batch axis
    o = optimum_2d(u, v, shifted)
    assert not o.interior and o.interior_axes == (False, True) and not o.fitted
    assert "high end of log2 batch" in o.reason and o.x_opt == o.x_best


def test_2d_all_neighbours_above_diverged():
    u, v = grid2d()
    y = surface(u, v)
    best = np.argmin(y)
    y[v > v[best]] = np.nan  # every higher LR diverged
    o = optimum_2d(u, v, y)
    assert o.interior and not o.fitted and "above along log2 LR" in o.reason
