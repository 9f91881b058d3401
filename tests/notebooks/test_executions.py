"""Every notebook executed at smoke scale (by the runner, once), and chapters saved valid reports."""

from __future__ import annotations

import pytest
from nbhelpers import chapters, executed, ids, notebooks

from scalelab.checks import VERDICTS, Report
from scalelab.paths import repo_root, report_path

NOTEBOOKS, CHAPTERS = notebooks(), chapters()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_smoke_execution_succeeded(nb):
    entry = executed(nb, "smoke", records_only=False)
    assert entry["parameters"]["scale"] == "smoke" and entry["parameters"]["records_only"] is False
    assert (repo_root() / entry["output"]).exists()


@pytest.mark.parametrize("nb", CHAPTERS, ids=ids(CHAPTERS))
def test_smoke_report_saved_by_this_execution(nb):
    entry = executed(nb, "smoke", records_only=False)
    path = report_path(nb.slug, "smoke")
    assert path.exists(), f"{nb.name} did not save its report to {path}"
    assert path.stat().st_mtime >= entry["started"] - 1, f"{path} is older than the execution that should write it"
    report = Report.load(path)
    assert report.slug == nb.slug and report.scale == "smoke"
    assert report.all_valid, [c.name for c in report.failed_checks()]
    assert report.verdicts and all(v.verdict in VERDICTS for v in report.verdicts)
