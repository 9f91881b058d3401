"""Intervals over the unit the design varies: a unit bootstrap, or a t interval when units are few.

Every interval behind a verdict in the book comes from :func:`unit_interval` (a table of runs) or
:func:`array_interval` (an array with one row per unit). Used by :mod:`scalelab.verdicts` and every
chapter's ``analyze``.

**The resampling unit.** An interval is only as honest as the unit it resamples. The unit is the
thing that was replicated independently in the design, and a resample draws whole units with every
row that belongs to them:

- *seeds, jointly across widths (or ablations, or schedules)*: one seed fixes the data order at every
  width, so a seed's runs at all widths travel together; widths are never resampled independently.
- *budgets*: a fit across compute budgets (a power law through per-budget optima) resamples budgets,
  each with all of its grid points; never the individual points.
- *pairs sharing a trunk*: branches cooled down from the same trunk checkpoint differ only after the
  branch point; a trunk and all of its branches are one unit.

**The interval.** Let n be the number of units and α = 1 − level.

- *n ≥ 5: bootstrap.* B resamples of n units drawn with replacement (NumPy's default generator,
  seeded, so the interval is reproducible); the statistic is recomputed on each. The interval is the
  *expanded percentile* interval (T. Hesterberg, "What Teachers Should Know About the Bootstrap",
  The American Statistician 69(4), 2015): the percentiles at α′/2 and 1 − α′/2, where
  Φ⁻¹(1 − α′/2) = √(n/(n − 1))·t₍n−1₎(1 − α/2). It widens the plain percentile interval to undo the
  bootstrap's narrowness with few units (its spread is √((n − 1)/n) of the true one), so that for a
  mean it covers at the stated rate already at small n. The standard error is the standard deviation
  of the resampled statistics.
- *2 ≤ n < 5: t interval.* With fewer than five units a bootstrap has too few distinct resamples (two
  seeds give three) to be believed. The interval is estimate ± t₍n−1₎(1 − α/2)·se, with se the
  leave-one-unit-out jackknife standard error, √((n − 1)/n·Σ(θ₍ᵢ₎ − θ̄)²); for a mean over units
  this is exactly s/√n, so the interval is Student's.
- *n = 1*: no interval can be formed; it is (−∞, ∞) with an infinite standard error, which a verdict
  reads as "not resolved".

In both cases the degrees of freedom are n − 1: the statistic is a function of n exchangeable units,
and that is the amount of independent replication the design has. A resample whose statistic is not
finite (say an optimum that fell off its grid) is left out and counted in ``n_failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import special

MIN_BOOTSTRAP_UNITS = 5  # below this many units: a t interval (issue: two seeds give three resamples)
N_BOOT = 2000  # default bootstrap resamples
METHODS = ("t", "bootstrap")
DRAW_COLUMN = "_draw"  # in a resampled table: which draw (0..n-1) a row's unit came from


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval, and how the interval was made.

    Attributes:
        estimate: the statistic on the full data.
        lo, hi: the interval's ends.
        level: its confidence level, e.g. 0.95.
        method: ``"t"`` or ``"bootstrap"``.
        unit: what was resampled (e.g. ``"seed"``).
        n_units: how many units the design has.
        se: the standard error (bootstrap standard deviation, or jackknife).
        df: degrees of freedom, n_units − 1.
        n_boot: bootstrap resamples drawn (0 for a t interval).
        n_failed: resamples (or leave-one-out fits) whose statistic was not finite, left out.
        draws: the resampled statistics (bootstrap) or the leave-one-unit-out values (t).
    """

    estimate: float
    lo: float
    hi: float
    level: float
    method: str
    unit: str
    n_units: int
    se: float
    df: int
    n_boot: int = 0
    n_failed: int = 0
    draws: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid: {', '.join(map(repr, METHODS))}")
        _check_level(self.level)

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.hi - self.lo) / 2

    def to_dict(self) -> dict:
        """JSON-ready fields (no draws; non-finite numbers as None)."""
        out = {}
        for k in ("estimate", "lo", "hi", "level", "method", "unit", "n_units", "se", "df", "n_boot", "n_failed"):
            val = getattr(self, k)
            if isinstance(val, float) and not np.isfinite(val):
                val = None
            out[k] = val
        return out


def _check_level(level: float) -> None:
    if not (isinstance(level, (int, float, np.floating)) and 0 < level < 1):
        raise ValueError(f"level must be a confidence level strictly between 0 and 1 (e.g. 0.95), got {level!r}")


def _check_args(level: float, n_boot: int, min_bootstrap_units: int) -> None:
    _check_level(level)
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot <= 0:
        raise ValueError(f"n_boot must be a positive integer (bootstrap resamples), got {n_boot!r}")
    if not isinstance(min_bootstrap_units, (int, np.integer)) or min_bootstrap_units < 2:
        raise ValueError(f"min_bootstrap_units must be an integer >= 2, got {min_bootstrap_units!r}")


@lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """Student's t quantile with ``df`` degrees of freedom (the normal one when df is infinite)."""
    # scipy.special's ufuncs: the same quantiles as scipy.stats, without its per-call overhead (~1 ms)
    return float(special.ndtri(p)) if not np.isfinite(df) else float(special.stdtrit(df, p))


@lru_cache(maxsize=256)
def expanded_alpha(level: float, n_units: int) -> float:
    """The tail probability α′ of the expanded percentile interval (see the module docstring)."""
    q = np.sqrt(n_units / (n_units - 1)) * t_quantile(1 - (1 - level) / 2, n_units - 1)
    return float(2 * special.ndtr(-q))


def _scalar(value, what: str) -> float:
    a = np.asarray(value, dtype=float)
    if a.ndim != 0:
        raise TypeError(f"the statistic must return one number; {what} returned shape {a.shape}")
    return float(a)


def _from_draws(estimate: float, draws: np.ndarray, *, level: float, unit: str, n: int) -> Interval:
    ok = np.isfinite(draws)
    good = draws[ok]
    if good.size < 2:
        return Interval(estimate, -np.inf, np.inf, level, "bootstrap", unit, n, np.inf, n - 1, len(draws),
                        int((~ok).sum()), draws)
    a = expanded_alpha(level, n)
    lo, hi = np.quantile(good, [a / 2, 1 - a / 2])
    return Interval(estimate, float(lo), float(hi), level, "bootstrap", unit, n, float(good.std(ddof=1)), n - 1,
                    len(draws), int((~ok).sum()), draws)


def _from_jackknife(estimate: float, loo: np.ndarray, *, level: float, unit: str, n: int) -> Interval:
    failed = int((~np.isfinite(loo)).sum())
    if failed or not np.isfinite(estimate):
        return Interval(estimate, -np.inf, np.inf, level, "t", unit, n, np.inf, n - 1, 0, failed, loo)
    se = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))
    q = t_quantile(1 - (1 - level) / 2, n - 1)
    return Interval(estimate, estimate - q * se, estimate + q * se, level, "t", unit, n, se, n - 1, 0, 0, loo)


def _unbounded(estimate: float, *, level: float, unit: str) -> Interval:
    return Interval(estimate, -np.inf, np.inf, level, "t", unit, 1, np.inf, 0)


def unit_interval(table: pd.DataFrame, statistic: Callable[[pd.DataFrame], float], *, unit: str | Sequence[str],
                  level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0,
                  min_bootstrap_units: int = MIN_BOOTSTRAP_UNITS) -> Interval:
    """The interval of ``statistic(table)``, resampling whole units (all the rows of each).

    A resampled table holds, for each of the n draws, every row of the drawn unit, with the unit's
    columns unchanged (a budget keeps its FLOPs) and a column :data:`DRAW_COLUMN` numbering the draws, so
    that a statistic which must tell repeated draws of one unit apart (e.g. pivoting by seed) can use it.
    The estimate itself is ``statistic`` of the full table arranged the same way (each unit one draw).
    The statistic runs ``n_boot`` times: keep it to numpy and ``groupby`` (a ``pivot_table`` per call
    costs ~10 ms), or arrange the data by unit and use :func:`array_interval` with ``vectorized=True``.

    Args:
        table: one row per run (or per measurement).
        statistic: maps a table like ``table`` to one number (e.g. the shift of the optimum between two
            widths of the seed-mean curves).
        unit: the column (or columns) naming the unit: ``"seed"``, ``"budget"``, ``"trunk"``, …
        level: confidence level, in (0, 1).
        n_boot: bootstrap resamples (used when there are at least ``min_bootstrap_units`` units).
        seed: seed of the resampling generator.
        min_bootstrap_units: fewer units than this get a t interval.

    Returns:
        An :class:`Interval`.

    Raises:
        ValueError: bad ``level``/``n_boot``, an empty table, or a unit column that is missing or has NaN.
        TypeError: a statistic that returns more than one number.
    """
    _check_args(level, n_boot, min_bootstrap_units)
    cols = [unit] if isinstance(unit, str) else list(unit)
    if not cols:
        raise ValueError("unit must name at least one column")
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"unit column(s) {missing} not in the table; columns: {list(table.columns)}")
    if len(table) == 0:
        raise ValueError("the table is empty: nothing to resample")
    if table[cols].isna().any().any():
        raise ValueError(f"unit column(s) {cols} contain NaN: every row must belong to a unit")
    if DRAW_COLUMN in table.columns:
        raise ValueError(f"the table already has a {DRAW_COLUMN!r} column (reserved for resampled tables)")
    label = "+".join(cols)
    groups = list(table.groupby(cols, sort=True).indices.values())  # row positions of each unit
    n = len(groups)
    sizes = np.array([len(g) for g in groups])

    def take(units: np.ndarray) -> pd.DataFrame:
        out = table.iloc[np.concatenate([groups[g] for g in units])].reset_index(drop=True)
        out[DRAW_COLUMN] = np.repeat(np.arange(len(units)), sizes[units])
        return out

    estimate = _scalar(statistic(take(np.arange(n))), "statistic(table)")
    if n == 1:
        return _unbounded(estimate, level=level, unit=label)

    if n < min_bootstrap_units:
        loo = np.array([_scalar(statistic(take(np.delete(np.arange(n), i))), "statistic(leave-one-out)")
                        for i in range(n)])
        return _from_jackknife(estimate, loo, level=level, unit=label, n=n)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    draws = np.array([_scalar(statistic(take(row)), "statistic(resample)") for row in idx])
    return _from_draws(estimate, draws, level=level, unit=label, n=n)


def array_interval(values, statistic: Callable[[np.ndarray], float | np.ndarray], *, unit: str = "unit",
                   level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0, vectorized: bool = False,
                   min_bootstrap_units: int = MIN_BOOTSTRAP_UNITS) -> Interval:
    """The interval of ``statistic(values)``, where ``values`` has one row (axis 0) per unit.

    Same rule as :func:`unit_interval`, for data already arranged by unit (e.g. a (seeds, widths, LRs)
    array of losses: a seed's row travels with all of its widths).

    Args:
        values: array of shape (n_units, ...).
        statistic: maps an array of shape (m, ...) to one number. With ``vectorized=True`` it instead maps
            an array of shape (k, m, ...) to shape (k,), one value per leading index, which is much faster.
        unit: the unit's name, for the record.
        level: confidence level, in (0, 1).
        n_boot: bootstrap resamples.
        seed: seed of the resampling generator.
        vectorized: whether ``statistic`` takes a stack of resamples.
        min_bootstrap_units: fewer units than this get a t interval.

    Returns:
        An :class:`Interval`.

    Raises:
        ValueError: bad ``level``/``n_boot`` or no units.
        TypeError: a statistic that returns the wrong shape.
    """
    _check_args(level, n_boot, min_bootstrap_units)
    a = np.asarray(values)
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(f"values must have at least one unit along axis 0, got shape {a.shape}")
    n = a.shape[0]

    def many(index: np.ndarray) -> np.ndarray:  # index: (k, m) unit indices → (k,) statistics
        if vectorized:
            out = np.asarray(statistic(a[index]), dtype=float)
            if out.shape != (index.shape[0],):
                raise TypeError(f"a vectorized statistic must return shape ({index.shape[0]},), got {out.shape}")
            return out
        return np.array([_scalar(statistic(a[row]), "statistic") for row in index])

    estimate = float(many(np.arange(n)[None, :])[0])
    if n == 1:
        return _unbounded(estimate, level=level, unit=unit)
    if n < min_bootstrap_units:
        loo = np.array([np.delete(np.arange(n), i) for i in range(n)])
        return _from_jackknife(estimate, many(loo), level=level, unit=unit, n=n)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    return _from_draws(estimate, many(idx), level=level, unit=unit, n=n)


def mean_interval(values, *, unit: str = "unit", level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0,
                  min_bootstrap_units: int = MIN_BOOTSTRAP_UNITS) -> Interval:
    """The interval of the mean of one value per unit (e.g. a paired difference per seed).

    Raises:
        ValueError: a non-finite value, or the errors of :func:`array_interval`.
    """
    v = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(v).all():
        raise ValueError("mean_interval needs finite values (one per unit); drop or repair the non-finite ones")
    return array_interval(v, lambda x: x.mean(axis=-1), unit=unit, level=level, n_boot=n_boot, seed=seed,
                          vectorized=True, min_bootstrap_units=min_bootstrap_units)
