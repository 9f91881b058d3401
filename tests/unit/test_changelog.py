"""The verdict changelog: snapshots taken from chapter reports, and the changes between releases."""

import json
import subprocess

import nbformat
import pytest

from scalelab import book, changelog
from scalelab.checks import Report, Verdict


def _v(claim, verdict, **extra):
    return {"claim": claim, "statement": "s", "verdict": verdict, "criterion": "rule", "evidence": f"ev {claim}",
            "source": "arXiv", **extra}


def _snap(tag, commit, verdicts, date="2025-01-01"):
    return {"tag": tag, "date": date, "scale": "cpu",
            "chapters": {"mu_transfer_ablations": {"notebook": "02_mu_transfer_ablations", "records_commit": commit,
                                                   "verdicts": verdicts}}}


def test_tags_sort_by_number_and_bad_tags_name_the_form():
    assert sorted(["v0.10.0", "v0.2.0", "v1.0.0"], key=changelog.tag_key) == ["v0.2.0", "v0.10.0", "v1.0.0"]
    with pytest.raises(ValueError, match="vMAJOR.MINOR.PATCH"):
        changelog.tag_key("release-1")


def test_first_release_lists_every_verdict_and_says_it_is_the_first():
    text = changelog.render([_snap("v0.1.0", "aaa111", [_v("C2.1", "reproduced"), _v("C2.11", "contradicted")])])
    assert "## v0.1.0 (2025-01-01)" in text and "The first release" in text
    assert "2 verdicts across 1 chapters at the `cpu` scale: 1 reproduced, 0 not resolved at this scale, " \
           "1 contradicted." in text
    assert "| C2.11 (`#c2-11`) | 02_mu_transfer_ablations | contradicted | `aaa111` |" in text
    two = _snap("v0.1.0", "aaa111", [_v("C2.1", "reproduced")])
    two["chapters"]["chinchilla"] = {"notebook": "05_chinchilla", "records_commit": "ccc333",
                                     "verdicts": [_v("C5.1", "reproduced")]}
    two["chapters"] = dict(sorted(two["chapters"].items()))  # as the JSON stores them: chinchilla first
    text = changelog.render([two])
    assert text.index("| C2.1 ") < text.index("| C5.1 "), "verdicts are listed in book order"


def test_a_later_release_lists_changed_added_and_removed_verdicts():
    old = _snap("v0.1.0", "aaa111", [_v("C2.1", "reproduced"), _v("C2.7", "contradicted"), _v("C2.9", "reproduced")])
    new = _snap("v0.2.0", "bbb222", [_v("C2.1", "reproduced"),
                                     _v("C2.7", "contradicted", outcome="not resolved at this scale",
                                        reason="mde 1.2 > |claimed| 1.0", criterion="new rule"),
                                     _v("C2.12", "reproduced")], date="2025-02-01")
    diff = changelog.changes(old, new)
    assert [r["claim"] for r in diff["changed"]] == ["C2.7"]  # C2.1 kept its outcome: not listed
    assert diff["changed"][0]["old"] == "contradicted" and diff["changed"][0]["new"] == "not resolved at this scale"
    assert diff["changed"][0]["reason"] == "criterion changed; records changed (aaa111 → bbb222); " \
                                           "mde 1.2 > |claimed| 1.0"
    assert [r["claim"] for r in diff["added"]] == ["C2.12"]
    assert diff["removed"] == [{"claim": "C2.9", "old": "reproduced"}]
    text = changelog.render([old, new])
    assert text.index("## v0.2.0") < text.index("## v0.1.0")  # newest first
    assert "| C2.7 (`#c2-7`) | contradicted | not resolved at this scale | criterion changed; records changed " \
           "(aaa111 → bbb222); mde 1.2 > \\|claimed\\| 1.0 | `bbb222` |" in text
    assert "Claims no longer tested: C2.9 (was reproduced)." in text


def test_unchanged_release_says_so_and_reason_falls_back_to_the_evidence():
    a = _snap("v0.1.0", "aaa111", [_v("C2.1", "reproduced")])
    b = _snap("v0.1.1", "aaa111", [_v("C2.1", "reproduced")])
    assert "No verdict changed." in changelog.render([a, b])
    reason = changelog.change_reason(_v("C2.1", "reproduced"), _v("C2.1", "contradicted", evidence="x " * 300),
                                     "aaa", "aaa")
    assert reason.startswith("evidence: x x") and reason.endswith("…") and len(reason) < 260


def _git(root, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def chapter_repo(tmp_root):
    """A repository with one chapter notebook, its committed cpu records and its cpu report."""
    doc = nbformat.v4.new_notebook()
    doc.cells = [nbformat.v4.new_markdown_cell("# Ch")]
    (tmp_root / "notebooks").mkdir()
    nbformat.write(doc, str(tmp_root / "notebooks" / "02_mu_transfer_ablations.ipynb"))
    rec = tmp_root / "results" / "cpu" / "mu_transfer_ablations.jsonl"
    rec.parent.mkdir(parents=True)
    rec.write_text("{}\n")
    _git(tmp_root, "init", "-q")
    _git(tmp_root, "add", ".")
    _git(tmp_root, "commit", "-q", "-m", "records")
    return tmp_root


def test_snapshot_reads_the_reports_and_refuses_uncommitted_records(chapter_repo):
    with pytest.raises(changelog.ChangelogError, match="no report at cpu; run `python -m scalelab.book run"):
        changelog.snapshot("v0.1.0", require_fresh=False)
    Report("mu_transfer_ablations", "cpu", verdicts=[Verdict(**_v("C2.1", "reproduced"))]).save()
    with pytest.raises(changelog.ChangelogError, match="stale"):
        changelog.snapshot("v0.1.0")  # no execution in the manifest: nothing says the report is current
    snap = changelog.snapshot("v0.1.0", date="2025-03-01", require_fresh=False)
    head = _git(chapter_repo, "rev-parse", "HEAD")
    assert snap["chapters"]["mu_transfer_ablations"]["records_commit"] == head[:12]
    assert snap["chapters"]["mu_transfer_ablations"]["verdicts"][0]["verdict"] == "reproduced"
    path = changelog.write_snapshot(snap)
    assert changelog.load_snapshots() == [json.loads(path.read_text())]
    (chapter_repo / "results" / "cpu" / "mu_transfer_ablations.jsonl").write_text("{}\n{}\n")
    with pytest.raises(changelog.ChangelogError, match="uncommitted changes"):
        changelog.snapshot("v0.1.0", require_fresh=False)


def test_check_finds_a_stale_changelog(chapter_repo, monkeypatch):
    Report("mu_transfer_ablations", "cpu", verdicts=[Verdict(**_v("C2.1", "reproduced"))]).save()
    monkeypatch.setattr(book, "fresh_entry", lambda nb, scale, records_only: {"status": "ok"})
    assert any("v0.1.0.json is missing" in p for p in changelog.check("v0.1.0"))
    assert changelog.main(["release", "--tag", "v0.1.0", "--date", "2025-03-01"]) == 0
    assert changelog.check("v0.1.0") == []
    (chapter_repo / "CHANGELOG.md").write_text("# Changelog\n\nedited by hand\n")
    assert any("CHANGELOG.md is not what the snapshots give" in p for p in changelog.check("v0.1.0"))
    assert changelog.main(["render"]) == 0
    Report("mu_transfer_ablations", "cpu", verdicts=[Verdict(**_v("C2.1", "contradicted"))]).save()
    problems = changelog.check("v0.1.0")
    assert any("C2.1: reproduced → contradicted" in p for p in problems), problems
    assert changelog.main(["check", "--tag", "v0.1.0"]) == 1
    assert changelog.main(["snapshot", "--tag", "1.0"]) == 2


def test_citation_names_this_release_and_the_repository_the_launch_buttons_open(repo_root):
    import yaml

    from scalelab import __version__

    cff = yaml.safe_load((repo_root / "CITATION.cff").read_text())
    config = yaml.safe_load((repo_root / "book" / "_config.yml").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["authors"] and cff["title"]
    assert cff["version"] == __version__, "CITATION.cff's version is not the package's"
    assert cff["repository-code"] == config["repository"]["url"]
    assert cff["url"] in (repo_root / "README.md").read_text(), "the README does not link the published book"
