"""Verdicts on published claims, made by one stated rule from an effect, its interval and the design's power.

Every claim verdict in the book is made here and recorded as a :class:`scalelab.checks.Verdict`,
whose report JSON carries the numbers behind it. Used by every chapter's ``analyze`` and by the
"Verdicts at a glance" page.

**What is measured.** Each claim is judged on one *statistic*: an effect measured against the matching
control (an ablation minus its baseline, a change per doubling of width, a schedule minus cosine at
the same budget), in a stated unit (octaves of learning rate, nats per token, an exponent). Its
*interval* comes from :mod:`scalelab.resample`, resampling the unit the design replicated (seeds
jointly across widths, budgets, or trunks with their branches); with fewer than five units it is a t
interval with n − 1 degrees of freedom.

**The claim.** Before the results, each claim states its *claimed* effect c in the same unit and a
tolerance δ. Its *region* is [c − δ, c + δ] (a two-sided claim; a claim of *no effect*, such as "the
optimal learning rate transfers", is c = 0, the region ±δ), or [c − δ, ∞) for a claim that the
effect is at least that large, or (−∞, c + δ] for one that it is at most that large.

**The minimum detectable effect.** With standard error se, n − 1 degrees of freedom, confidence level
1 − α and power 80%, the smallest effect the design would detect is

    mde = (t₍n−1₎(1 − α/2) + t₍n−1₎(0.80)) · se,

at 95% about 2.8·se with many units, 4.2·se with four units and 14·se with two. The effect the design
must be able to see before it may contradict a claim is |c|, or δ for a claim of no effect (the
smallest effect that would count against it).

**The rules**, applied mechanically:

- **reproduced**: the interval lies inside the claim's region.
- **contradicted**: the interval lies entirely outside the region *and* mde ≤ |c| (δ for no effect):
  the design could have seen the claimed effect and did not.
- **not resolved at this scale**: everything else: the interval straddles an edge of the region, or it
  excludes the region but the design could not have detected the claimed effect. The reason names the
  mde that is needed and how many units would give it: since se shrinks as 1/√n, the units needed are
  n′ ≈ n·(se·(t_α + t_β)/|c|)², solved exactly with the t quantiles at n′ − 1 degrees of freedom, and
  their cost when the chapter states the cost of one unit.

**Sensitivity.** Each verdict also records the tolerance at which its outcome would change: the claim
is reproduced if and only if δ ≥ *sensitivity* (for a two-sided claim, the largest distance from c to
an end of the interval). A verdict that is reproduced with δ = 0.5 and sensitivity 0.45 is close to
the line; one with sensitivity 0.1 is not.

**Arithmetic claims** (a formula checked against a formula, a count against a count) have no sampling
uncertainty: they are recorded with ``kind="arithmetic"``, a null mde and a reason.

**Controls.** A chapter's positive controls (a change known to move the statistic, e.g. standard
parametrization moving the optimal learning rate with width) and negative controls (a change known not
to) are :class:`Control` objects with a region their interval must lie in. A control that misses its
criterion is a failed validity check: the chapter is invalid at that scale, and CI fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from scalelab.checks import (
    KINDS,
    SIDES,
    VERDICTS,
    Check,
    Verdict,
    claim_region,
    power_target,
    rule_outcome,
)
from scalelab.resample import Interval, t_quantile

__all__ = ["KINDS", "SIDES", "VERDICTS", "POWER", "Claim", "Control", "ControlResult", "Verdict", "arithmetic",
           "control_table", "judge", "minimum_detectable_effect", "rule_outcome", "sensitivity", "units_needed",
           "verdict_table"]

POWER = 0.8  # power of the minimum detectable effect
MAX_UNITS = 1_000_000  # beyond this many units a projection reports "unreachable"
CONTROL_KINDS = ("positive", "negative")


@dataclass(frozen=True)
class Claim:
    """A claim's effect and tolerance, stated before the results.

    Attributes:
        claimed: the claimed effect c in the statistic's unit (0 for a claim of no effect).
        delta: the tolerance δ ≥ 0.
        side: ``"two-sided"`` (region [c − δ, c + δ]), ``"greater"`` ([c − δ, ∞)) or ``"less"``
            ((−∞, c + δ]).
        measure: the unit, e.g. ``"octaves"`` or ``"nats"``.
    """

    claimed: float
    delta: float
    side: str = "two-sided"
    measure: str = ""

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"unknown side {self.side!r}; valid: {', '.join(map(repr, SIDES))}")
        if not (isinstance(self.claimed, (int, float)) and math.isfinite(self.claimed)):
            raise ValueError(f"claimed must be a finite number, got {self.claimed!r}")
        if not (isinstance(self.delta, (int, float)) and math.isfinite(self.delta) and self.delta >= 0):
            raise ValueError(f"delta must be a finite tolerance >= 0, got {self.delta!r}")
        if not self.target > 0:
            raise ValueError("a claim of no effect (claimed = 0) needs delta > 0: the smallest effect that would "
                             "count against it, stated in advance")

    @classmethod
    def no_effect(cls, delta: float, measure: str = "") -> Claim:
        """A claim of no effect: the region is ±δ."""
        return cls(0.0, delta, "two-sided", measure)

    @property
    def region(self) -> tuple[float, float]:
        """Where the statistic must lie for the claim to hold."""
        return claim_region(float(self.claimed), float(self.delta), self.side)

    @property
    def target(self) -> float:
        """The effect the design must be able to detect before it may contradict the claim."""
        return power_target(float(self.claimed), float(self.delta))

    def describe(self) -> str:
        """The region in words, e.g. ``"0 ± 0.5 octaves"`` or ``"≥ 0 (claimed 0.02) nats"``."""
        m = f" {self.measure}" if self.measure else ""
        c, d = self.claimed, self.delta
        if self.side == "two-sided":
            return f"{_num(c)} ± {_num(d)}{m}"
        bound = c - d if self.side == "greater" else c + d
        return f"{'≥' if self.side == 'greater' else '≤'} {_num(bound)}{m} (claimed {_num(c)})"


def minimum_detectable_effect(se: float, df: float, *, level: float = 0.95, power: float = POWER) -> float:
    """(t_df(1 − α/2) + t_df(power))·se: the smallest effect detected with probability ``power`` by a
    two-sided test at level α = 1 − ``level``. Infinite without degrees of freedom or a finite se.

    Raises:
        ValueError: ``level`` or ``power`` outside (0, 1), or a negative se.
    """
    if not (0 < level < 1 and 0 < power < 1):
        raise ValueError(f"level and power must lie strictly between 0 and 1, got {level!r}, {power!r}")
    if not se >= 0:
        raise ValueError(f"se must be >= 0, got {se!r}")
    if df < 1 or not math.isfinite(se):
        return math.inf
    return (t_quantile(1 - (1 - level) / 2, df) + t_quantile(power, df)) * se


def sensitivity(interval: tuple[float, float], claim: Claim) -> float:
    """The δ at and above which the claim is reproduced by this interval (it may be negative for a
    one-sided claim whose interval clears the bound with room to spare)."""
    lo, hi = interval
    c = claim.claimed
    if claim.side == "two-sided":
        return max(c - lo, hi - c)
    return c - lo if claim.side == "greater" else hi - c


def _projected_outcome(estimate: float, se: float, n: int, m: int, claim: Claim, level: float, power: float) -> str:
    se_m = se * math.sqrt(n / m)
    half = t_quantile(1 - (1 - level) / 2, m - 1) * se_m
    mde = minimum_detectable_effect(se_m, m - 1, level=level, power=power)
    return rule_outcome((estimate - half, estimate + half), claim.region, mde, claim.target)


def units_needed(estimate: float, se: float, n_units: int, claim: Claim, *, level: float = 0.95,
                 power: float = POWER) -> int | None:
    """The fewest units at which the outcome would be resolved, if the estimate and the spread between
    units stayed as measured (se ∝ 1/√n); None when unreachable (no finite se, an estimate on an edge
    of the region, or more than a million units).
    """
    if not (math.isfinite(se) and math.isfinite(estimate)) or n_units < 2 or se == 0:
        return None

    def resolved(m: int) -> bool:
        return _projected_outcome(estimate, se, n_units, m, claim, level, power) != "not resolved at this scale"

    if resolved(n_units):
        return n_units
    lo, hi = n_units, 2 * n_units  # resolution is monotone in m: double until resolved, then bisect
    while not resolved(hi):
        if hi >= MAX_UNITS:
            return None
        lo, hi = hi, min(2 * hi, MAX_UNITS)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if resolved(mid) else (mid, hi)
    return hi


def _num(x: float, digits: int = 3, sign: bool = False) -> str:
    if x is None:
        return "—"
    if math.isinf(x):
        return ("−∞" if x < 0 else ("+∞" if sign else "∞"))
    if math.isnan(x):
        return "nan"
    s = f"{x:+.{digits}g}" if sign else f"{x:.{digits}g}"
    return s.replace("-", "−")


def judge(claim_id: str, statement: str, claim: Claim, interval: Interval, *, source: str,
          criterion: str | None = None, power: float = POWER, cost_per_unit: float | None = None,
          cost_label: str = "", digits: int = 3) -> Verdict:
    """Apply the rules to one claim.

    Args:
        claim_id: e.g. ``"C2.7"``.
        statement: the claim in one sentence.
        claim: its claimed effect, tolerance and region (:class:`Claim`).
        interval: the statistic's interval over the design's unit (:mod:`scalelab.resample`).
        source: the paper (arXiv id and section/figure).
        criterion: the rule in words, as stated on the page before the results (default: generated
            from ``claim``).
        power: the power of the minimum detectable effect.
        cost_per_unit: what one more unit costs (e.g. CPU-hours for one more seed), for the reason.
        cost_label: that cost's unit, e.g. ``"CPU-hours"``.
        digits: significant digits in the generated text.

    Returns:
        A statistical :class:`scalelab.checks.Verdict`.

    Raises:
        ValueError: ``power`` outside (0, 1).
    """
    if not 0 < power < 1:
        raise ValueError(f"power must lie strictly between 0 and 1, got {power!r}")
    est, lo, hi, lvl = interval.estimate, interval.lo, interval.hi, interval.level
    if not math.isfinite(est):
        lo, hi = -math.inf, math.inf  # no statistic: nothing can be concluded
    mde = minimum_detectable_effect(interval.se, interval.df, level=lvl, power=power)
    region, target = claim.region, claim.target
    outcome = rule_outcome((lo, hi), region, mde, target)
    sens = sensitivity((lo, hi), claim)
    m = f" {claim.measure}" if claim.measure else ""
    reg = (f"{'(' if math.isinf(region[0]) else '['}{_num(region[0], digits)}, {_num(region[1], digits)}"
           f"{')' if math.isinf(region[1]) else ']'}{m}")
    ivl = f"[{_num(lo, digits, True)}, {_num(hi, digits, True)}]"
    units = f"{interval.n_units} {interval.unit}{'s' if interval.n_units != 1 else ''}"
    need = None
    if outcome == "reproduced":
        reason = f"the {lvl:.0%} interval {ivl} lies inside the region {reg}"
    elif outcome == "contradicted":
        reason = (f"the {lvl:.0%} interval {ivl} lies outside the region {reg}, and the design could have seen the "
                  f"claimed effect (mde {_num(mde, digits)} ≤ {_num(target, digits)}{m})")
    else:
        if not math.isfinite(est):
            why = "the statistic could not be computed from these records"
        elif not math.isfinite(interval.se):
            why = f"{units} {'gives' if interval.n_units == 1 else 'give'} no interval"
        elif hi < region[0] or lo > region[1]:
            why = (f"the {lvl:.0%} interval {ivl} lies outside the region {reg}, but the design could not have "
                   f"seen the claimed effect: mde {_num(mde, digits)} > {_num(target, digits)}{m}")
        else:
            why = f"the {lvl:.0%} interval {ivl} straddles an edge of the region {reg}"
        need = units_needed(est, interval.se, interval.n_units, claim, level=lvl, power=power)
        if need is not None:
            need = max(need, interval.n_units + 1)  # the projection is symmetric; the measured interval was not
        if math.isfinite(est) and region[0] <= est <= region[1]:
            settle = "an interval inside the region"
        else:
            settle = f"an interval outside the region and an mde ≤ {_num(target, digits)}{m}"
        if need is None:
            reason = f"{why}; settling it needs {settle}, which more {interval.unit}s cannot reach at this spread"
        else:
            more = need - interval.n_units
            cost = (f", about {_num(more * cost_per_unit, digits)} {cost_label} more" if cost_per_unit is not None
                    else "")
            reason = (f"{why}; settling it needs {settle}: about {need} {interval.unit}s instead of "
                      f"{interval.n_units} would give it if the estimate held{cost}")
    if criterion is None:
        criterion = (f"Reproduced if the {lvl:.0%} interval lies inside {claim.describe()}; contradicted if it lies "
                     f"outside and the mde at {power:.0%} power is ≤ {_num(target, digits)}{m}; otherwise not "
                     "resolved at this scale.")
    evidence = (f"{_num(est, digits, True)} {ivl}{m} ({lvl:.0%} {interval.method}, {units}); claimed "
                f"{claim.describe()}; mde {_num(mde, digits)}{m}")
    return Verdict(claim_id, statement, outcome, criterion, evidence, source, kind="statistical", reason=reason,
                   statistic=float(est), interval=(float(lo), float(hi)), level=float(lvl), unit=interval.unit,
                   n_units=int(interval.n_units), method=interval.method, se=float(interval.se), df=int(interval.df),
                   measure=claim.measure or None, claimed=float(claim.claimed), delta=float(claim.delta),
                   side=claim.side, mde=float(mde), power=float(power), sensitivity=float(sens), units_needed=need)


def arithmetic(claim_id: str, statement: str, verdict: str, *, criterion: str, evidence: str, source: str,
               reason: str, statistic: float | None = None, claimed: float | None = None,
               measure: str = "") -> Verdict:
    """A verdict on an arithmetic claim (no sampling uncertainty, so no interval and a null mde).

    Raises:
        ValueError: an unknown verdict or an empty reason.
    """
    return Verdict(claim_id, statement, verdict, criterion, evidence, source, kind="arithmetic", reason=reason,
                   statistic=None if statistic is None else float(statistic),
                   claimed=None if claimed is None else float(claimed), measure=measure or None)


@dataclass(frozen=True)
class Control:
    """A positive or negative control and the criterion it must meet.

    Attributes:
        name: e.g. ``"full SP"``.
        kind: ``"positive"`` (a change known to move the statistic) or ``"negative"`` (one known not to).
        expect: the region its interval must lie inside (a :class:`Claim`; e.g. ``Claim(-1.0, 0.5, "less",
            "octaves")`` for "moves the optimum by at least half an octave down").
        description: what the control is and why it must meet the criterion.
    """

    name: str
    kind: str
    expect: Claim
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_KINDS:
            raise ValueError(f"unknown control kind {self.kind!r}; valid: {', '.join(map(repr, CONTROL_KINDS))}")
        if not isinstance(self.expect, Claim):
            raise TypeError(f"Control.expect must be a Claim, got {type(self.expect).__name__}")

    @property
    def criterion(self) -> str:
        """The criterion in words."""
        return f"interval inside {self.expect.describe()}"

    def evaluate(self, interval: Interval) -> ControlResult:
        """Whether the control's interval meets its criterion (it lies inside the expected region)."""
        a, b = self.expect.region
        ok = math.isfinite(interval.estimate) and a <= interval.lo and interval.hi <= b
        return ControlResult(self, interval, bool(ok))


@dataclass(frozen=True)
class ControlResult:
    """A control measured: its interval and whether it met the criterion."""

    control: Control
    interval: Interval
    passed: bool

    def to_check(self) -> Check:
        """The validity check this control is: a failed control makes the chapter invalid."""
        iv, m = self.interval, self.control.expect.measure
        value = (f"{_num(iv.estimate, 3, True)} [{_num(iv.lo, 3, True)}, {_num(iv.hi, 3, True)}]"
                 f"{' ' + m if m else ''} ({iv.level:.0%} {iv.method}, {iv.n_units} {iv.unit}s)")
        return Check(f"{self.control.kind} control: {self.control.name}", self.passed, value, self.control.criterion)

    def to_dict(self) -> dict:
        c = self.control
        return {"name": c.name, "kind": c.kind, "criterion": c.criterion, "description": c.description,
                "passed": self.passed, **{f"interval_{k}": v for k, v in self.interval.to_dict().items()}}


def control_table(results: list[ControlResult]):
    """Controls as a DataFrame: control, kind, statistic ± interval, criterion, met."""

    rows = []
    for r in results:
        ck = r.to_check()
        rows.append({"control": r.control.name, "kind": r.control.kind, "statistic": ck.value,
                     "criterion": r.control.criterion, "met": "✓" if r.passed else "✗"})
    return pd.DataFrame(rows, columns=["control", "kind", "statistic", "criterion", "met"])


def verdict_table(verdicts: list[Verdict], digits: int = 3):
    """The verdict table of a page: claim, statistic [interval], claimed, mde, outcome, sensitivity, reason.

    Rows for arithmetic or text-only verdicts show their evidence as the statistic and "—" for the mde.
    """

    rows = []
    for v in verdicts:
        m = f" {v.measure}" if v.measure else ""
        if v.kind == "statistical":
            lo, hi = v.interval
            stat = f"{_num(v.statistic, digits, True)} [{_num(lo, digits, True)}, {_num(hi, digits, True)}]{m}"
            claim = Claim(v.claimed, v.delta, v.side, v.measure or "").describe()
            mde = f"{_num(v.mde, digits)}{m}"
            sens = f"reproduced iff δ ≥ {_num(v.sensitivity, digits)}"
            n = f"{v.n_units} {v.unit}s, {v.method}"
        else:
            stat = f"{_num(v.statistic, digits)}{m}" if v.statistic is not None else v.evidence
            claim = "—" if v.claimed is None else f"{_num(v.claimed, digits)}{m}"
            mde, sens, n = "—", "—", v.kind or "—"
        rows.append({"claim": v.claim, "statistic": stat, "claimed": claim, "mde": mde, "outcome": v.verdict,
                     "sensitivity": sens, "design": n, "reason": v.reason or v.criterion})
    return pd.DataFrame(rows, columns=["claim", "statistic", "claimed", "mde", "outcome", "sensitivity", "design",
                                       "reason"])
