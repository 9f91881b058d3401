"""The chapter contract: validity checks that gate CI, and claim verdicts that the book reports.

Every chapter's ``analyze(records, scale)`` returns a :class:`Report`. Validity checks say the
experiment is well posed (runs finished, optima interior to their grids, fits converged); a chapter
that fails one is broken and :meth:`Report.assert_valid` makes its notebook fail. Claim verdicts
say whether a published claim was ``reproduced``, ``not resolved at this scale`` or
``contradicted``, by a criterion stated before the results. A contradicted claim is a result, not a
failure: tests check that verdicts recomputed from the committed records equal the rendered ones.

Used by every chapter notebook and ``tests/notebooks``.
"""

from __future__ import annotations

import json
import math
from dataclasses import KW_ONLY, asdict, dataclass, field
from pathlib import Path

import pandas as pd

from scalelab.paths import report_path
from scalelab.result import STATUSES
from scalelab.scales import validate_scale

VERDICTS = ("reproduced", "not resolved at this scale", "contradicted")
KINDS = ("statistical", "arithmetic")  # how a verdict was reached (see scalelab.verdicts)
SIDES = ("two-sided", "greater", "less")  # the shape of a claim's region around its claimed effect
LEGACY_FIELDS = ("claim", "statement", "verdict", "criterion", "evidence", "source")


def claim_region(claimed: float, delta: float, side: str) -> tuple[float, float]:
    """The region a statistic must lie in for a claim to hold.

    ``two-sided``: [claimed − δ, claimed + δ] (a claim of no effect is claimed = 0: ±δ);
    ``greater``: [claimed − δ, ∞); ``less``: (−∞, claimed + δ].
    """
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; valid: {', '.join(map(repr, SIDES))}")
    if side == "two-sided":
        return claimed - delta, claimed + delta
    return (claimed - delta, math.inf) if side == "greater" else (-math.inf, claimed + delta)


def power_target(claimed: float, delta: float) -> float:
    """The effect a design must be able to detect before it may contradict a claim: |claimed|, or δ
    for a claim of no effect (claimed = 0), where the smallest effect that counts against it is δ."""
    return abs(claimed) if claimed != 0 else delta


def rule_outcome(interval: tuple[float, float], region: tuple[float, float], mde: float, target: float) -> str:
    """The outcome the rules give (stated in :mod:`scalelab.verdicts`).

    reproduced: the interval lies inside the region; contradicted: the interval lies entirely outside
    it and mde ≤ target; not resolved at this scale: everything else.
    """
    (lo, hi), (a, b) = interval, region
    if a <= lo and hi <= b:
        return "reproduced"
    if (hi < a or lo > b) and mde <= target:
        return "contradicted"
    return "not resolved at this scale"


class ValidityError(AssertionError):
    """A chapter's experiment is not well posed; the message lists the failed checks."""


@dataclass(frozen=True)
class Check:
    """One validity check.

    Attributes:
        name: what is checked, e.g. "optima interior to the LR grid".
        passed: whether it held.
        value: the measured value, as text (e.g. "argmin at 2^-7, grid 2^-10..2^-4").
        criterion: the rule applied, as text.
    """

    name: str
    passed: bool
    value: str
    criterion: str

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):
            # numpy.bool_ would not survive JSON; insist on a real bool so reports round-trip exactly.
            object.__setattr__(self, "passed", bool(self.passed))
        for name in ("name", "value", "criterion"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Check.{name} must be str, got {type(getattr(self, name)).__name__}")


@dataclass(frozen=True)
class Verdict:
    """The verdict on one published claim.

    The first six fields are the verdict as text. A verdict made by :mod:`scalelab.verdicts` is also
    data (keyword-only fields): ``kind="statistical"`` carries the statistic, its interval and how it
    was made, the claimed effect and region, the minimum detectable effect and the outcome the rules
    give, which is checked here, so no verdict can say "contradicted" without the power to have seen
    the claimed effect. ``kind="arithmetic"`` has a null ``mde`` and a ``reason``. ``kind=None`` is a
    verdict stated in text only.

    Attributes:
        claim: the claim id, e.g. "C3.1".
        statement: the claim in one sentence.
        verdict: one of :data:`VERDICTS`.
        criterion: the rule, stated before the results.
        evidence: the numbers the rule was applied to.
        source: the paper (arXiv id and section/figure).
        kind: ``"statistical"``, ``"arithmetic"`` or None (text only).
        outcome: equal to ``verdict`` (the report field named by the rules).
        reason: why the outcome, and for "not resolved" what would settle it.
        statistic: the measured effect.
        interval: its (lo, hi) interval.
        level: the interval's confidence level.
        unit: what the interval resampled (e.g. "seed").
        n_units: how many units.
        method: ``"t"`` or ``"bootstrap"``.
        se: the statistic's standard error.
        df: degrees of freedom (n_units − 1).
        measure: the unit of the statistic, claimed effect and mde (e.g. "octaves").
        claimed: the claim's effect, in that unit (0 for a claim of no effect).
        delta: the tolerance δ, stated in advance.
        side: one of :data:`SIDES`.
        region: the claim's region (derived from claimed, delta and side).
        mde: the minimum detectable effect at ``power`` and ``level``.
        power: the power of the mde (0.8).
        sensitivity: the δ at and above which the claim is reproduced (reproduced iff δ ≥ sensitivity).
        units_needed: units at which the outcome would be resolved if the estimate and spread held
            (None when resolved or unreachable).
    """

    claim: str
    statement: str
    verdict: str
    criterion: str
    evidence: str
    source: str
    _: KW_ONLY
    kind: str | None = None
    outcome: str | None = None
    reason: str | None = None
    statistic: float | None = None
    interval: tuple[float, float] | None = None
    level: float | None = None
    unit: str | None = None
    n_units: int | None = None
    method: str | None = None
    se: float | None = None
    df: int | None = None
    measure: str | None = None
    claimed: float | None = None
    delta: float | None = None
    side: str | None = None
    region: tuple[float, float] | None = None
    mde: float | None = None
    power: float | None = None
    sensitivity: float | None = None
    units_needed: int | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; valid: {', '.join(map(repr, VERDICTS))}")
        for name in ("claim", "statement", "criterion", "evidence", "source"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Verdict.{name} must be str, got {type(getattr(self, name)).__name__}")
        for name in ("reason", "measure", "unit"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise TypeError(f"Verdict.{name} must be str or None, got {type(getattr(self, name)).__name__}")
        if self.outcome is None:
            object.__setattr__(self, "outcome", self.verdict)
        elif self.outcome != self.verdict:
            raise ValueError(f"{self.claim}: outcome {self.outcome!r} differs from verdict {self.verdict!r}")
        if self.kind is None:
            return
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; valid: {', '.join(map(repr, KINDS))} or None")
        if not self.reason:
            raise ValueError(f"{self.claim}: a {self.kind} verdict needs a reason")
        if self.kind == "arithmetic":
            if self.mde is not None or self.interval is not None:
                raise ValueError(f"{self.claim}: an arithmetic verdict has no interval and a null mde")
            return
        self._check_statistical()

    def _check_statistical(self) -> None:
        need = ("statistic", "interval", "level", "unit", "n_units", "method", "se", "df", "claimed", "delta",
                "side", "mde", "power")
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{self.claim}: a statistical verdict needs {', '.join(missing)}")
        if self.method not in ("t", "bootstrap"):
            raise ValueError(f"{self.claim}: unknown method {self.method!r}; valid: 't', 'bootstrap'")
        lo, hi = (float(v) for v in self.interval)
        if not lo <= hi:
            raise ValueError(f"{self.claim}: interval ({lo}, {hi}) has lo > hi")
        object.__setattr__(self, "interval", (lo, hi))
        if not (0 < self.level < 1 and 0 < self.power < 1):
            raise ValueError(f"{self.claim}: level and power must lie in (0, 1), got {self.level}, {self.power}")
        if not (math.isfinite(self.claimed) and math.isfinite(self.delta) and self.delta >= 0):
            raise ValueError(f"{self.claim}: claimed must be finite and delta a finite tolerance >= 0")
        region = claim_region(float(self.claimed), float(self.delta), self.side)
        if self.region is not None and tuple(float(v) for v in self.region) != region:
            raise ValueError(f"{self.claim}: region {tuple(self.region)} does not follow from claimed, delta "
                             f"and side ({region})")
        object.__setattr__(self, "region", region)
        if not self.mde >= 0:
            raise ValueError(f"{self.claim}: mde must be >= 0 (inf when no interval), got {self.mde}")
        expected = rule_outcome((lo, hi), region, float(self.mde), power_target(self.claimed, self.delta))
        if self.verdict != expected:
            raise ValueError(f"{self.claim}: verdict {self.verdict!r} does not follow from the rules, which give "
                             f"{expected!r} (interval [{lo:.4g}, {hi:.4g}], region {region}, mde {self.mde:.4g}, "
                             f"claimed {self.claimed:.4g}, δ {self.delta:.4g})")

    def to_dict(self) -> dict:
        """JSON-ready fields: the six text fields for a text-only verdict; all fields otherwise, with
        non-finite numbers as None (an unbounded region end, an interval from one unit, an infinite mde)."""
        if self.kind is None:
            return {k: getattr(self, k) for k in LEGACY_FIELDS}
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, tuple):
                v = [None if isinstance(x, float) and not math.isfinite(x) else x for x in v]
            elif isinstance(v, float) and not math.isfinite(v):
                v = None
            out[k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        """Inverse of :meth:`to_dict` (None in an interval or region end is ∓∞ by position)."""
        d = dict(d)
        if d.get("kind") == "statistical":
            for k in ("interval", "region"):
                if d.get(k) is not None:
                    lo, hi = d[k]
                    d[k] = (-math.inf if lo is None else lo, math.inf if hi is None else hi)
            for k in ("mde", "se", "sensitivity"):
                if k in d and d[k] is None:
                    d[k] = math.inf
            if "statistic" in d and d["statistic"] is None:
                d["statistic"] = math.nan
        return cls(**d)


@dataclass
class Report:
    """A chapter's checks and verdicts at one scale."""

    slug: str
    scale: str
    checks: list[Check] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def __post_init__(self) -> None:
        validate_scale(self.scale)
        self.checks = list(self.checks)
        self.verdicts = list(self.verdicts)

    @property
    def all_valid(self) -> bool:
        """True when every validity check passed (an empty report is not valid: nothing was checked)."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failed_checks(self) -> list[Check]:
        """The checks that did not pass."""
        return [c for c in self.checks if not c.passed]

    def assert_valid(self) -> None:
        """Raise if the experiment is not well posed.

        Raises:
            ValidityError: listing each failed check with its value and criterion.
        """
        if not self.checks:
            raise ValidityError(f"{self.slug} at scale {self.scale!r}: no validity checks were recorded")
        failed = self.failed_checks()
        if failed:
            lines = "\n".join(f"  - {c.name}: {c.value} (criterion: {c.criterion})" for c in failed)
            raise ValidityError(f"{self.slug} at scale {self.scale!r}: {len(failed)} of {len(self.checks)} "
                                f"validity checks failed:\n{lines}")

    def to_dict(self) -> dict:
        return {"slug": self.slug, "scale": self.scale,
                "checks": [asdict(c) for c in self.checks],
                "verdicts": [v.to_dict() for v in self.verdicts]}

    @classmethod
    def from_dict(cls, d: dict) -> Report:
        return cls(slug=d["slug"], scale=d["scale"],
                   checks=[Check(**c) for c in d.get("checks", [])],
                   verdicts=[Verdict.from_dict(v) for v in d.get("verdicts", [])])

    def save(self, path: str | Path | None = None) -> Path:
        """Write the report as JSON.

        Args:
            path: the file; default ``<root>/_build/reports/<scale>/<slug>.json``, where tests look for it.

        Returns:
            The path written.
        """
        path = Path(path) if path is not None else report_path(self.slug, self.scale)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Report:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def checks_table(self):
        """Validity checks as a DataFrame (check, passed, value, criterion)."""
        return pd.DataFrame([{"check": c.name, "passed": "✓" if c.passed else "✗", "value": c.value,
                              "criterion": c.criterion} for c in self.checks],
                            columns=["check", "passed", "value", "criterion"])

    def verdict_table(self):
        """Claim verdicts as a DataFrame (claim, statement, verdict, evidence, criterion, source)."""
        return pd.DataFrame([{"claim": v.claim, "statement": v.statement, "verdict": v.verdict,
                              "evidence": v.evidence, "criterion": v.criterion, "source": v.source}
                             for v in self.verdicts],
                            columns=["claim", "statement", "verdict", "evidence", "criterion", "source"])

    def verdict_counts(self) -> dict[str, int]:
        """How many claims got each verdict (all three keys present)."""
        return {k: sum(v.verdict == k for v in self.verdicts) for k in VERDICTS}


# ---- the generic validity checks every chapter with runs makes -------------------------------------------------
# One implementation each, so that a check of the same name means the same thing on every page.
RUN_STATUSES = STATUSES  # a diverged run is a result, not a failure (scalelab.result)


def runs_finished(records: list[dict], planned: list | None = None, *, planned_label: str = "planned runs") -> Check:
    """Every record finished or diverged, and every planned run (``RunSpec``s, matched by config key) has one.

    Args:
        records: the chapter's records.
        planned: the runs that must have a record (None: no completeness requirement beyond ``records``).
        planned_label: how the value names the planned runs (e.g. "planned cosine/stable runs").
    """
    status = [r.get("result", {}).get("status") for r in records]
    n_fin = sum(s == "finished" for s in status)
    n_div = sum(s == "diverged" for s in status)
    n_other = len(status) - n_fin - n_div
    have = {r.get("config_key") for r in records}
    missing = [s for s in (planned or []) if s.config_key not in have]
    return Check("runs finished or recorded as diverged", bool(records) and not n_other and not missing,
                 f"{n_fin} finished, {n_div} diverged, {n_other} other, {len(missing)} {planned_label} without a "
                 f"record", "every planned run has a record with status finished|diverged")


def budgets_met(records: list[dict]) -> Check:
    """Every finished run processed exactly its steps and tokens, starting where its config says.

    A run trains ``total_steps − init_step`` steps (a branch starts at its parent's checkpoint step ``init_step``)
    of ``batch_size · seq_len`` tokens each.
    """
    finished = [r for r in records if r.get("result", {}).get("status") == "finished"]
    unmet = []
    for r in finished:
        res, c = r["result"], r["config"]
        start = int(c.get("init_step") or 0)
        want = int(c["total_steps"]) - start
        per_step = int(c["batch_size"]) * int(c["model"]["seq_len"])
        if res.get("steps") != want or res.get("tokens") != want * per_step or res.get("start_step", 0) != start:
            unmet.append(f"{r.get('experiment', '?')}@{c['total_steps']}: {res.get('steps')}/{want} steps")
    return Check("budgets met", bool(finished) and not unmet,
                 f"{len(finished) - len(unmet)} of {len(finished)} finished runs processed exactly their steps and "
                 f"tokens" + (f"; e.g. {unmet[0]}" if unmet else ""),
                 "steps == total_steps − init_step, tokens == steps · batch_size · seq_len, start at init_step")


def optima_interior(items: list[tuple[str, bool]], what: str) -> Check:
    """Every listed grid optimum is interior (``scalelab.optimum``'s rule): ``items`` = [(label, interior), …]."""
    edge = [label for label, interior in items if not interior]
    n = len(items)
    return Check(f"LR optima interior ({what})", n > 0 and not edge,
                 f"{n - len(edge)} of {n} optima interior" + (f"; at an edge: {', '.join(edge[:6])}" if edge else ""),
                 "the best seed-mean grid point has a grid point on both sides (scalelab.optimum)")


RECREATED_TOL = 1e-5  # nats/byte: a recreated checkpoint's held-out loss vs the parent's recorded one at that step


def branches_reuse_checkpoints(records: list[dict]) -> Check:
    """Every branch starts from its parent's checkpoint at the branch step.

    A branch names the sha256 of the checkpoint it loaded. Equal to the one the parent's record lists: the same
    file. Different: the checkpoint was recreated (``scalelab.runner.recreate_checkpoint`` retrains the parent to
    the step; another thread count or machine changes float summation order, so the bytes differ by rounding).
    Such a branch passes only when the held-out loss it measured on the checkpoint (``start_eval_loss``) equals the
    parent's recorded held-out loss at that step within :data:`RECREATED_TOL` — a thousand times below the seed
    noise of any chapter — which needs the branch step to be one of the parent's evaluation steps.

    This second route was added after chapter 3's exponential-cooldown branches, trained from recreated
    checkpoints, failed the bitwise rule (their parents' eval losses agreed to 1e-7); chapter 3 says so.
    """
    by_ckey = {r.get("config_key"): r for r in records}
    branches = [r for r in records if r["config"].get("init_from")]
    wrong, recreated = [], 0
    for r in branches:
        parent = by_ckey.get(r["config"]["init_from"])
        step = str(r["config"]["init_step"])
        pres = (parent or {}).get("result", {})
        psha = pres.get("checkpoints", {}).get(step, {}).get("sha256")
        if parent is not None and psha is not None and r["result"].get("parent_checkpoint_sha256") == psha:
            continue
        curve = pres.get("eval_curve") or {}
        at = dict(zip(curve.get("step", []), curve.get("loss", [])))
        start = r["result"].get("start_eval_loss")
        want = at.get(int(step))
        if parent is not None and start is not None and want is not None and abs(start - want) <= RECREATED_TOL:
            recreated += 1
            continue
        wrong.append(f"{r.get('experiment', '?')}@{r['config']['total_steps']} from step {step}")
    same = len(branches) - len(wrong) - recreated
    return Check("branches reuse their parent's checkpoint", bool(branches) and not wrong,
                 f"{same} of {len(branches)} branches name a checkpoint whose sha256 equals the one in the parent's "
                 f"record" + (f"; {recreated} start from a recreated checkpoint whose held-out loss equals the "
                              f"parent's at the branch step within {RECREATED_TOL:g}" if recreated else "")
                 + (f"; e.g. {wrong[0]}" if wrong else ""),
                 "result.parent_checkpoint_sha256 == parent result.checkpoints[init_step].sha256, or (recreated) "
                 f"|start_eval_loss − parent eval loss at init_step| ≤ {RECREATED_TOL:g}")
