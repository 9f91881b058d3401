"""A content-addressed run store: one JSONL file of records per chapter experiment.

A record's ``key`` is the sha256 of (experiment, version, full config, corpus fingerprint), so a
result is reused only for exactly the same run on exactly the same data. ``config_key`` leaves
the corpus out; the book's records-only mode matches on it, so a reader whose Python ships a
different standard library still renders the committed results (the page shows which corpus
produced them).

Writes are safe with several writers and with SIGKILL at any moment:

* each record is appended with one ``write`` under an exclusive ``flock`` and fsynced;
* a writer that finds the file not ending in a newline (a previous writer was killed mid-line)
  terminates that partial line first, so the damage stays confined to one unparseable line;
* readers skip lines that do not parse and keep the first record of each key.

Checkpoints never go into the store (they live under ``_build/ckpt``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from scalelab.keys import canonical_config


def stable_hash(obj) -> str:
    """sha256 of a canonical JSON encoding (sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_key(experiment: str, version: int, config: dict) -> str:
    """Key of a run without its corpus (used for records-only lookups and branch parents).

    ``config`` is hashed through :func:`scalelab.keys.canonical_config`: a field added to the configs
    later enters the key only when set, and ``checkpoint_steps`` never does.
    """
    return stable_hash({"experiment": experiment, "version": version, "config": canonical_config(config)})


def run_key(experiment: str, version: int, config: dict, corpus: dict) -> str:
    """The full content address of a run (config canonicalised as in :func:`config_key`)."""
    return stable_hash({"experiment": experiment, "version": version, "config": canonical_config(config),
                        "corpus": corpus})


class RunStore:
    """Append-only JSONL records with atomic, locked appends.

    Args:
        path: the JSONL file (created on first write, with its folder).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(self.path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def records(self) -> list[dict]:
        """All valid records, first of each key, in file order."""
        if not self.path.exists():
            return []
        seen, out = set(), []
        with open(self.path, "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a line cut short by a killed writer
                if not isinstance(rec, dict) or "key" not in rec or rec["key"] in seen:
                    continue
                seen.add(rec["key"])
                out.append(rec)
        return out

    def keys(self) -> set[str]:
        return {r["key"] for r in self.records()}

    def get(self, key: str) -> dict | None:
        for r in self.records():
            if r["key"] == key:
                return r
        return None

    def by_config_key(self) -> dict[str, dict]:
        """config_key → record (first one), for records-only lookups."""
        out: dict[str, dict] = {}
        for r in self.records():
            out.setdefault(r["config_key"], r)
        return out

    def put(self, record: dict) -> bool:
        """Append ``record`` unless its key is present. Returns whether it was written."""
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        with self._locked():
            if record["key"] in self.keys():
                return False
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size:
                    with open(self.path, "rb") as f:
                        f.seek(size - 1)
                        if f.read(1) != b"\n":
                            os.write(fd, b"\n")  # seal a partial line left by a killed writer
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return True

    def compact(self) -> int:
        """Rewrite the file with valid, unique records only (atomic replace). Returns their count."""
        with self._locked():
            recs = self.records()
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "w") as f:
                for r in recs:
                    f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        return len(recs)


def make_record(experiment: str, version: int, config: dict, corpus: dict, result: dict, seconds: float) -> dict:
    """A record with provenance (git sha, device, versions, seconds)."""
    from scalelab.envinfo import environment

    env = environment()
    return {
        "key": run_key(experiment, version, config, corpus),
        "config_key": config_key(experiment, version, config),
        "experiment": experiment,
        "version": version,
        "config": config,
        "corpus": corpus,
        "result": result,
        "meta": {
            "git_sha": env.get("git_sha"),
            "device": result.get("device", env.get("device")),
            "torch": env.get("torch"),
            "python": env.get("python"),
            "platform": env.get("platform"),
            "seconds": seconds,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
