"""Chapters with committed cpu records: records-only execution is valid and its verdicts are recomputable.

The verdicts the page shows must equal ``analyze(records, "cpu")`` recomputed here from the committed
records, whatever they say: a contradicted claim is a result; a verdict that cannot be recomputed is a bug.
"""

from __future__ import annotations

import importlib
import re

import pytest
from nbhelpers import chapters_with_records, executed, ids

from scalelab import book
from scalelab.checks import Report
from scalelab.paths import report_path
from scalelab.store import RunStore
from scalelab.runner import chapter_records

WITH_RECORDS = chapters_with_records("cpu")


@pytest.mark.parametrize("nb", WITH_RECORDS, ids=ids(WITH_RECORDS))
def test_records_only_report_matches_recomputed_verdicts(nb):
    entry = executed(nb, "cpu", records_only=True)
    assert entry["parameters"]["records_only"] is True
    path = report_path(nb.slug, "cpu")
    assert path.exists() and path.stat().st_mtime >= entry["started"] - 1, f"{nb.name} did not save {path}"
    saved = Report.load(path)
    assert saved.all_valid, [c.name for c in saved.failed_checks()]
    module = importlib.import_module(nb.module)
    # The records the chapter reads (its plan's runs), not every line of the store: a store may also hold
    # runs of an earlier plan, which the page does not show.
    records = chapter_records(module, "cpu", records_only=True)
    assert len(records) <= sum(len(RunStore(p).records()) for p in book.chapter_stores(nb, "cpu"))
    recomputed = module.analyze(records, "cpu")
    assert [v.claim for v in recomputed.verdicts] == [v.claim for v in saved.verdicts]
    for new, old in zip(recomputed.verdicts, saved.verdicts, strict=True):
        assert (new.verdict, new.evidence) == (old.verdict, old.evidence), new.claim
    assert [(c.name, c.passed) for c in recomputed.checks] == [(c.name, c.passed) for c in saved.checks]


@pytest.mark.parametrize("nb", WITH_RECORDS, ids=ids(WITH_RECORDS))
def test_rendered_page_shows_the_saved_verdicts(nb):
    """The executed notebook the book renders displays every saved verdict (claim id and outcome)."""
    import nbformat

    from scalelab.paths import repo_root

    entry = executed(nb, "cpu", records_only=True)
    doc = nbformat.read(str(repo_root() / entry["output"]), as_version=4)
    html = "\n".join(str(o.get("data", {}).get("text/html", ""))
                     for c in doc.cells if c.cell_type == "code" for o in c.get("outputs", []))
    rows = re.findall(r"<tr.*?</tr>", html, flags=re.DOTALL)  # the verdict table, rendered as HTML
    saved = Report.load(report_path(nb.slug, "cpu"))
    for v in saved.verdicts:
        assert any(f">{v.claim}<" in r and f">{v.verdict}<" in r for r in rows), \
            f"{nb.name}: no table row shows verdict {v.claim} = {v.verdict!r}"
