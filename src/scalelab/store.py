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
* readers skip lines that do not parse; each key's current record is its highest ``revision`` (a
  refresh appends a new revision and keeps the old line), the first line among equals.

Two identities are used, each in one place: a run is *trained* and counted as done by (config, corpus
fingerprint) (``by_config_key(corpus=...)``, the run key), and committed records are *rendered* by
config alone (``by_config_key()``), so a page can be rebuilt on another interpreter; it shows the
fingerprint the records were made on. Several sweeps may share a store: a run one of them is training
is leased to it (host, pid, heartbeat) and the others skip it.

Checkpoints never go into the store (they live under ``_build/ckpt``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from scalelab.envinfo import environment
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


LEASE_TTL_S = 120.0  # a claim lapses this long after its last heartbeat (a holder renews every TTL/4)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunStore:
    """Append-only JSONL records with atomic, locked appends, a current record per key, and run leases.

    A key normally has one record: :meth:`put` writes nothing when the key is present. A refresh
    (``put(record, replace=True)``) appends a new line with ``revision`` one above the key's highest;
    the record with the highest revision is the key's *current* record, the one every reader gets.
    Older lines stay in the file (:meth:`records` with ``history=True``), and :meth:`compact` keeps them.

    Leases (``<store>.leases``, read and written under the store's lock) say which runs a live process is
    training: host, pid and a heartbeat time. A lease lapses when its heartbeat is older than its
    ``ttl_s``, or at once when its holder is a process of this host that no longer exists.

    Args:
        path: the JSONL file (created on first write, with its folder).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def lease_path(self) -> Path:
        return Path(str(self.path) + ".leases")

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(self.path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _lines(self) -> list[dict]:
        """Every valid record line, in file order."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, "rb") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a line cut short by a killed writer
                if isinstance(rec, dict) and "key" in rec:
                    out.append(rec)
        return out

    def records(self, *, history: bool = False) -> list[dict]:
        """The current record of each key (the highest ``revision``; the first line among equals), in file
        order; with ``history``, every valid line, superseded ones included."""
        lines = self._lines()
        if history:
            return lines
        best: dict[str, int] = {}
        for i, rec in enumerate(lines):
            j = best.get(rec["key"])
            if j is None or int(rec.get("revision", 0)) > int(lines[j].get("revision", 0)):
                best[rec["key"]] = i
        return [lines[i] for i in sorted(best.values())]

    def keys(self) -> set[str]:
        return {r["key"] for r in self._lines()}

    def get(self, key: str) -> dict | None:
        for r in self.records():
            if r["key"] == key:
                return r
        return None

    def by_config_key(self, corpus: dict | None = None) -> dict[str, dict]:
        """config_key → current record (the first such record when several corpora share a config).

        Without ``corpus`` this is the rendering identity (records-only lookups: a record is read by its
        config, whatever corpus made it). With ``corpus`` it is the training identity: only records made
        on exactly that corpus fingerprint count.
        """
        out: dict[str, dict] = {}
        for r in self.records():
            if corpus is None or r.get("corpus") == corpus:
                out.setdefault(r["config_key"], r)
        return out

    def corpora(self) -> list[tuple[dict, int]]:
        """The corpus fingerprints the current records were made on, with their record counts."""
        out: dict[str, list] = {}
        for r in self.records():
            fp = r.get("corpus") or {}
            out.setdefault(json.dumps(fp, sort_keys=True), [fp, 0])[1] += 1
        return [(fp, n) for fp, n in out.values()]

    def put(self, record: dict, *, replace: bool = False) -> bool:
        """Append ``record`` unless its key is present. Returns whether it was written.

        With ``replace`` the record is appended even when its key is present, as the key's new current
        record (``revision`` one above the highest); the old line is kept.
        """
        with self._locked():
            same = [r for r in self._lines() if r["key"] == record["key"]]
            if same and not replace:
                return False
            if same:
                record = {**record, "revision": max(int(r.get("revision", 0)) for r in same) + 1}
            line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
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
        """Rewrite the file with its valid lines only (atomic replace): torn lines go, superseded records stay.

        Returns:
            The number of current records.
        """
        with self._locked():
            self._rewrite(self._lines())
        return len(self.records())

    def _rewrite(self, lines: list[dict]) -> None:
        """Replace the file with ``lines`` atomically (a unique temporary file, fsynced, renamed); the caller
        holds the lock."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        with open(tmp, "w") as f:
            for r in lines:
                f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def set_aside(self, keep, target) -> int:
        """Move the lines whose record fails ``keep`` to the store ``target(corpus)`` names for its corpus
        (appended, history included), keeping the others here. Returns how many lines moved."""
        with self._locked():
            lines = self._lines()
            stay = [r for r in lines if keep(r)]
            moved = [r for r in lines if not keep(r)]
            for r in moved:
                dest = Path(target(r.get("corpus") or {}))
                with open(dest, "a") as f:  # a side store nobody trains into while this lock is held
                    f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
            if moved:
                self._rewrite(stay)
        return len(moved)

    # ---- leases: which runs a live process is training -------------------------------------------------
    def _read_leases(self) -> dict[str, dict]:
        try:
            data = json.loads(self.lease_path.read_text())
        except (OSError, ValueError):
            return {}  # none yet, or a file cut short: leases are advisory, a lost one costs a duplicate run
        return data if isinstance(data, dict) else {}

    def _write_leases(self, leases: dict[str, dict]) -> None:
        tmp = self.lease_path.with_name(f".{self.lease_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(leases, sort_keys=True))
        os.replace(tmp, self.lease_path)

    @staticmethod
    def _live(lease: dict, now: float) -> bool:
        if now - float(lease.get("heartbeat", 0.0)) > float(lease.get("ttl_s", LEASE_TTL_S)):
            return False
        return lease.get("host") != socket.gethostname() or _pid_alive(int(lease.get("pid", -1)))

    @staticmethod
    def _mine(lease: dict) -> bool:
        return lease.get("host") == socket.gethostname() and lease.get("pid") == os.getpid()

    def leases(self) -> dict[str, dict]:
        """Live leases: run key → {host, pid, heartbeat, ttl_s}."""
        now = time.time()
        return {k: v for k, v in self._read_leases().items() if self._live(v, now)}

    def claim(self, key: str, *, ttl_s: float = LEASE_TTL_S, unless_recorded: bool = True) -> bool:
        """Lease run ``key`` to this process unless another live process holds it or (``unless_recorded``)
        the key has a record: checked under the lock, so two sweeps never both start a run.

        Returns:
            True when this process now holds the lease (a lease it already held is renewed).
        """
        with self._locked():
            if unless_recorded and key in self.keys():
                return False
            now = time.time()
            leases = {k: v for k, v in self._read_leases().items() if self._live(v, now)}
            if key in leases and not self._mine(leases[key]):
                return False
            leases[key] = {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": now, "ttl_s": ttl_s}
            self._write_leases(leases)
        return True

    def heartbeat(self, keys) -> None:
        """Renew this process's leases on ``keys``."""
        keys = set(keys)
        if not keys:
            return
        with self._locked():
            leases, now = self._read_leases(), time.time()
            for k in keys:
                if k in leases and self._mine(leases[k]):
                    leases[k]["heartbeat"] = now
            self._write_leases(leases)

    def release(self, keys) -> None:
        """Drop this process's leases on ``keys`` (and every lapsed lease)."""
        keys = set(keys)
        with self._locked():
            now = time.time()
            leases = {k: v for k, v in self._read_leases().items()
                      if self._live(v, now) and not (k in keys and self._mine(v))}
            if leases or self.lease_path.exists():
                self._write_leases(leases)


def make_record(experiment: str, version: int, config: dict, corpus: dict, result: dict, seconds: float) -> dict:
    """A record with provenance (git sha, device, versions, seconds)."""

    env = environment()
    result = result.to_dict() if hasattr(result, "to_dict") else dict(result)  # a trainer's RunResult
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
