"""Loss-curve laws of the learning-rate schedule: the LR-annealing law and the multi-power law.

Both predict the held-out loss after ``s`` optimizer steps from the learning-rate multipliers
``m_0 … m_{s−1}`` (multiples of the peak LR, :func:`scalelab.schedules.lr_multipliers`) that the
run has used so far. Each is fitted to a few loss curves trained at one peak LR and then asked to
predict the curves of other schedules at that LR (chapter 6).

* **LR-annealing law** (Tissue et al. 2024, "Scaling Law with Learning Rate Annealing",
  arXiv 2408.11029v1, Eq. 1 and §3):

      L(s) = L0 + A·S1(s)^(−α) − C·S2(s),
      S1(s) = Σ_{i<s} m_i                         (the forward area, warmup included),
      S2(s) = Σ_{i<s} M_i,  M_i = λ·M_{i−1} + (m_{i−1} − m_i)   (the annealing area with momentum λ).

  The paper's decay factor λ is a stated hyper-parameter (0.999 in its main fits); here it is
  chosen on the fit set from :data:`DECAY_GRID`. The LR increments of the warmup are left out of
  ``S2`` (all schedules here share one warmup; the paper's S2 is about annealing), so
  M_i = λ·M_{i−1} + max(0, m_{i−1} − m_i) for i past the warmup and 0 before. For λ → 1, S2 is
  the area between the peak and the schedule; for λ → 0 it is the total drop so far.

* **Multi-power law** (Luo et al. 2025, "A Multi-Power Law for Loss Curve Prediction Across
  Learning Rate Schedules", arXiv 2503.12811v1, Eq. (4)–(5)):

      L(s) = L0 + A·S1(s)^(−α) − LD(s),
      LD(s) = B·Σ_{k<s} (m_{k−1} − m_k)·G(m_k^(−γ)·S_k(s)),  S_k(s) = Σ_{k≤τ<s} m_τ,
      G(x) = 1 − (C·x + 1)^(−β).

  Each LR decrease buys a loss reduction that grows as a power law in the LR area trained after it,
  saturating at B·(m_{k−1} − m_k). Luo et al. write S1 + S_W (area after warmup plus warmup area),
  which is the S1 above.

LRs enter as multipliers of the run's peak LR: both laws are fitted per peak LR, and a change of the
LR unit is absorbed by A, C (annealing law) or B, C (multi-power law) exactly.

Fits (:func:`fit_annealing`, :func:`fit_multipower`) minimise a soft-L1 (robust) least-squares
objective over every evaluation point of every curve in the fit set, with scipy's ``least_squares``
from several starts. The laws are linear in (L0, A, C) and (L0, A, B) once the exponents are fixed,
so the starts come from a grid over the exponents with those solved by linear least squares.

Used by chapter 6 (``scalelab.experiments.lr_schedule_law``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import product

import numpy as np
from scipy.optimize import least_squares, lsq_linear
from scipy.signal import lfilter

DECAY_GRID = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999)  # λ candidates for the annealing law (paper: 0.999)
ALPHA_GRID = tuple(np.round(np.geomspace(0.05, 2.0, 12), 4))  # starting exponents of the S1 power law
ROBUST_SCALE = 0.02  # nats: soft-L1 scale; residuals beyond it count linearly (a few bad points cannot dominate)
N_STARTS = 3  # refined starts per fit (the best grid points)
MAX_NFEV = 300  # per refined start; the linear-solve starts are already close
ALPHA_BOUNDS = (0.01, 3.0)  # the S1 exponent; L0 >= 0 (a cross-entropy)


@dataclass(frozen=True)
class Curve:
    """One loss curve: the LR multiplier of every optimizer step, and the losses measured along it.

    Attributes:
        multipliers: ``m_i`` for steps i = 0 … T−1 (the LR of step i over the peak LR), length ≥ max(steps).
        steps: the step counts s at which the loss was measured (after s optimizer steps), increasing.
        loss: the measured losses, same length as ``steps``.
        warmup_steps: length of the warmup (its LR increments are not annealing).
        label: free text (schedule, budget, seed) for tables.
    """

    multipliers: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    warmup_steps: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        m = np.asarray(self.multipliers, dtype=float)
        s = np.asarray(self.steps, dtype=np.int64)
        y = np.asarray(self.loss, dtype=float)
        object.__setattr__(self, "multipliers", m)
        object.__setattr__(self, "steps", s)
        object.__setattr__(self, "loss", y)
        if m.ndim != 1 or not len(m) or not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError("multipliers must be a non-empty 1-D array of finite values >= 0")
        if s.shape != y.shape or s.ndim != 1:
            raise ValueError(f"steps and loss must be 1-D of one length, got {s.shape} and {y.shape}")
        if len(s) and (s.min() < 1 or s.max() > len(m) or np.any(np.diff(s) <= 0)):
            raise ValueError(f"steps must increase within [1, {len(m)}] (the multipliers given), got "
                             f"{s.min()}…{s.max()}")


def forward_area(m: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """S1(s) = Σ_{i<s} m_i at each s of ``steps``."""
    cum = np.concatenate([[0.0], np.cumsum(m)])
    return cum[np.asarray(steps, dtype=np.int64)]


def _drops(m: np.ndarray, warmup_steps: int) -> np.ndarray:
    """Δ_i = max(0, m_{i−1} − m_i) for steps past the warmup, 0 elsewhere (Δ_0 = 0)."""
    d = np.zeros_like(m)
    d[1:] = np.maximum(m[:-1] - m[1:], 0.0)
    d[: max(int(warmup_steps), 1)] = 0.0
    return d


def annealing_area(m: np.ndarray, steps: np.ndarray, decay: float, warmup_steps: int = 0) -> np.ndarray:
    """S2(s) = Σ_{i<s} M_i, M_i = λ·M_{i−1} + Δ_i (Tissue et al. §3), at each s of ``steps``.

    Raises:
        ValueError: ``decay`` outside [0, 1).
    """
    if not 0 <= decay < 1:
        raise ValueError(f"decay (λ) must be in [0, 1), got {decay}")

    mom = lfilter([1.0], [1.0, -decay], _drops(m, warmup_steps))  # M_i = λ M_{i−1} + Δ_i
    cum = np.concatenate([[0.0], np.cumsum(mom)])
    return cum[np.asarray(steps, dtype=np.int64)]


@dataclass(frozen=True)
class _MPLDesign:
    """Precomputed pieces of LD for one curve: drop sizes, LRs after the drop, LR areas after each drop."""

    drop: np.ndarray  # (K,) m_{k−1} − m_k at the decrease steps k
    lr_after: np.ndarray  # (K,) m_k
    area: np.ndarray  # (n_eval, K) S_k(s) for k < s, 0 where k ≥ s (masked by ``mask``)
    mask: np.ndarray  # (n_eval, K) k < s


def _mpl_design(m: np.ndarray, steps: np.ndarray, warmup_steps: int) -> _MPLDesign:
    d = _drops(m, warmup_steps)
    k = np.nonzero(d > 0)[0]
    cum = np.concatenate([[0.0], np.cumsum(m)])
    s = np.asarray(steps, dtype=np.int64)
    mask = k[None, :] < s[:, None]
    area = np.where(mask, cum[s][:, None] - cum[k][None, :], 0.0)
    return _MPLDesign(d[k], m[k], area, mask)


def _loss_drop(design: _MPLDesign, C: float, beta: float, gamma: float) -> np.ndarray:
    """LD(s)/B for one curve: Σ_k Δ_k · G(m_k^(−γ) S_k(s))."""
    if design.drop.size == 0:
        return np.zeros(design.area.shape[0])
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        scale = np.where(design.lr_after > 0, design.lr_after ** (-gamma), np.inf)  # m_k = 0: G saturates at 1
        x = np.where(design.area > 0, design.area * scale[None, :], 0.0)  # no area after the drop: no gain yet
        g = np.where(np.isinf(x), 1.0, 1.0 - np.power(C * x + 1.0, -beta))
    g = np.where(design.mask, g, 0.0)
    return g @ design.drop


# ----------------------------------------------------------------------------- the laws
@dataclass(frozen=True)
class AnnealingLaw:
    """L(s) = L0 + A·S1^(−α) − C·S2 (Tissue et al.), with momentum λ = ``decay``."""

    L0: float
    A: float
    alpha: float
    C: float
    decay: float

    name = "annealing"

    def predict(self, multipliers, steps, warmup_steps: int = 0) -> np.ndarray:
        """Loss after each number of steps in ``steps`` under the schedule ``multipliers``."""
        m, s = np.asarray(multipliers, float), np.asarray(steps, np.int64)
        s1 = np.maximum(forward_area(m, s), 1e-12)
        return self.L0 + self.A * s1 ** (-self.alpha) - self.C * annealing_area(m, s, self.decay, warmup_steps)

    def params(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MultiPowerLaw:
    """L(s) = L0 + A·S1^(−α) − B·Σ_k Δ_k·(1 − (C·m_k^(−γ)·S_k + 1)^(−β)) (Luo et al.)."""

    L0: float
    A: float
    alpha: float
    B: float
    C: float
    beta: float
    gamma: float

    name = "multi-power"

    def predict(self, multipliers, steps, warmup_steps: int = 0) -> np.ndarray:
        """Loss after each number of steps in ``steps`` under the schedule ``multipliers``."""
        m, s = np.asarray(multipliers, float), np.asarray(steps, np.int64)
        s1 = np.maximum(forward_area(m, s), 1e-12)
        ld = _loss_drop(_mpl_design(m, s, warmup_steps), self.C, self.beta, self.gamma)
        return self.L0 + self.A * s1 ** (-self.alpha) - self.B * ld

    def params(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LawFit:
    """A fitted law and how the fit went.

    Attributes:
        law: the fitted :class:`AnnealingLaw` or :class:`MultiPowerLaw`.
        rmse: root-mean-square residual over the fit set's points (nats).
        n_points: evaluation points fitted.
        n_curves: curves fitted.
        converged: whether the best start's optimiser reported success and every parameter is finite.
        starts: how many starts were refined.
        spread: max − min of the objective over the refined starts that converged (0: one basin found).
    """

    law: object
    rmse: float
    n_points: int
    n_curves: int
    converged: bool
    starts: int
    spread: float = 0.0
    notes: dict = field(default_factory=dict)


def _stack(curves: Sequence[Curve]) -> tuple[np.ndarray, np.ndarray]:
    if not curves:
        raise ValueError("a fit needs at least one curve")
    y = np.concatenate([c.loss for c in curves])
    s1 = np.concatenate([forward_area(c.multipliers, c.steps) for c in curves])
    if not np.all(np.isfinite(y)):
        raise ValueError("fit curves must have finite losses (drop diverged runs first)")
    if len(y) < 4:
        raise ValueError(f"a fit needs at least 4 evaluation points, got {len(y)}")
    return y, np.maximum(s1, 1e-12)


def _linear_solve(cols: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares for (L0 ≥ 0, A ≥ 0, third ≥ 0) with design columns [1, S1^−α, third]."""

    res = lsq_linear(cols, y, bounds=([0.0, 0.0, 0.0], [np.inf, np.inf, np.inf]))
    r = cols @ res.x - y
    return res.x, float(r @ r)


def _soft_l1(r: np.ndarray) -> float:
    z = (r / ROBUST_SCALE) ** 2
    return float(np.sum(2 * ((1 + z) ** 0.5 - 1)) * ROBUST_SCALE ** 2)


def fit_annealing(curves: Sequence[Curve], *, decays: Sequence[float] = DECAY_GRID, n_starts: int = N_STARTS,
                  max_nfev: int = MAX_NFEV) -> LawFit:
    """Fit the LR-annealing law to ``curves`` (one peak LR).

    For each λ in ``decays`` and α in :data:`ALPHA_GRID`, (L0, A, C) are solved by bounded linear least
    squares; the ``n_starts`` best (λ, α) are refined by ``scipy.optimize.least_squares`` (soft-L1) in
    (L0, log A, log α, log C) with λ held; the lowest robust objective wins.

    Raises:
        ValueError: no curves, non-finite losses or fewer than 4 points; a λ outside [0, 1).
    """

    y, s1 = _stack(curves)
    s2 = {lam: np.concatenate([annealing_area(c.multipliers, c.steps, lam, c.warmup_steps) for c in curves])
          for lam in decays}
    grid = []
    for lam in decays:
        for a in ALPHA_GRID:
            x, sse = _linear_solve(np.column_stack([np.ones_like(y), s1 ** (-a), -s2[lam]]), y)
            grid.append((sse, lam, a, x))
    grid.sort(key=lambda g: g[0])
    results = []
    for _, lam, a, x in grid[:n_starts]:
        lo = [0.0, -30, math.log(ALPHA_BOUNDS[0]), -40]
        hi = [np.inf, 30, math.log(ALPHA_BOUNDS[1]), 10]
        p0 = np.clip([x[0], math.log(max(x[1], 1e-8)), math.log(a), math.log(max(x[2], 1e-12))],
                     np.array(lo) + 1e-9, np.array(hi) - 1e-9)

        def resid(p, lam=lam):
            return p[0] + math.exp(p[1]) * s1 ** (-math.exp(p[2])) - math.exp(p[3]) * s2[lam] - y

        r = least_squares(resid, p0, loss="soft_l1", f_scale=ROBUST_SCALE, method="trf", bounds=(lo, hi),
                          max_nfev=max_nfev)
        law = AnnealingLaw(float(r.x[0]), math.exp(r.x[1]), math.exp(r.x[2]), math.exp(r.x[3]), float(lam))
        ok = bool(r.success) and all(np.isfinite(list(law.params().values())))
        results.append((_soft_l1(r.fun), ok, law, r.fun))
    return _best(results, y, len(curves))


def _mpl_objective_parts(curves: Sequence[Curve]):
    designs = [_mpl_design(c.multipliers, c.steps, c.warmup_steps) for c in curves]

    def ld(C, beta, gamma):
        return np.concatenate([_loss_drop(d, C, beta, gamma) for d in designs])

    return ld


# starting grid of the multi-power law's exponents; C in 1/steps (S_k is in steps at the peak LR)
MPL_GRID = {"alpha": (0.1, 0.3, 0.6, 1.0), "C": (1e-3, 1e-2, 0.1, 1.0), "beta": (0.3, 0.6, 1.0), "gamma": (0.3, 0.6)}


def fit_multipower(curves: Sequence[Curve], *, n_starts: int = N_STARTS, max_nfev: int = MAX_NFEV) -> LawFit:
    """Fit the multi-power law to ``curves`` (one peak LR).

    Starts: a grid over (α, C, β, γ) (:data:`MPL_GRID`) with (L0, A, B) solved by bounded linear least
    squares at each point; the ``n_starts`` best are refined by ``scipy.optimize.least_squares``
    (soft-L1) in (L0, log A, log α, log B, log C, log β, log γ); the lowest robust objective wins.

    Raises:
        ValueError: no curves, non-finite losses or fewer than 4 points.
    """


    y, s1 = _stack(curves)
    ld = _mpl_objective_parts(curves)
    grid = []
    for a, C, b, g in product(*MPL_GRID.values()):
        x, sse = _linear_solve(np.column_stack([np.ones_like(y), s1 ** (-a), -ld(C, b, g)]), y)
        grid.append((sse, (a, C, b, g), x))
    grid.sort(key=lambda t: t[0])
    results = []
    for _, (a, C, b, g), x in grid[:n_starts]:
        p0 = np.array([x[0], math.log(max(x[1], 1e-8)), math.log(a), math.log(max(x[2], 1e-8)), math.log(C),
                       math.log(b), math.log(g)])

        def resid(p):
            e = np.exp(np.clip(p[1:], -30, 30))
            return p[0] + e[0] * s1 ** (-e[1]) - e[2] * ld(e[3], e[4], e[5]) - y

        lo = [0.0, -30, math.log(ALPHA_BOUNDS[0]), -30, -30, math.log(1e-3), math.log(1e-3)]
        hi = [np.inf, 30, math.log(ALPHA_BOUNDS[1]), 30, 30, math.log(5.0), math.log(3.0)]
        p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        r = least_squares(resid, p0, loss="soft_l1", f_scale=ROBUST_SCALE, method="trf", bounds=(lo, hi),
                          max_nfev=max_nfev)
        e = np.exp(r.x[1:])
        law = MultiPowerLaw(float(r.x[0]), *map(float, e))
        ok = bool(r.success) and all(np.isfinite(list(law.params().values())))
        results.append((_soft_l1(r.fun), ok, law, r.fun))
    return _best(results, y, len(curves))


def _best(results, y, n_curves) -> LawFit:
    results.sort(key=lambda t: t[0])
    obj, ok, law, res = results[0]
    good = [t[0] for t in results if t[1]]
    return LawFit(law=law, rmse=float(np.sqrt(np.mean(res ** 2))), n_points=len(y), n_curves=n_curves,
                  converged=ok, starts=len(results), spread=float(max(good) - min(good)) if good else float("nan"))


def fit(kind: str, curves: Sequence[Curve], **kw) -> LawFit:
    """``fit_annealing`` or ``fit_multipower`` by name.

    Raises:
        ValueError: an unknown kind, naming the valid ones.
    """
    if kind not in LAWS:
        raise ValueError(f"unknown law {kind!r}; valid: {', '.join(LAWS)}")
    return LAWS[kind](curves, **kw)


LAWS = {"annealing": fit_annealing, "multi-power": fit_multipower}
