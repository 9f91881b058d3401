"""One-off migration: re-key the committed records after ``checkpoint_steps`` left the run key.

Before this change a run's key hashed its whole config, ``checkpoint_steps`` included, so a trunk run
(chapter 3's constant-LR runs, chapter 5's stable runs) changed key whenever a cooldown branch point was
added. :func:`scalelab.keys.canonical_config` now hashes ``checkpoint_steps`` at its neutral value ``[]``.
Records whose ``checkpoint_steps`` was empty keep their keys. For the others this script

1. recomputes ``config_key`` and ``key`` of every trunk record (``checkpoint_steps`` non-empty);
2. rewrites ``config.init_from`` of every branch record from its parent's old config key to the new one
   (``init_from`` *is* the parent's config key), and recomputes the branch's ``config_key`` and ``key``.

Every other byte of each line is unchanged: lines are re-encoded exactly as the store writes them (sorted
keys, no whitespace), which is how they were written. Run once, from the repository root::

    python scripts/migrate_keys_v2.py results/cpu/*.jsonl

It prints what it changed and refuses a file whose lines would not round-trip byte for byte.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scalelab.store import config_key, run_key


def encode(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True, separators=(",", ":"))


def migrate(path: Path) -> tuple[int, int]:
    lines = path.read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    for line, rec in zip(lines, recs):
        if encode(rec) != line:
            raise SystemExit(f"{path}: a line does not round-trip byte for byte; refusing to rewrite")
    renamed: dict[str, str] = {}
    for rec in recs:  # trunks first: their new config keys name the branches' parents
        if rec["config"].get("init_from") is None:
            new = config_key(rec["experiment"], rec["version"], rec["config"])
            if new != rec["config_key"]:
                renamed[rec["config_key"]] = new
    changed = 0
    for rec in recs:
        parent = rec["config"].get("init_from")
        if parent is not None and parent in renamed:
            rec["config"]["init_from"] = renamed[parent]
        ck = config_key(rec["experiment"], rec["version"], rec["config"])
        k = run_key(rec["experiment"], rec["version"], rec["config"], rec["corpus"])
        if (ck, k) != (rec["config_key"], rec["key"]):
            rec["config_key"], rec["key"] = ck, k
            changed += 1
    if changed:
        path.write_text("".join(encode(r) + "\n" for r in recs))
    return changed, len(renamed)


def main(argv: list[str]) -> int:
    for name in argv:
        changed, trunks = migrate(Path(name))
        print(f"{name}: {changed} records re-keyed ({trunks} trunks, {changed - trunks} of their branches)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
