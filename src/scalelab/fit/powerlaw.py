"""Power laws ``y = k · x^p`` fitted by least squares in log space, with bootstrap CIs.

The building block of every compute-optimal law in the book: N_opt ∝ C^a and D_opt ∝ C^b
(Hoffmann et al., arXiv 2203.15556, §3 and Table 2), DeepSeek's η_opt = 0.3118·C^−0.125 and
B_opt = 0.2920·C^0.3271 (arXiv 2401.02954, §3.1) and Llama 3's tokens* = 0.29·C^0.53
(arXiv 2407.21783, §3.2.1). Used by chapters 4 (LR and batch laws) and 5 (Chinchilla).

Method: ordinary least squares of ``log y`` on ``log x`` (natural logs), so ``p`` is the slope and
``k = exp(intercept)``. The bootstrap resamples (x, y) pairs with replacement and reports the
percentile interval (2.5, 97.5 by default); a resample whose x values are all equal has no slope
and is drawn again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scalelab.fit._common import FitInputError, TableResult, as_positive_array, percentile_ci, same_length


def _ols_loglog(lx: np.ndarray, ly: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of ly on lx."""
    xm, ym = lx.mean(), ly.mean()
    sxx = float(((lx - xm) ** 2).sum())
    p = float(((lx - xm) * (ly - ym)).sum() / sxx)
    return p, float(ym - p * xm)


@dataclass(frozen=True)
class PowerLawFit(TableResult):
    """``y = k · x^p``.

    Attributes:
        k: coefficient (units of y per unit of x^p).
        p: exponent.
        n: number of points fitted.
        r2: coefficient of determination in log space.
        k_ci, p_ci: percentile CIs (``None`` without a bootstrap).
        level: the CI level (0.95).
        n_bootstrap: resamples drawn.
        samples: bootstrap draws, shape (n_bootstrap, 2) as columns (k, p); empty without one.
    """

    k: float
    p: float
    n: int
    r2: float
    k_ci: tuple[float, float] | None = None
    p_ci: tuple[float, float] | None = None
    level: float = 0.95
    n_bootstrap: int = 0
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 2)), repr=False, compare=False)

    def __call__(self, x) -> np.ndarray | float:
        """The fitted law at ``x``."""
        out = self.k * np.asarray(x, dtype=float) ** self.p
        return float(out) if np.ndim(out) == 0 else out

    def rows(self):
        return [("k", self.k, self.k_ci), ("p", self.p, self.p_ci), ("r2", self.r2, None),
                ("n", float(self.n), None)]


def fit_power_law(x, y, *, bootstrap: int = 0, seed: int = 0, level: float = 0.95) -> PowerLawFit:
    """Fit ``y = k · x^p`` by least squares on ``(log x, log y)``.

    Args:
        x: positive abscissae (e.g. compute C in FLOPs).
        y: positive ordinates (e.g. N_opt in parameters).
        bootstrap: number of pair resamples for percentile CIs (0: no CIs).
        seed: seed of the resampling generator (``numpy.random.default_rng``).
        level: two-sided CI level.

    Returns:
        A :class:`PowerLawFit`; noise-free power-law data are recovered to rounding error.

    Raises:
        FitInputError: NaN/inf or non-positive values, mismatched lengths, fewer than two points,
            or all x equal (no slope).
        ValueError: ``level`` outside (0, 1), or a ``bootstrap`` that is not a non-negative integer.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ValueError(f"bootstrap must be a non-negative integer (0 for no CI), got {bootstrap!r}")
    xa = as_positive_array("x", x)
    ya = as_positive_array("y", y)
    n = same_length(x=xa, y=ya)
    if n < 2:
        raise FitInputError(f"a power law needs at least 2 points, got {n}")
    lx, ly = np.log(xa), np.log(ya)
    if np.ptp(lx) == 0:
        raise FitInputError("all x values are equal: the exponent is not identified")
    p, c = _ols_loglog(lx, ly)
    resid = ly - (c + p * lx)
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else 1.0
    if bootstrap <= 0:
        return PowerLawFit(k=float(np.exp(c)), p=p, n=n, r2=r2, level=level)
    if n < 3:
        raise FitInputError(f"a bootstrap CI needs at least 3 points, got {n}")
    rng = np.random.default_rng(seed)
    draws = np.empty((bootstrap, 2))
    for i in range(bootstrap):
        while True:
            idx = rng.integers(0, n, n)
            if np.ptp(lx[idx]) > 0:
                break
        pb, cb = _ols_loglog(lx[idx], ly[idx])
        draws[i] = (np.exp(cb), pb)
    return PowerLawFit(
        k=float(np.exp(c)), p=p, n=n, r2=r2,
        k_ci=percentile_ci(draws[:, 0], level), p_ci=percentile_ci(draws[:, 1], level),
        level=level, n_bootstrap=bootstrap, samples=draws,
    )
