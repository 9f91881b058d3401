"""The checks and verdicts each chapter renders equal its golden file (``tests/golden/<slug>.json``).

The golden files are the reports recomputed from the committed cpu records when they were last changed on
purpose. A refactor must leave them unchanged; a deliberate change (a new rule, new records) regenerates the
chapter's file in the same commit (``scripts/golden_reports.py``), and the page says what changed and why. A
chapter without a golden file fails here: every chapter on main has one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbhelpers import chapters_with_records, executed, ids

from scalelab.paths import report_path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
WITH_RECORDS = chapters_with_records("cpu")


def summary(report: dict) -> dict:
    return {"checks": [{k: c[k] for k in ("name", "passed", "value")} for c in report["checks"]],
            "verdicts": [{k: v.get(k) for k in ("claim", "verdict", "evidence")} for v in report["verdicts"]]}


@pytest.mark.parametrize("nb", WITH_RECORDS, ids=ids(WITH_RECORDS))
def test_rendered_report_equals_the_golden_file(nb):
    executed(nb, "cpu", records_only=True)
    path = GOLDEN / f"{nb.slug}.json"
    assert path.exists(), f"no golden file for {nb.slug}: python scripts/golden_reports.py --only {nb.slug}"
    now = summary(json.loads(report_path(nb.slug, "cpu").read_text()))
    old = json.loads(path.read_text())
    assert [v["claim"] for v in now["verdicts"]] == [v["claim"] for v in old["verdicts"]]
    for a, b in zip(now["verdicts"], old["verdicts"]):
        assert a == b, f"{nb.slug} {a['claim']}: verdict or evidence moved from the golden file"
    assert now["checks"] == old["checks"], f"{nb.slug}: checks moved from the golden file"
