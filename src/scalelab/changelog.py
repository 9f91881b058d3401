"""The changelog of verdicts: what each tagged release concluded, and which verdicts changed since the last one.

At a release, ``snapshot`` stores the verdicts of every chapter report the book was built from
(``_build/reports/<scale>/<slug>.json``) in ``releases/<tag>.json``, with the commit of each chapter's records;
``render`` writes ``CHANGELOG.md`` from those snapshots, listing for each release the verdicts that changed
against the previous release (old, new, reason, records' commit). The first release lists every verdict.

Commands (``python -m scalelab.changelog <command> --help``):

* ``release [--tag v0.1.0] [--date YYYY-MM-DD]``: ``snapshot`` then ``render`` (what a maintainer runs before
  tagging; the tag defaults to ``v`` + the package version);
* ``snapshot``, ``render``: the two steps alone;
* ``check [--tag …]``: exits 1 unless ``releases/<tag>.json`` holds the verdicts of the current reports and
  ``CHANGELOG.md`` is what ``render`` writes (the publishing workflow runs it on a tag).

A snapshot is refused when a chapter's report is missing, stale (its notebook, the package or the records
changed since the execution that wrote it) or made from records with uncommitted changes: a release cites
committed records only. Used by the publishing workflow; the verdict anchors are :func:`scalelab.glance.anchor`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from scalelab import __version__, book, glance
from scalelab.checks import VERDICTS
from scalelab.paths import repo_root, report_path, results_path
from scalelab.scales import validate_scale

RELEASES = "releases"
CHANGELOG = "CHANGELOG.md"
TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
LONG = 240  # characters of evidence quoted as a reason before it is cut


class ChangelogError(RuntimeError):
    """A snapshot cannot be taken or the changelog is out of date; the message says what to run."""


def tag_key(tag: str) -> tuple[int, int, int]:
    """Sort key of a release tag ``vMAJOR.MINOR.PATCH``.

    Raises:
        ValueError: for a tag of another form.
    """
    m = TAG.match(tag)
    if not m:
        raise ValueError(f"release tag {tag!r} is not of the form vMAJOR.MINOR.PATCH, e.g. v0.1.0")
    return int(m[1]), int(m[2]), int(m[3])


def default_tag() -> str:

    return f"v{__version__}"


def releases_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / RELEASES


def snapshot(tag: str, scale: str = "cpu", date: str | None = None, *, require_fresh: bool = True) -> dict:
    """The verdicts of every chapter's report at ``scale``, with each chapter's records' commit.

    Raises:
        ValueError: on a malformed tag or an unknown scale.
        ChangelogError: for a chapter whose report is missing or stale, or whose records are not committed.
    """

    tag_key(tag)
    validate_scale(scale)
    chapters, problems = {}, []
    for nb in book.discover():
        if not nb.is_chapter:
            continue
        path = report_path(nb.slug, scale)
        again = f"python -m scalelab.book run --scale {scale} --records-only --only {nb.number}"
        if not path.exists():
            problems.append(f"{nb.name}: no report at {scale}; run `{again}`")
            continue
        if require_fresh and book.fresh_entry(nb, scale, records_only=True) is None:
            problems.append(f"{nb.name}: the report at {scale} is stale (the notebook, the package or the records "
                            f"changed since it was written); run `{again}`")
            continue
        commit = glance.records_commit(results_path(nb.slug, scale), repo_root())
        if commit is None or commit.endswith("+modified"):
            problems.append(f"{nb.name}: results/{scale}/{nb.slug}.jsonl "
                            + ("has uncommitted changes" if commit else "is not committed")
                            + "; a release cites committed records only")
            continue
        verdicts = [glance.as_dict(v) for v in glance.load_report(path).get("verdicts", [])]
        chapters[nb.slug] = {"notebook": nb.stem, "records_commit": commit, "verdicts": verdicts}
    if problems:
        raise ChangelogError("cannot snapshot the verdicts:\n  " + "\n  ".join(problems))
    if not chapters:
        raise ChangelogError("no chapter reports found: build the book first (`make book`)")
    return {"tag": tag, "date": date or _dt.date.today().isoformat(), "scale": scale, "chapters": chapters}


def write_snapshot(snap: dict, root: Path | None = None) -> Path:
    path = releases_dir(root) / f"{snap['tag']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snap, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def load_snapshots(root: Path | None = None) -> list[dict]:
    """Every ``releases/v*.json``, oldest release first.

    Raises:
        ValueError: for a file whose name is not a release tag.
    """
    files = sorted(releases_dir(root).glob("*.json"), key=lambda p: tag_key(p.stem))
    return [json.loads(p.read_text()) for p in files]


def _verdicts(snap: dict) -> dict[str, tuple[str, dict]]:
    """claim → (chapter slug, verdict) over a snapshot's chapters, in book order (by notebook)."""
    chapters = sorted(snap["chapters"].items(), key=lambda kv: kv[1]["notebook"])
    return {v["claim"]: (slug, v) for slug, ch in chapters for v in ch["verdicts"]}


def _cut(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= LONG else text[: LONG - 1] + "…"


def change_reason(old: dict, new: dict, old_commit: str, new_commit: str) -> str:
    """Why a verdict changed, from what differs: the criterion, the records, and the new verdict's own reason."""
    parts = []
    if old.get("criterion") != new.get("criterion"):
        parts.append("criterion changed")
    if old_commit != new_commit:
        parts.append(f"records changed ({old_commit} → {new_commit})")
    if new.get("reason"):
        parts.append(_cut(new["reason"]))
    else:
        parts.append("evidence: " + _cut(new.get("evidence", "")))
    return "; ".join(parts)


def changes(prev: dict, cur: dict) -> dict[str, list[dict]]:
    """Verdicts that changed, were added or were removed between two snapshots, in the current release's order."""

    before, after = _verdicts(prev), _verdicts(cur)
    changed, added = [], []
    for claim, (slug, v) in after.items():
        commit = cur["chapters"][slug]["records_commit"]
        if claim not in before:
            added.append({"claim": claim, "new": glance.outcome(v), "records_commit": commit})
            continue
        old_slug, old = before[claim]
        if glance.outcome(old) != glance.outcome(v):
            old_commit = prev["chapters"][old_slug]["records_commit"]
            changed.append({"claim": claim, "old": glance.outcome(old), "new": glance.outcome(v),
                            "reason": change_reason(old, v, old_commit, commit), "records_commit": commit})
    removed = [{"claim": c, "old": glance.outcome(v)} for c, (_, v) in before.items() if c not in after]
    return {"changed": changed, "added": added, "removed": removed}


def _table(rows: list[dict], columns: Sequence[tuple[str, str]]) -> str:
    def esc(x) -> str:
        return str(x).replace("|", "\\|")

    head = "| " + " | ".join(h for h, _ in columns) + " |\n|" + "|".join("---" for _ in columns) + "|\n"
    return head + "".join("| " + " | ".join(esc(r[k]) for _, k in columns) + " |\n" for r in rows)


def _claim(c: str) -> str:

    return f"{c} (`#{glance.anchor(c)}`)"


def render(snapshots: Sequence[dict]) -> str:
    """``CHANGELOG.md`` from the release snapshots (oldest first), newest release at the top."""

    out = ["# Changelog\n",
           "The verdicts of each tagged release, and those that changed since the release before. Generated by "
           "`python -m scalelab.changelog render` from `releases/<tag>.json`, which "
           "`python -m scalelab.changelog release` takes from the chapter reports the book was built from "
           "(`_build/reports/<scale>/<chapter>.json`). Cite a verdict by its release, its anchor on the "
           "\"Verdicts at a glance\" page or its chapter page (`#c2-11`), and its records' commit.\n"]
    for i in range(len(snapshots) - 1, -1, -1):
        cur = snapshots[i]
        verdicts = _verdicts(cur)
        n = {k: sum(glance.outcome(v) == k for _, v in verdicts.values()) for k in VERDICTS}
        out.append(f"## {cur['tag']} ({cur['date']})\n")
        summary = (f"{len(verdicts)} verdicts across {len(cur['chapters'])} chapters at the `{cur['scale']}` scale: "
                   + ", ".join(f"{n[k]} {k}" for k in VERDICTS) + ".")
        if i == 0:
            out.append("The first release: there is no earlier release to compare with, so every verdict is "
                       f"listed. {summary}\n")
            rows = [{"claim": _claim(c), "chapter": cur["chapters"][slug]["notebook"], "verdict": glance.outcome(v),
                     "commit": f"`{cur['chapters'][slug]['records_commit']}`"} for c, (slug, v) in verdicts.items()]
            out.append(_table(rows, [("claim", "claim"), ("chapter", "chapter"), ("verdict", "verdict"),
                                     ("records' commit", "commit")]))
            continue
        prev = snapshots[i - 1]
        diff = changes(prev, cur)
        out.append(f"Compared with {prev['tag']}. {summary}\n")
        if diff["changed"]:
            rows = [{**r, "claim": _claim(r["claim"]), "records_commit": f"`{r['records_commit']}`"}
                    for r in diff["changed"]]
            out.append("Changed verdicts:\n\n" + _table(rows, [("claim", "claim"), ("old", "old"), ("new", "new"),
                                                               ("reason", "reason"),
                                                               ("records' commit", "records_commit")]))
        else:
            out.append("No verdict changed.\n")
        if diff["added"]:
            rows = [{**r, "claim": _claim(r["claim"]), "records_commit": f"`{r['records_commit']}`"}
                    for r in diff["added"]]
            out.append("New claims:\n\n" + _table(rows, [("claim", "claim"), ("verdict", "new"),
                                                         ("records' commit", "records_commit")]))
        if diff["removed"]:
            out.append("Claims no longer tested: " + ", ".join(f"{r['claim']} (was {r['old']})"
                                                               for r in diff["removed"]) + ".\n")
    return "\n".join(out)


def check(tag: str, scale: str = "cpu") -> list[str]:
    """What is out of date: the snapshot of ``tag`` against the current reports, and ``CHANGELOG.md``."""
    problems = []
    path = releases_dir() / f"{tag}.json"
    if not path.exists():
        problems.append(f"{path.name} is missing: run `python -m scalelab.changelog release --tag {tag}`")
    else:
        saved = json.loads(path.read_text())
        try:
            now = snapshot(tag, scale, date=saved.get("date"))
        except ChangelogError as e:
            problems.append(str(e))
        else:
            if now["chapters"] != saved["chapters"]:
                diff = changes(saved, now)
                what = [f"{r['claim']}: {r['old']} → {r['new']}" for r in diff["changed"]]
                problems.append(f"{path.name} does not hold the verdicts of the current reports"
                                + (f" ({'; '.join(what)})" if what else " (fields or records' commits differ)")
                                + f": run `python -m scalelab.changelog release --tag {tag}`")
    md = repo_root() / CHANGELOG
    if not md.exists() or md.read_text() != render(load_snapshots()):
        problems.append(f"{CHANGELOG} is not what the snapshots give: run `python -m scalelab.changelog render`")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalelab.changelog", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (("release", "snapshot the current reports, then render CHANGELOG.md"),
                       ("snapshot", "write releases/<tag>.json from the current reports"),
                       ("check", "exit 1 unless the snapshot and CHANGELOG.md match the current reports")):
        p = sub.add_parser(name, help=what)
        p.add_argument("--tag", default=None, help="release tag vMAJOR.MINOR.PATCH (default: v + package version)")
        p.add_argument("--scale", default="cpu")
        if name != "check":
            p.add_argument("--date", default=None, help="release date YYYY-MM-DD (default: today)")
    sub.add_parser("render", help="write CHANGELOG.md from releases/*.json")
    args = parser.parse_args(argv)
    try:
        if args.command in ("release", "snapshot"):
            tag = args.tag or default_tag()
            print(f"wrote {write_snapshot(snapshot(tag, args.scale, args.date)).relative_to(repo_root())}")
        if args.command in ("release", "render"):
            (repo_root() / CHANGELOG).write_text(render(load_snapshots()))
            print(f"wrote {CHANGELOG}")
        if args.command == "check":
            problems = check(args.tag or default_tag(), args.scale)
            if problems:
                print("error: " + "\n  ".join(problems), file=sys.stderr)
                return 1
            print(f"{CHANGELOG} and {RELEASES}/{args.tag or default_tag()}.json match the current reports")
    except (ValueError, ChangelogError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
