"""Chapters with committed cpu records: records-only execution is valid and its verdicts are recomputable.

The verdicts the page shows must equal ``analyze(records, "cpu")`` recomputed here from the committed
records, whatever they say: a contradicted claim is a result; a verdict that cannot be recomputed is a bug.
"""

from __future__ import annotations

import importlib

import pytest
from nbhelpers import chapters_with_records, executed, ids

from scalelab.checks import Report
from scalelab.paths import report_path, results_path
from scalelab.store import RunStore

WITH_RECORDS = chapters_with_records("cpu")


@pytest.mark.parametrize("nb", WITH_RECORDS, ids=ids(WITH_RECORDS))
def test_records_only_report_matches_recomputed_verdicts(nb):
    entry = executed(nb, "cpu", records_only=True)
    assert entry["parameters"]["records_only"] is True
    path = report_path(nb.slug, "cpu")
    assert path.exists() and path.stat().st_mtime >= entry["started"] - 1, f"{nb.name} did not save {path}"
    saved = Report.load(path)
    assert saved.all_valid, [c.name for c in saved.failed_checks()]
    records = RunStore(results_path(nb.slug, "cpu")).records()
    recomputed = importlib.import_module(nb.module).analyze(records, "cpu")
    assert [v.claim for v in recomputed.verdicts] == [v.claim for v in saved.verdicts]
    for new, old in zip(recomputed.verdicts, saved.verdicts, strict=True):
        assert (new.verdict, new.evidence) == (old.verdict, old.evidence), new.claim
    assert [(c.name, c.passed) for c in recomputed.checks] == [(c.name, c.passed) for c in saved.checks]
