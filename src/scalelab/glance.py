"""Verdict tables with stable anchors, and the "Verdicts at a glance" page.

Every claim's verdict has an anchor made from its id (``C2.11`` → ``#c2-11``) on its chapter page and on the
glance page, so that a verdict can be cited by release, page and anchor (see the book's reproducibility page).
The tables are HTML with explicit ``id`` attributes rather than DataFrames, because a DataFrame's rows have no
stable ids.

A verdict is read as a mapping (a :class:`scalelab.checks.Verdict` or its JSON in a chapter report). Besides the
fields every verdict has (``claim``, ``statement``, ``verdict``, ``criterion``, ``evidence``, ``source``), the
tables show the quantitative fields of :class:`scalelab.checks.Verdict` when a verdict carries them: the
``statistic`` with its ``interval`` (in its ``measure``), the ``claimed`` effect (with ``delta`` and ``side``, its
region), the ``mde``, the ``sensitivity``, the design (``n_units`` of ``unit``, ``method``), the ``outcome`` and the
``reason``. A column appears only when some verdict in the table has it, so a report written before those fields
existed still renders, and a verdict without a field shows "–" in its column.

Used by every chapter notebook (``glance.verdict_table(report)``), :mod:`scalelab.book` (the glance page, at
stage time) and :mod:`scalelab.changelog`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from scalelab.checks import VERDICTS
from scalelab.verdicts import Claim

# Columns shown only when some verdict in the table has the field (the others always show).
OPTIONAL = ("effect", "claimed", "mde", "sensitivity", "design", "reason")
HEADERS = {"effect": "statistic [interval]", "effect_or_evidence": "statistic [interval] or evidence",
           "claimed": "claimed (region)", "mde": "MDE", "sensitivity": "sensitivity", "design": "design",
           "reason": "reason"}
GLANCE_COLUMNS = ("effect", "claimed", "mde")  # the optional columns the glance page shows
KEYS = {"effect": "statistic", "design": "n_units"}  # the field whose presence shows a column
MISSING = "–"


def anchor(claim: str) -> str:
    """The page anchor of a claim's verdict: ``"C2.11"`` → ``"c2-11"``.

    Raises:
        ValueError: when the claim id has no letter or digit to build an anchor from.
    """
    out = re.sub(r"[^a-z0-9]+", "-", str(claim).strip().lower()).strip("-")
    if not out:
        raise ValueError(f"claim id {claim!r} gives an empty anchor; use ids like 'C2.11'")
    return out


def as_dict(verdict) -> dict:
    """A verdict as a plain dict, whether a dataclass (``checks.Verdict``) or a mapping (report JSON).

    Raises:
        TypeError: for anything else.
    """
    if dataclasses.is_dataclass(verdict) and not isinstance(verdict, type):
        return dataclasses.asdict(verdict)
    if isinstance(verdict, Mapping):
        return dict(verdict)
    raise TypeError(f"a verdict is a checks.Verdict or a mapping, got {type(verdict).__name__}")


def _number(x, sign: bool = False) -> str:
    """Three significant digits with a true minus sign; "–" for a missing value."""
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, (int, float)):
        if math.isnan(x):
            return MISSING
        if math.isinf(x):
            return "−∞" if x < 0 else ("+∞" if sign else "∞")
        return (f"{x:+.3g}" if sign else f"{x:.3g}").replace("-", "−")
    return str(x)


def _measure(d: Mapping) -> str:
    return f" {d['measure']}" if d.get("measure") else ""


def _interval(iv) -> tuple | None:
    """(lo, hi) from a two-element sequence or a mapping with lo/hi (low/high, lower/upper); else None."""
    if isinstance(iv, Mapping):
        for lo, hi in (("lo", "hi"), ("low", "high"), ("lower", "upper")):
            if lo in iv and hi in iv:
                return iv[lo], iv[hi]
        return None
    if isinstance(iv, Sequence) and not isinstance(iv, str) and len(iv) == 2:
        return iv[0], iv[1]
    return None


def effect_text(d: Mapping) -> str:
    """``statistic [lo, hi] measure`` for an interval given by its ends, ``statistic ± u`` for a half-width."""
    s = d.get("statistic")
    if s is None:
        return MISSING
    iv = d.get("interval")
    ends = _interval(iv)
    if ends is not None:
        text = f"{_number(s, True)} [{_number(ends[0], True)}, {_number(ends[1], True)}]"
    elif isinstance(iv, (int, float)) and not isinstance(iv, bool):
        text = f"{_number(s, True)} ± {_number(iv)}"
    else:
        text = _number(s, True) + ("" if iv is None else f" ({iv})")
    return text + _measure(d)


def claimed_text(d: Mapping) -> str:
    """The claimed effect and, with its tolerance δ and side, the region the statistic must lie in."""
    c = d.get("claimed")
    if c is None:
        return MISSING
    delta, side = d.get("delta"), d.get("side")
    if delta is not None and side is not None:
        try:
            return Claim(c, delta, side, d.get("measure") or "").describe()
        except (ValueError, TypeError):
            pass
    return _number(c, True) + _measure(d)


def sensitivity_text(d: Mapping) -> str:
    """The tolerance at which the outcome would change (reproduced iff δ ≥ it)."""
    s = d.get("sensitivity")
    return MISSING if s is None else f"reproduced iff δ ≥ {_number(s)}"


def design_text(d: Mapping) -> str:
    """How the interval was made: ``4 seeds, t``."""
    n = d.get("n_units")
    if n is None:
        return MISSING
    unit = d.get("unit") or "unit"
    return f"{n} {unit}{'' if n == 1 else 's'}" + (f", {d['method']}" if d.get("method") else "")


def mde_text(d: Mapping) -> str:
    """The minimum detectable effect; an arithmetic claim (``kind: "arithmetic"``) has none by design."""
    if d.get("mde") is None and d.get("kind") == "arithmetic":
        return "n/a (arithmetic)"
    return MISSING if d.get("mde") is None else _number(d["mde"]) + _measure(d)


def outcome(d: Mapping) -> str:
    """The outcome a reader sees: ``outcome`` when a verdict has it, else the ``verdict`` field."""
    return str(d.get("outcome") or d.get("verdict") or MISSING)


def cell(d: Mapping, column: str) -> str:
    """The text of one table cell (before HTML escaping)."""
    formats = {"effect": effect_text, "mde": mde_text, "claimed": claimed_text, "sensitivity": sensitivity_text,
               "design": design_text}
    if column in formats:
        return formats[column](d)
    if column == "effect_or_evidence":
        return effect_text(d) if d.get("statistic") is not None else cell(d, "evidence")
    if column == "verdict":
        return str(d.get("verdict") or d.get("outcome") or MISSING)
    value = d.get(column)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    return MISSING if value is None or value == "" else str(value)


def _present(rows: Sequence[Mapping], column: str) -> bool:
    key = KEYS.get(column, column)
    return any(r.get(key) is not None for r in rows)


def optional_columns(rows: Sequence[Mapping]) -> list[str]:
    """The optional columns some verdict in ``rows`` has, in display order."""
    return [c for c in OPTIONAL if _present(rows, c)]


def _outcome_differs(rows: Sequence[Mapping]) -> bool:
    return any(r.get("outcome") is not None and r.get("verdict") is not None and r["outcome"] != r["verdict"]
               for r in rows)


def _html_table(rows: Sequence[Mapping], columns: Sequence[str], link, extra_class: str) -> str:
    head = "".join(f"<th>{html.escape(HEADERS.get(c, c))}</th>" for c in columns)
    body = []
    for d in rows:
        a = anchor(d["claim"])
        tds = []
        for c in columns:
            if c == "claim":
                tds.append(f'<td><a class="verdict-anchor" href="{html.escape(link(a), quote=True)}">'
                           f"{html.escape(str(d['claim']))}</a></td>")
            else:
                tds.append(f"<td>{html.escape(' '.join(cell(d, c).split()))}</td>")
        body.append(f'<tr id="{a}">' + "".join(tds) + "</tr>")
    # One line per row and no blank lines: MyST passes an HTML block through only up to the first blank line.
    return (f'<table class="table dataframe verdict-table {extra_class}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody>\n</table>\n")


class VerdictTable:
    """A chapter's verdicts as an HTML table whose rows carry the claims' anchors (``<tr id="c2-11">``).

    Displayed by Jupyter through ``_repr_html_``; ``rows`` and ``columns`` hold what the table shows.
    """

    def __init__(self, verdicts: Sequence) -> None:
        self.rows = [as_dict(v) for v in verdicts]
        anchors = [anchor(d["claim"]) for d in self.rows]
        dup = sorted({a for a in anchors if anchors.count(a) > 1})
        if dup:
            raise ValueError(f"two verdicts share the anchor(s) {', '.join(dup)}; claim ids must be unique")
        self.columns = (["claim", "statement", "verdict"] + (["outcome"] if _outcome_differs(self.rows) else [])
                        + optional_columns(self.rows) + ["evidence", "criterion", "source"])

    def _repr_html_(self) -> str:
        return _html_table(self.rows, self.columns, lambda a: f"#{a}", "chapter-verdicts")

    def __repr__(self) -> str:
        return "\n".join(f"{d['claim']}: {outcome(d)}" for d in self.rows) or "(no verdicts)"


def verdict_table(report) -> VerdictTable:
    """The verdict table of a chapter page: a :class:`scalelab.checks.Report` or its JSON as a dict."""
    verdicts = report.get("verdicts", []) if isinstance(report, Mapping) else report.verdicts
    return VerdictTable(verdicts)


# ------------------------------------------------------------------------------------------- the page
def load_report(path: str | Path) -> dict:
    """A chapter report as JSON (not :class:`scalelab.checks.Report`, so reports with newer fields load too)."""
    return json.loads(Path(path).read_text())


def records_commit(path: str | Path, root: str | Path) -> str | None:
    """The commit (12 hex digits) that last changed a records file, with "+modified" when the working copy differs.

    None when git or the history is unavailable, or the file was never committed.
    """
    path, root = Path(path), Path(root)
    try:
        rel = str(path.resolve().relative_to(Path(root).resolve()))
        sha = subprocess.run(["git", "log", "-1", "--format=%H", "--", rel], cwd=root, capture_output=True,
                             text=True, timeout=30)
        if sha.returncode != 0 or not sha.stdout.strip():
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", rel], cwd=root, capture_output=True,
                               text=True, timeout=30)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return sha.stdout.strip()[:12] + ("+modified" if dirty.stdout.strip() else "")


def counts(verdicts: Sequence[Mapping]) -> dict[str, int]:
    """How many verdicts have each outcome (every outcome of :data:`scalelab.checks.VERDICTS` present)."""
    out = {k: 0 for k in VERDICTS}
    for d in verdicts:
        out[outcome(d)] = out.get(outcome(d), 0) + 1
    return out


def glance_markdown(chapters: Sequence[Mapping], release: str) -> str:
    """The body of the "Verdicts at a glance" page.

    Args:
        chapters: one mapping per chapter, in book order, with ``stem`` (``02_mu_transfer_ablations``), ``title``,
            ``scale`` (the scale its page renders from), ``report`` (the report JSON) and ``records_commit``
            (the commit of its records, or None when unknown).
        release: the package version the book was built from.

    Returns:
        MyST markdown: a summary per chapter, then every claim with its outcome, the quantitative fields its
        verdicts carry and a link to the verdict on the chapter page.
    """
    rows, summary = [], []
    for ch in chapters:
        verdicts = [as_dict(v) for v in ch["report"].get("verdicts", [])]
        for d in verdicts:
            rows.append({**d, "chapter": ch["stem"][:2].lstrip("0") or "0", "_page": f"chapters/{ch['stem']}.html"})
        c = counts(verdicts)
        summary.append({"chapter": f"{{doc}}`{ch['title']} </chapters/{ch['stem']}>`", "rendered from": ch["scale"],
                        "records' commit": f"`{ch['records_commit']}`" if ch.get("records_commit") else MISSING,
                        **{k: c[k] for k in VERDICTS}})
    out = [f"Release {release}. {len(rows)} claims across {len(chapters)} chapters.\n"]
    smoke = [ch["stem"] for ch in chapters if ch["scale"] == "smoke"]
    if smoke:
        out.append(":::{warning}\nRendered at smoke scale, so these verdicts only exercise the code: "
                   + ", ".join(f"`{s}`" for s in smoke) + ".\n:::\n")
    cols = ["chapter", "rendered from", "records' commit", *VERDICTS]
    out.append("| " + " | ".join(cols) + " |\n|" + "|".join("---" for _ in cols) + "|\n"
               + "".join("| " + " | ".join(str(s[c]) for c in cols) + " |\n" for s in summary))
    anchors = [(r["_page"], anchor(r["claim"])) for r in rows]
    dup = sorted({a for _, a in anchors if sum(b == a for _, b in anchors) > 1})
    if dup:
        raise ValueError(f"claim ids shared by several chapters: {', '.join(dup)}; anchors must be unique")
    # At a glance: the effect, the claim and the power; sensitivity, design and reason are on the chapter page.
    optional = [c for c in optional_columns(rows) if c in GLANCE_COLUMNS]
    if "effect" in optional:
        if any(r.get("statistic") is None for r in rows):  # arithmetic or text-only verdicts: their evidence there
            optional[optional.index("effect")] = "effect_or_evidence"
    else:
        optional.append("evidence")  # no verdict has a statistic: the numbers are in the evidence
    columns = (["claim", "chapter", "statement", "verdict"] + (["outcome"] if _outcome_differs(rows) else [])
               + optional)
    pages = {anchor(r["claim"]): r["_page"] for r in rows}
    out.append("\n" + _html_table(rows, columns, lambda a: f"{pages[a]}#{a}", "glance-verdicts"))
    return "\n".join(out)
