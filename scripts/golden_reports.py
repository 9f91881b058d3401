"""Write (or check) the golden reports: every chapter's checks and verdicts recomputed from the committed cpu
records, as they stand before a refactor. ``tests/unit/test_golden.py`` recomputes them and compares.

    python scripts/golden_reports.py                      # rewrite tests/golden/<slug>.json from analyze()
    python scripts/golden_reports.py --only wsd_vs_cosine # one chapter
    python scripts/golden_reports.py --from-reports       # from the reports `make test` just rendered
    python scripts/golden_reports.py --check              # exit 1 and list the differences

A deliberate change of a verdict (a new rule, new runs) regenerates the file in the same commit, and the commit
message and the chapter page say what changed and why.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from scalelab.runner import chapter_records

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
CHAPTERS = ("mup_derivation", "mu_transfer_ablations", "wsd_vs_cosine", "deepseek_lr_batch", "chinchilla",
            "lr_schedule_law")


def report_summary(slug: str) -> dict:
    """Checks (name, passed, value) and verdicts (claim, verdict, evidence) recomputed from the cpu records."""
    mod = importlib.import_module(f"scalelab.experiments.{slug}")
    records = chapter_records(mod, "cpu", records_only=True)
    rep = mod.analyze(records, "cpu")
    d = rep.to_dict()
    return {
        "checks": [{k: c[k] for k in ("name", "passed", "value")} for c in d["checks"]],
        "verdicts": [{k: v.get(k) for k in ("claim", "verdict", "evidence")} for v in d["verdicts"]],
    }


def from_report(slug: str) -> dict:
    """The same summary from the report the records-only notebook saved (``_build/reports/cpu``)."""
    from scalelab.paths import report_path

    d = json.loads(report_path(slug, "cpu").read_text())
    return {"checks": [{k: c[k] for k in ("name", "passed", "value")} for c in d["checks"]],
            "verdicts": [{k: v.get(k) for k in ("claim", "verdict", "evidence")} for v in d["verdicts"]]}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    chapters = [argv[argv.index("--only") + 1]] if "--only" in argv else CHAPTERS
    bad = 0
    for slug in chapters:
        now = from_report(slug) if "--from-reports" in argv else report_summary(slug)
        path = GOLDEN / f"{slug}.json"
        if check:
            old = json.loads(path.read_text())
            if old != now:
                bad += 1
                print(f"{slug}: differs from {path}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(now, indent=1, ensure_ascii=False) + "\n")
            print(f"{slug}: {len(now['checks'])} checks, {len(now['verdicts'])} verdicts -> {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
