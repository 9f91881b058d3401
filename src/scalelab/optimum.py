"""The optimum of a loss measured on a grid: one local quadratic rule, in 1-D and 2-D.

Every chapter that asks "where is the best learning rate?" (or the best batch size and learning rate
together) answers it with this module, so that one grid gets one answer everywhere. The chapters
use it on log2 LR grids (chapters 1–3, the μP derivation, μTransfer ablations and WSD vs cosine) and on
(log2 batch, log2 LR) grids (chapter 4, DeepSeek's laws, arXiv 2401.02954 §3.1).

**The rule, in words.** Losses are in nats; coordinates are log2 units (octaves), and a grid may be
unevenly spaced or, in 2-D, have cells missing.

1. *Diverged runs.* A NaN or infinite loss is a diverged run. It stays a point of the grid and counts
   as worse than every finite loss, so a best point next to a divergence is still bracketed, but it
   has no loss value and never enters a fit.
2. *The best point* is the grid point with the lowest finite loss (ties: the first in grid order).
3. *Edges.* The optimum is *interior* only when the best point has a grid point (finite or diverged)
   on both sides along every axis (in 2-D: along its own row and column). Otherwise it is flagged
   not interior: the grid does not bracket the optimum and the grid should be widened.
4. *Cliffs.* A jump of more than ``cliff`` nats (default :data:`CLIFF_NATS` = 1 nat, a factor e in
   perplexity) between neighbouring grid points is a cliff: the run on the far side is near
   divergence, not on the same smooth bowl. The fit window never spans a cliff.
5. *The window* is the best point plus its neighbours up to ``neighbours`` grid steps away along each
   axis (default 1: three points in 1-D, a 3×3 block in 2-D), reached from the best point through
   finite points without crossing a cliff. In 1-D the window stops at the first diverged point or
   cliff on each side; in 2-D it is the set of window points connected to the best point through
   neighbouring cells (diagonals included) with no cliff between them.
6. *The fit.* A quadratic (``a + b·x + c·x²``; in 2-D the full quadratic with the cross term) is fitted
   to the window by least squares. It is used only when the window reaches at least one finite
   point on both sides of the best point along every axis, the quadratic is convex (positive
   definite in 2-D) and its vertex lies inside the window. Then the optimum is the vertex and the
   loss at the optimum is the quadratic's value there.
7. *Otherwise* the optimum is the best grid point itself, ``fitted`` is False and ``reason`` says why
   (edge, diverged neighbour, cliff, not convex, vertex outside the window). Its resolution is then
   the grid step, which callers should carry as an uncertainty (a step h contributes h/√12).

**The near-optimal extent.** From a fitted quadratic, the configurations within a relative ``band``
of the optimum (loss ≤ (1 + band)·loss at the optimum; DeepSeek use 0.25%) form an interval in 1-D
and an ellipse in 2-D. The extent along each axis is that set's projection on the axis: with Hessian
H and Δ = band·loss at the optimum, the half-width along axis i is √(2Δ·(H⁻¹)ᵢᵢ). When the extent
reaches beyond the fit window, it is an extrapolation of the local quadratic and is flagged so.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

CLIFF_NATS = 1.0  # a jump between neighbouring grid points above this (nats) is a cliff
NEIGHBOURS = 1  # grid steps on each side of the best point that the fit window may reach
BAND = 0.0025  # relative near-optimal band (DeepSeek LLM, arXiv 2401.02954 §3.1: 0.25%)


@dataclass(frozen=True)
class Optimum1D:
    """The optimum of a loss curve on a 1-D grid (x in log2 units, e.g. log2 LR).

    Attributes:
        x_opt: the optimum (the fitted vertex, or the best grid point when not fitted).
        loss_at_opt: the loss there (the quadratic's value at the vertex, or the best grid loss).
        interior: the best point has grid points on both sides (diverged ones count).
        fitted: whether the quadratic was used.
        points_used: points in the fit window (1 when not fitted).
        reason: why the result is what it is, in words.
        x_best: the best grid point.
        loss_best: its loss.
        window: (lowest, highest) x of the fit window.
        curvature: d²loss/dx² of the fitted quadratic (NaN when not fitted).
        band: the relative near-optimal band of :attr:`band_extent`.
        band_extent: (lo, hi) x where the quadratic is within ``band`` of the optimum (None unless fitted).
        band_inside_window: whether that extent lies inside the fit window (False: an extrapolation).
    """

    x_opt: float
    loss_at_opt: float
    interior: bool
    fitted: bool
    points_used: int
    reason: str
    x_best: float
    loss_best: float
    window: tuple[float, float]
    curvature: float
    band: float
    band_extent: tuple[float, float] | None
    band_inside_window: bool

    @property
    def band_ratio(self) -> float:
        """The near-optimal extent as a ratio of the quantity itself (2^(hi − lo); NaN without a fit)."""
        return float("nan") if self.band_extent is None else float(2.0 ** (self.band_extent[1] - self.band_extent[0]))

    def to_dict(self) -> dict:
        """JSON-ready fields (non-finite numbers as None)."""
        return _jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class Optimum2D:
    """The optimum of a loss surface on a 2-D grid (u, v in log2 units, e.g. log2 batch, log2 LR).

    Attributes:
        x_opt: (u, v) of the optimum (fitted vertex, or the best grid point when not fitted).
        loss_at_opt: the loss there.
        interior: interior along both axes.
        interior_axes: (along u, along v).
        fitted: whether the quadratic surface was used.
        points_used: points in the fit window (1 when not fitted).
        reason: why the result is what it is, in words.
        x_best: the best grid point (u, v).
        loss_best: its loss.
        window: ((u lo, u hi), (v lo, v hi)) bounding box of the fit window.
        hessian: the fitted surface's Hessian ((H_uu, H_uv), (H_uv, H_vv)), None when not fitted.
        band: the relative near-optimal band of :attr:`band_extent`.
        band_extent: ((u lo, u hi), (v lo, v hi)): the near-optimal ellipse's projection on each axis
            (None unless fitted).
        band_inside_window: whether that extent lies inside the window's bounding box.
    """

    x_opt: tuple[float, float]
    loss_at_opt: float
    interior: bool
    interior_axes: tuple[bool, bool]
    fitted: bool
    points_used: int
    reason: str
    x_best: tuple[float, float]
    loss_best: float
    window: tuple[tuple[float, float], tuple[float, float]]
    hessian: tuple[tuple[float, float], tuple[float, float]] | None
    band: float
    band_extent: tuple[tuple[float, float], tuple[float, float]] | None
    band_inside_window: bool

    @property
    def band_ratio(self) -> tuple[float, float]:
        """The near-optimal extent along each axis as a ratio (2^(hi − lo)); NaN without a fit."""
        if self.band_extent is None:
            return float("nan"), float("nan")
        return tuple(float(2.0 ** (hi - lo)) for lo, hi in self.band_extent)

    def to_dict(self) -> dict:
        """JSON-ready fields (non-finite numbers as None)."""
        return _jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _validate_rule(neighbours: int, cliff: float, band: float) -> None:
    if not isinstance(neighbours, (int, np.integer)) or isinstance(neighbours, bool) or neighbours < 1:
        raise ValueError(f"neighbours must be an integer >= 1 (grid steps on each side), got {neighbours!r}")
    if not (cliff > 0):
        raise ValueError(f"cliff must be > 0 nats (use math.inf to disable cliffs), got {cliff!r}")
    if not (np.isfinite(band) and band >= 0):
        raise ValueError(f"band must be a finite relative margin >= 0 (0.0025 is 0.25%), got {band!r}")


def _coords(name: str, a, n: int | None = None) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {a.shape}")
    if n is not None and a.size != n:
        raise ValueError(f"{name} has {a.size} values; expected {n} (one per grid point)")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (grid coordinates); got {a[~np.isfinite(a)][:3].tolist()}")
    return a


def optimum_1d(x, loss, *, neighbours: int = NEIGHBOURS, cliff: float = CLIFF_NATS,
               band: float = BAND) -> Optimum1D:
    """The optimum of one loss curve on a (possibly uneven) grid, by the module's rule.

    Args:
        x: grid coordinates in log2 units (e.g. log2 LR), any order, no duplicates.
        loss: the loss at each point in nats; NaN or ±inf marks a diverged run.
        neighbours: grid steps on each side of the best point that the fit window may reach.
        cliff: a jump between neighbouring points larger than this (nats) is a cliff.
        band: relative band for :attr:`Optimum1D.band_extent`.

    Returns:
        An :class:`Optimum1D`.

    Raises:
        ValueError: empty or mismatched inputs, non-finite or duplicate x, or a bad rule parameter.
    """
    _validate_rule(neighbours, cliff, band)
    x = _coords("x", x)
    y = np.asarray(loss, dtype=float)
    if y.shape != x.shape:
        raise ValueError(f"loss has shape {y.shape}; expected {x.shape} (one loss per grid point)")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise ValueError(f"duplicate x values {np.unique(x[1:][np.diff(x) == 0]).tolist()}: average "
                         "repeated runs (e.g. over seeds) before locating the optimum")
    fin = np.isfinite(y)
    n = len(x)
    if not fin.any():
        return Optimum1D(float("nan"), float("nan"), False, False, 0, "no finite loss: every point diverged",
                         float("nan"), float("nan"), (float("nan"), float("nan")), float("nan"), band, None, False)
    i = int(np.argmin(np.where(fin, y, np.inf)))
    interior = 0 < i < n - 1
    lo, lo_why = _walk(y, fin, i, -1, neighbours, cliff)
    hi, hi_why = _walk(y, fin, i, +1, neighbours, cliff)

    def grid_best(reason: str, window=(i, i)) -> Optimum1D:
        return Optimum1D(float(x[i]), float(y[i]), interior, False, 1, reason, float(x[i]), float(y[i]),
                         (float(x[window[0]]), float(x[window[1]])), float("nan"), band, None, False)

    if lo == i or hi == i:
        whys = []
        if lo == i:
            whys.append(_side_reason(lo_why, "below", "low", y, i, i - 1))
        if hi == i:
            whys.append(_side_reason(hi_why, "above", "high", y, i, i + 1))
        return grid_best("; ".join(whys) + ": the best grid point is kept")
    xs, ys = x[lo:hi + 1], y[lo:hi + 1]
    dx = xs - x[i]  # centred on the best point for a well-conditioned fit
    A = np.stack([np.ones_like(dx), dx, dx * dx], axis=1)
    c0, c1, c2 = np.linalg.lstsq(A, ys, rcond=None)[0]
    if not c2 > 0:
        return grid_best(f"quadratic through {len(xs)} points is not convex: the best grid point is kept", (lo, hi))
    v = -c1 / (2 * c2)
    if not (dx[0] <= v <= dx[-1]):
        return grid_best(f"vertex {x[i] + v:.3g} lies outside the fit window [{xs[0]:.3g}, {xs[-1]:.3g}]: "
                         "the best grid point is kept", (lo, hi))
    x_opt = float(x[i] + v)
    y_opt = float(c0 - c1 * c1 / (4 * c2))
    half = float(np.sqrt(band * max(y_opt, 0.0) / c2))  # ½·(2c2)·h² = band·y_opt
    ext = (x_opt - half, x_opt + half)
    return Optimum1D(x_opt, y_opt, interior, True, int(len(xs)), f"fitted: quadratic through {len(xs)} points",
                     float(x[i]), float(y[i]), (float(xs[0]), float(xs[-1])), float(2 * c2), band, ext,
                     bool(ext[0] >= xs[0] and ext[1] <= xs[-1]))


def _walk(y, fin, i: int, step: int, neighbours: int, cliff: float) -> tuple[int, str]:
    """Last index the window reaches from ``i`` in direction ``step``, and why it stopped there."""
    j = i
    for _ in range(neighbours):
        k = j + step
        if k < 0 or k >= len(y):
            return j, "edge"
        if not fin[k]:
            return j, "diverged"
        if abs(y[k] - y[j]) > cliff:
            return j, "cliff"
        j = k
    return j, ""


def _side_reason(why: str, side: str, end: str, y, i: int, k: int) -> str:
    if why == "edge":
        return f"edge: the best point is at the {end} end of the grid (not interior)"
    if why == "diverged":
        return f"the neighbour {side} diverged"
    return f"cliff {side}: the neighbour's loss jumps by {abs(y[k] - y[i]):.3g} nats"


def optima_1d(x, losses, **rule) -> np.ndarray:
    """:func:`optimum_1d`'s ``x_opt`` for each row of ``losses`` (shape (k, len(x))), e.g. per seed or resample.

    Args:
        x: the common grid.
        losses: one loss curve per row.
        **rule: ``neighbours``, ``cliff``, ``band`` as in :func:`optimum_1d`.

    Returns:
        Array of shape (k,): NaN where a curve has no finite loss.
    """
    L = np.atleast_2d(np.asarray(losses, dtype=float))
    return np.array([optimum_1d(x, row, **rule).x_opt for row in L])


def optimum_2d(u, v, loss, *, neighbours: int = NEIGHBOURS, cliff: float = CLIFF_NATS, band: float = BAND,
               axes: tuple[str, str] = ("log2 batch", "log2 LR")) -> Optimum2D:
    """The optimum of a loss surface on a 2-D grid (cells may be missing), by the module's rule.

    Args:
        u: first coordinate of each point, log2 units (e.g. log2 batch size).
        v: second coordinate, log2 units (e.g. log2 LR).
        loss: the loss at each point in nats; NaN or ±inf marks a diverged run.
        neighbours: grid steps along each axis that the fit window may reach from the best point.
        cliff: a jump between neighbouring cells larger than this (nats) is a cliff.
        band: relative band for :attr:`Optimum2D.band_extent`.
        axes: the two axes' names, used in ``reason``.

    Returns:
        An :class:`Optimum2D`.

    Raises:
        ValueError: empty or mismatched inputs, non-finite coordinates, a repeated (u, v) cell, or a bad
            rule parameter.
    """
    _validate_rule(neighbours, cliff, band)
    u = _coords("u", u)
    v = _coords("v", v, len(u))
    y = np.asarray(loss, dtype=float)
    if y.shape != u.shape:
        raise ValueError(f"loss has shape {y.shape}; expected {u.shape} (one loss per grid point)")
    ug, ui = np.unique(u, return_inverse=True)
    vg, vi = np.unique(v, return_inverse=True)
    cell = ui * len(vg) + vi
    if len(np.unique(cell)) != len(cell):
        raise ValueError("a (u, v) cell appears twice: average repeated runs (e.g. over seeds) first")
    nan2 = (float("nan"), float("nan"))
    fin = np.isfinite(y)
    if not fin.any():
        return Optimum2D(nan2, float("nan"), False, (False, False), False, 0, "no finite loss: every point diverged",
                         nan2, float("nan"), (nan2, nan2), None, band, None, False)
    k = int(np.argmin(np.where(fin, y, np.inf)))
    idx = np.stack([ui, vi], axis=1)
    # Interior along an axis: grid points (diverged ones count) on both sides, on the best point's own line.
    interior_axes = []
    for ax in (0, 1):
        line = idx[:, 1 - ax] == idx[k, 1 - ax]
        interior_axes.append(bool((idx[line, ax] < idx[k, ax]).any() and (idx[line, ax] > idx[k, ax]).any()))
    interior = all(interior_axes)
    best = (float(u[k]), float(v[k]))

    # The window: cells within `neighbours` steps of the best on each axis, connected to it through
    # finite neighbouring cells (8-connectivity) with no jump above `cliff`.
    near = np.all(np.abs(idx - idx[k]) <= neighbours, axis=1)
    lookup = {(int(a), int(b)): j for j, (a, b) in enumerate(idx)}
    seen, queue, cliffs = {k}, deque([k]), 0
    while queue:
        j = queue.popleft()
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                m = lookup.get((int(idx[j, 0]) + da, int(idx[j, 1]) + db))
                if m is None or m in seen or not near[m] or not fin[m]:
                    continue
                if abs(y[m] - y[j]) > cliff:
                    cliffs += 1
                    continue
                seen.add(m)
                queue.append(m)
    w = np.array(sorted(seen))
    box = ((float(u[w].min()), float(u[w].max())), (float(v[w].min()), float(v[w].max())))

    def grid_best(reason: str) -> Optimum2D:
        return Optimum2D(best, float(y[k]), interior, tuple(interior_axes), False, 1, reason + ": the best grid "
                         "point is kept", best, float(y[k]), box, None, band, None, False)

    missing = []
    for ax, name in ((0, axes[0]), (1, axes[1])):
        for side in (-1, 1):
            if not np.any(side * (idx[w, ax] - idx[k, ax]) > 0):
                line = idx[:, 1 - ax] == idx[k, 1 - ax]
                if not np.any(side * (idx[line, ax] - idx[k, ax]) > 0):
                    missing.append(f"edge: the best point is at the {'low' if side < 0 else 'high'} end of {name}")
                else:
                    why = "diverged, missing or beyond a cliff" if cliffs else "diverged or missing"
                    missing.append(f"no usable neighbour {'below' if side < 0 else 'above'} along {name} ({why})")
    if missing:
        return grid_best("; ".join(missing))
    du, dv = u[w] - u[k], v[w] - v[k]
    A = np.stack([np.ones_like(du), du, dv, du * du, du * dv, dv * dv], axis=1)
    if len(w) < 6 or np.linalg.matrix_rank(A) < 6:
        return grid_best(f"{len(w)} usable points do not determine a quadratic surface (6 coefficients)")
    c = np.linalg.lstsq(A, y[w], rcond=None)[0]
    H = np.array([[2 * c[3], c[4]], [c[4], 2 * c[5]]])
    g = c[1:3]
    if not (H[0, 0] > 0 and np.linalg.det(H) > 0):
        return grid_best(f"quadratic surface through {len(w)} points is not convex")
    Hinv = np.linalg.inv(H)
    z = -Hinv @ g
    if not (du.min() <= z[0] <= du.max() and dv.min() <= z[1] <= dv.max()):
        return grid_best(f"vertex ({u[k] + z[0]:.3g}, {v[k] + z[1]:.3g}) lies outside the fit window")
    x_opt = (float(u[k] + z[0]), float(v[k] + z[1]))
    y_opt = float(c[0] + 0.5 * g @ z)
    delta = band * max(y_opt, 0.0)
    half = np.sqrt(2 * delta * np.diag(Hinv))
    ext = ((x_opt[0] - half[0], x_opt[0] + half[0]), (x_opt[1] - half[1], x_opt[1] + half[1]))
    inside = all(box[a][0] <= ext[a][0] and ext[a][1] <= box[a][1] for a in (0, 1))
    hess = ((float(H[0, 0]), float(H[0, 1])), (float(H[1, 0]), float(H[1, 1])))
    return Optimum2D(x_opt, y_opt, interior, tuple(interior_axes), True, int(len(w)),
                     f"fitted: quadratic surface through {len(w)} points", best, float(y[k]), box, hess, band,
                     tuple((float(a), float(b)) for a, b in ext), bool(inside))
