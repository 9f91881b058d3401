"""Verdict tables with anchors and the glance page: reports with and without the quantitative verdict fields."""

import json
import re
import subprocess

import pytest

from scalelab import book, glance
from scalelab.checks import Report, Verdict


def _old(claim, verdict="reproduced"):
    """A verdict as reports wrote it before the quantitative fields existed."""
    return {"claim": claim, "statement": f"claim {claim}", "verdict": verdict, "criterion": "rule",
            "evidence": f"numbers of {claim}", "source": "arXiv 0000.00000"}


def _new(claim, verdict="contradicted", **extra):
    fields = {"kind": "statistical", "statistic": -1.523, "interval": [-1.86, -1.18], "measure": "octaves",
              "claimed": -1.0, "delta": 0.5, "side": "two-sided", "mde": 0.45, "sensitivity": 0.02, "n_units": 4,
              "unit": "seed", "method": "t", "level": 0.95, "se": 0.107, "df": 3, "power": 0.8, "outcome": verdict,
              "reason": "interval excludes the claim; mde ≤ |claimed|"}
    return {**_old(claim, verdict), **fields, **extra}


def _rows(html_text):
    return dict(re.findall(r'<tr id="([^"]+)">(.*?)</tr>', html_text))


def test_anchor_is_stable_and_rejects_empty_ids():
    assert glance.anchor("C2.11") == "c2-11"
    assert glance.anchor(" C1.5 ") == "c1-5"
    assert glance.anchor("C3.3a") == "c3-3a"
    with pytest.raises(ValueError, match="C2.11"):
        glance.anchor("..")


def test_chapter_table_from_old_fields_has_anchors_and_no_empty_columns():
    report = Report("demo", "smoke", verdicts=[Verdict(**_old("C2.1")), Verdict(**_old("C2.11", "contradicted"))])
    table = glance.verdict_table(report)
    assert table.columns == ["claim", "statement", "verdict", "evidence", "criterion", "source"]
    html = table._repr_html_()
    rows = _rows(html)
    assert set(rows) == {"c2-1", "c2-11"}
    assert 'href="#c2-11">C2.11<' in rows["c2-11"] and ">contradicted<" in rows["c2-11"]
    assert "MDE" not in html and "statistic" not in html
    assert "\n\n" not in html  # a blank line would end the HTML block in MyST


def test_chapter_table_shows_new_fields_when_present():
    arithmetic = {**_old("C1.2"), "kind": "arithmetic", "statistic": 1.0, "interval": 0.02, "reason": "exact"}
    rows = [_new("C2.7"), _old("C2.1"), arithmetic]
    table = glance.verdict_table({"verdicts": rows})
    assert table.columns == ["claim", "statement", "verdict", "effect", "claimed", "mde", "sensitivity", "design",
                             "reason", "evidence", "criterion", "source"]
    cells = {a: re.findall(r"<td>(.*?)</td>", r) for a, r in _rows(table._repr_html_()).items()}
    assert cells["c2-7"][2:9] == ["contradicted", "−1.52 [−1.86, −1.18] octaves", "−1 ± 0.5 octaves", "0.45 octaves",
                                  "reproduced iff δ ≥ 0.02", "4 seeds, t",
                                  "interval excludes the claim; mde ≤ |claimed|"]
    assert cells["c2-1"][3:9] == ["–"] * 6  # an old verdict beside new ones: its cells say so
    assert cells["c1-2"][3:9] == ["+1 ± 0.02", "–", "n/a (arithmetic)", "–", "–", "exact"]


def test_a_statistical_checks_verdict_renders_like_its_report_json():
    """The dataclass (in a notebook) and its JSON (on the glance page) give the same cells."""
    fields = _new("C2.7", "not resolved at this scale")
    fields["statistic"], fields["interval"] = -0.2, [-0.9, 0.5]  # inside no region, outside none: not resolved
    try:
        v = Verdict(**fields)
    except (TypeError, ValueError) as e:  # the Verdict type changed: say how, rather than pass silently
        pytest.fail(f"checks.Verdict no longer takes the report fields: {e}")
    from_dataclass = glance.verdict_table(Report("demo", "cpu", verdicts=[v]))._repr_html_()
    from_json = glance.verdict_table(json.loads(json.dumps(Report("demo", "cpu", verdicts=[v]).to_dict())))
    assert from_dataclass == from_json._repr_html_()
    assert "−0.2 [−0.9, +0.5] octaves" in from_dataclass and ">not resolved at this scale<" in from_dataclass


def test_outcome_column_only_when_it_differs_from_the_verdict():
    same = glance.verdict_table({"verdicts": [_new("C2.7")]})
    assert "outcome" not in same.columns
    differs = glance.verdict_table({"verdicts": [_new("C2.7", outcome="not resolved at this scale")]})
    assert differs.columns[:4] == ["claim", "statement", "verdict", "outcome"]


def test_duplicate_anchor_is_an_error():
    with pytest.raises(ValueError, match="c2-1"):
        glance.verdict_table({"verdicts": [_old("C2.1"), _old("c2-1")]})


def test_cells_are_escaped():
    html = glance.verdict_table({"verdicts": [{**_old("C1.1"), "evidence": "a < b & <script>"}]})._repr_html_()
    assert "<script>" not in html and "a &lt; b &amp; &lt;script&gt;" in html


def _chapters(with_new):
    mk = _new if with_new else _old
    return [{"stem": "01_mup_derivation", "title": "μP", "scale": "cpu", "records_commit": "abc123def456",
             "report": {"verdicts": [mk("C1.1", "reproduced"), mk("C1.5", "contradicted")]}},
            {"stem": "02_mu_transfer_ablations", "title": "Ablations", "scale": "smoke", "records_commit": None,
             "report": {"verdicts": [mk("C2.11", "not resolved at this scale")]}}]


def test_glance_page_links_every_claim_to_its_chapter_anchor():
    text = glance.glance_markdown(_chapters(with_new=False), "0.1.0")
    rows = _rows(text)
    assert list(rows) == ["c1-1", "c1-5", "c2-11"]
    assert 'href="chapters/02_mu_transfer_ablations.html#c2-11">C2.11<' in rows["c2-11"]
    assert "numbers of C1.5" in rows["c1-5"]  # no statistic: the evidence column stands in
    assert "Release 0.1.0. 3 claims across 2 chapters." in text
    assert "| {doc}`μP </chapters/01_mup_derivation>` | cpu | `abc123def456` | 1 | 0 | 1 |" in text
    assert "| {doc}`Ablations </chapters/02_mu_transfer_ablations>` | smoke | – | 0 | 1 | 0 |" in text
    assert ":::{warning}" in text and "`02_mu_transfer_ablations`" in text


def test_glance_page_with_new_fields_shows_effect_and_mde_not_evidence():
    text = glance.glance_markdown(_chapters(with_new=True)[:1], "0.2.0")
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", text).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == ["claim", "chapter", "statement", "verdict",
                                                     "statistic [interval]", "claimed (region)", "MDE"]
    assert ":::{warning}" not in text


def test_glance_page_shows_the_evidence_of_a_verdict_without_a_statistic_in_the_statistic_column():
    chapters = _chapters(with_new=True)[:1]
    chapters[0]["report"]["verdicts"].append({**_old("C1.2"), "kind": "arithmetic", "reason": "exact"})
    text = glance.glance_markdown(chapters, "0.2.0")
    header = re.findall(r"<th>(.*?)</th>", re.search(r"<thead><tr>(.*?)</tr></thead>", text).group(1))
    assert header[4] == "statistic [interval] or evidence" and "evidence" not in header[5:]
    cells = {a: re.findall(r"<td>(.*?)</td>", r) for a, r in _rows(text).items()}
    assert cells["c1-2"][4] == "numbers of C1.2" and cells["c1-2"][6] == "n/a (arithmetic)"
    assert cells["c1-1"][4] == "−1.52 [−1.86, −1.18] octaves"


def test_glance_page_rejects_a_claim_id_in_two_chapters():
    chapters = _chapters(with_new=False)
    chapters[1]["report"]["verdicts"][0]["claim"] = "C1.5"
    with pytest.raises(ValueError, match="c1-5"):
        glance.glance_markdown(chapters, "0.1.0")


def test_toc_puts_the_glance_page_first_after_the_introduction():
    files = [ln.strip().removeprefix("- file: ") for ln in book.toc_yaml(["00_setup"]).splitlines()
             if ln.strip().startswith("- file:")]
    assert files[0] == book.GLANCE == "verdicts"


def test_records_commit_names_the_last_commit_and_local_changes(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    rec = tmp_path / "results" / "cpu" / "demo.jsonl"
    assert glance.records_commit(rec, tmp_path) is None  # not a repository
    git("init", "-q")
    rec.parent.mkdir(parents=True)
    rec.write_text("{}\n")
    assert glance.records_commit(rec, tmp_path) is None  # never committed
    git("add", ".")
    git("commit", "-q", "-m", "records")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert glance.records_commit(rec, tmp_path) == sha[:12]
    rec.write_text("{}\n{}\n")
    assert glance.records_commit(rec, tmp_path) == sha[:12] + "+modified"


def _notebook(path):
    import nbformat

    doc = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    doc.cells = [nbformat.v4.new_markdown_cell("# A chapter\n\nText."),
                 nbformat.v4.new_code_cell('scale = "smoke"', metadata={"tags": ["parameters"]})]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(doc, str(path))


def test_check_complete_exits_nonzero_until_every_chapter_is_recorded(tmp_root, capsys, monkeypatch):
    _notebook(tmp_root / "notebooks" / "00_setup.ipynb")  # not a chapter: never counted
    _notebook(tmp_root / "notebooks" / "01_mup_derivation.ipynb")
    assert book.main(["check-complete", "--scale", "cpu"]) == 1
    out = capsys.readouterr()
    assert re.search(r"MISSING 01_mup_derivation +0 of [1-9]\d* cpu runs recorded; run `make chapter NB=01 "
                     r"SCALE=cpu`", out.out), out.out
    assert "00_setup" not in out.out and "would render from smoke" in out.err
    monkeypatch.setattr(book, "record_progress", lambda nb, scale: (7, 7))
    monkeypatch.setattr(book, "records_complete", lambda nb, scale: True)
    assert book.main(["check-complete", "--scale", "cpu"]) == 0
    assert re.search(r"^ok +01_mup_derivation +7 of 7 cpu runs recorded$", capsys.readouterr().out, re.M)
    assert book.main(["check-complete", "--scale", "huge"]) == 2


def test_glance_page_needs_a_fresh_report(tmp_root):
    _notebook(tmp_root / "notebooks" / "01_mup_derivation.ipynb")
    nb = book.discover()[0]
    plan = [{"notebook": nb, "scale": "smoke", "banner": True, "seconds": 1.0, "started": 1e12}]
    with pytest.raises(book.BookError, match="01_mup_derivation.ipynb: no report .*missing"):
        book.glance_page(plan)
    Report("mup_derivation", "smoke", verdicts=[Verdict(**_old("C1.1"))]).save()
    with pytest.raises(book.BookError, match="is older"):
        book.glance_page(plan)
    plan[0]["started"] = 0.0
    text = book.glance_page(plan)
    assert 'href="chapters/01_mup_derivation.html#c1-1">C1.1<' in text and "{doc}`A chapter " in text
