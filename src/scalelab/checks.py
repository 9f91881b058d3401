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
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERDICTS = ("reproduced", "not resolved at this scale", "contradicted")


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

    Attributes:
        claim: the claim id, e.g. "C3.1".
        statement: the claim in one sentence.
        verdict: one of :data:`VERDICTS`.
        criterion: the rule, stated before the results.
        evidence: the numbers the rule was applied to.
        source: the paper (arXiv id and section/figure).
    """

    claim: str
    statement: str
    verdict: str
    criterion: str
    evidence: str
    source: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; valid: {', '.join(map(repr, VERDICTS))}")
        for name in ("claim", "statement", "criterion", "evidence", "source"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Verdict.{name} must be str, got {type(getattr(self, name)).__name__}")


@dataclass
class Report:
    """A chapter's checks and verdicts at one scale."""

    slug: str
    scale: str
    checks: list[Check] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def __post_init__(self) -> None:
        from scalelab.scales import validate_scale

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
                "verdicts": [asdict(v) for v in self.verdicts]}

    @classmethod
    def from_dict(cls, d: dict) -> Report:
        return cls(slug=d["slug"], scale=d["scale"],
                   checks=[Check(**c) for c in d.get("checks", [])],
                   verdicts=[Verdict(**v) for v in d.get("verdicts", [])])

    def save(self, path: str | Path | None = None) -> Path:
        """Write the report as JSON.

        Args:
            path: the file; default ``<root>/_build/reports/<scale>/<slug>.json``, where tests look for it.

        Returns:
            The path written.
        """
        from scalelab.paths import report_path

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
        import pandas as pd

        return pd.DataFrame([{"check": c.name, "passed": "✓" if c.passed else "✗", "value": c.value,
                              "criterion": c.criterion} for c in self.checks],
                            columns=["check", "passed", "value", "criterion"])

    def verdict_table(self):
        """Claim verdicts as a DataFrame (claim, statement, verdict, evidence, criterion, source)."""
        import pandas as pd

        return pd.DataFrame([{"claim": v.claim, "statement": v.statement, "verdict": v.verdict,
                              "evidence": v.evidence, "criterion": v.criterion, "source": v.source}
                             for v in self.verdicts],
                            columns=["claim", "statement", "verdict", "evidence", "criterion", "source"])

    def verdict_counts(self) -> dict[str, int]:
        """How many claims got each verdict (all three keys present)."""
        return {k: sum(v.verdict == k for v in self.verdicts) for k in VERDICTS}
