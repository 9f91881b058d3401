"""Training corpora, offline by default, as byte-level tokens (vocab 256).

The default corpus is the Python standard library's own source code of the running interpreter:
real human-written text (code, docstrings, comments) that is on every machine that can run the
book, so no run ever depends on a download. Files are read in sorted relative-path order;
excluded are ``site-packages`` (third-party code, machine-dependent), ``__pycache__`` and the test
suites (``test``, ``tests``, ``idle_test`` directories: large, repetitive fixtures). A file goes to
the held-out split when the sha256 of its relative path is ≡ 0 mod 50 (about 2% of files), so the
split is fixed, spread over the whole library, and no run trains on it.

A corpus carries a fingerprint (name, bytes, files, sha256 of the token stream). It is part of
every run's key (:mod:`scalelab.store`), so a record is never reused on a different corpus, and
the book shows it. The standard library differs between Python versions; so do the fingerprints.

Other sources:

* ``"python_all"``: every ``.py`` file under the interpreter's prefix, site-packages included
  (larger, but it differs on every machine);
* ``"fineweb_edu"``: the gpu scale's corpus, a slice of FineWeb-Edu pinned by dataset revision
  (:mod:`scalelab.corpora`: the same bytes everywhere; offline through a local mirror);
* ``"dir:/path/to/folder"``: every ``*.txt``/``*.md``/``*.py`` file of a local folder;
* ``"hf:<dataset>[:<config>]"``: a Hugging Face dataset's ``text`` column (needs the ``data``
  extra and a network; cached after the first download).

Tokens are cached as a memory-mapped ``uint8`` file under ``~/.cache/scalelab/corpus`` (or
``$SCALELAB_CACHE/corpus``), keyed by the fingerprint. The cache is checked, not trusted: a file
corpus is looked up by each file's path, size, mtime, ctime and inode (an edit that keeps size and
mtime still moves the ctime), and the cached tokens must hash to the fingerprint's sha256. Any
mismatch, or an unreadable index, rebuilds the cache from the sources, with one warning.

Used by every chapter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from scalelab.corpora import SOURCES, load_named
from scalelab.corpus_core import HELDOUT_MODULUS, Corpus, cache_dir  # noqa: F401  (re-exported)

EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"})
CORPUS_KINDS = ("stdlib", "python_all", "fineweb_edu", "dir:<path>", "hf:<dataset>[:<config>]")

log = logging.getLogger(__name__)


def _is_heldout(rel: str) -> bool:
    return int(hashlib.sha256(rel.encode()).hexdigest(), 16) % HELDOUT_MODULUS == 0


def _python_files(root: Path, exclude_site: bool) -> list[tuple[str, Path]]:
    out = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        parts = set(rel.parts[:-1])
        skip = {"__pycache__", "test", "tests", "idle_test"}
        if exclude_site:
            skip = set(EXCLUDED_DIRS)
        if parts & skip or not path.is_file():
            continue
        out.append((rel.as_posix(), path))
    out.sort()
    return out


def _text_files(root: Path) -> list[tuple[str, Path]]:
    out = [
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*")
        if p.is_file() and p.suffix in {".txt", ".md", ".py"}
    ]
    out.sort()
    return out


def _split_files(files: list[tuple[str, Path]]) -> tuple[bytes, bytes]:
    train, val = [], []
    for rel, path in files:
        data = path.read_bytes()
        (val if _is_heldout(rel) else train).append(data)
    return b"".join(train), b"".join(val)


def _hf_bytes(spec: str) -> tuple[bytes, bytes, int]:
    try:
        import datasets  # noqa: F401
    except ImportError as err:  # pragma: no cover - optional dependency
        raise ImportError("hf: corpora need the 'data' extra: pip install -e '.[data]'") from err
    from datasets import load_dataset

    name, _, config = spec.partition(":")
    ds = load_dataset(name, config or None, split="train")
    texts = [t.encode("utf-8") for t in ds["text"]]
    val = [t for i, t in enumerate(texts) if i % HELDOUT_MODULUS == 0]
    train = [t for i, t in enumerate(texts) if i % HELDOUT_MODULUS != 0]
    return b"\n".join(train), b"\n".join(val), len(texts)


def _files(name: str) -> list[tuple[str, Path]] | None:
    """The corpus's files in order, or None for sources that are not files (hf:)."""
    if name == "stdlib":
        return _python_files(Path(sysconfig.get_paths()["stdlib"]), exclude_site=True)
    if name == "python_all":
        files = _python_files(Path(sys.prefix), exclude_site=False)
        if sys.base_prefix != sys.prefix:
            files += _python_files(Path(sys.base_prefix), exclude_site=False)
        return files
    if name.startswith("dir:"):
        root = Path(name[4:]).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"corpus folder {root} does not exist")
        return _text_files(root)
    return None


def _raw(name: str, files: list[tuple[str, Path]] | None) -> tuple[bytes, bytes, int]:
    if files is None:
        return _hf_bytes(name[3:])
    if not files:
        raise ValueError(f"corpus {name!r} has no files")
    train, val = _split_files(files)
    return train, val, len(files)


def _listing_key(name: str, files: list[tuple[str, Path]]) -> str:
    """Cheap identity of a file corpus: avoids re-reading unchanged files.

    Size and mtime alone miss an edit whose mtime was put back (``touch -r``, ``os.utime``, a copy that
    keeps times); the ctime cannot be set from user space and moves on every write, and the inode moves
    when a file is replaced.
    """
    h = hashlib.sha256(f"{name}|{HELDOUT_MODULUS}|v2".encode())
    for rel, path in files:
        st = path.stat()
        h.update(f"{rel}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}\n".encode())
    return h.hexdigest()


def _stream_sha256(train: np.ndarray, val: np.ndarray) -> str:
    """The fingerprint's sha256 of a token stream (train, a separator, then the held-out split)."""
    h = hashlib.sha256()
    h.update(memoryview(np.ascontiguousarray(train)))
    h.update(b"\x00heldout\x00")
    h.update(memoryview(np.ascontiguousarray(val)))
    return h.hexdigest()


def _open_cached(name: str, index: Path) -> Corpus | None:
    """The cached corpus behind ``index`` if it is intact, else None (after one warning saying why)."""
    try:
        fingerprint = json.loads(index.read_text())
        sha = fingerprint["sha256"]
        paths = [cache_dir() / "corpus" / f"{sha[:16]}.{split}.u8" for split in ("train", "val")]
        if not (paths[0].exists() and paths[1].exists()):
            problem = "token files missing"
        elif paths[0].stat().st_size + paths[1].stat().st_size != fingerprint["bytes"]:
            problem = "token files of the wrong size"
        else:
            train, val = (np.memmap(p, dtype=np.uint8, mode="r") for p in paths)
            if _stream_sha256(train, val) == sha:
                return Corpus(name=name, train=train, val=val, fingerprint=fingerprint)
            problem = "token files do not hash to the fingerprint's sha256"
    except (OSError, ValueError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
        problem = f"unreadable index ({type(err).__name__}: {err})"
    log.warning("corpus cache for %r at %s is damaged (%s); rebuilding it from the sources", name, index.parent,
                problem)
    return None


def validate_corpus_name(name: str) -> str:
    """Check a corpus name before any data is read.

    Raises:
        ValueError: naming the valid corpus kinds.
    """

    if name in ("stdlib", "python_all", *SOURCES) or name.startswith(("dir:", "hf:")):
        return name
    raise ValueError(f"unknown corpus {name!r}; valid: {', '.join(CORPUS_KINDS)}")


@lru_cache(maxsize=4)
def load_corpus(name: str = "stdlib") -> Corpus:
    """Load (and cache) a corpus as byte tokens.

    The first load reads and hashes every file; later loads of unchanged files only stat them,
    memory-map the cached tokens and check that they hash to the fingerprint (a damaged cache is
    rebuilt, with a warning).

    Raises:
        ValueError: on an unknown corpus name (the message lists the valid kinds).
    """
    validate_corpus_name(name)

    if name in SOURCES:
        return load_named(name)  # pinned by dataset revision, cached by scalelab.corpora
    files = _files(name)
    index = None
    if files is not None:
        index = cache_dir() / "corpus" / f"{_listing_key(name, files)[:24]}.json"
        if index.exists():
            cached = _open_cached(name, index)
            if cached is not None:
                return cached
    train_b, val_b, n_files = _raw(name, files)
    h = hashlib.sha256()
    h.update(train_b)
    h.update(b"\x00heldout\x00")
    h.update(val_b)
    sha = h.hexdigest()
    fingerprint = {
        "name": name,
        "bytes": len(train_b) + len(val_b),
        "val_bytes": len(val_b),
        "files": n_files,
        "sha256": sha,
    }
    train = _memmap(sha, "train", train_b)
    val = _memmap(sha, "val", val_b)
    if index is not None:
        tmp = index.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(fingerprint))
        os.replace(tmp, index)
    return Corpus(name=name, train=train, val=val, fingerprint=fingerprint)


def _memmap(sha: str, split: str, data: bytes) -> np.ndarray:
    path = cache_dir() / "corpus" / f"{sha[:16]}.{split}.u8"
    if not path.exists() or path.stat().st_size != len(data) or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return np.memmap(path, dtype=np.uint8, mode="r")


def as_tensor(tokens: np.ndarray) -> torch.Tensor:
    """A uint8 token array as a CPU tensor (copied once into memory)."""
    return torch.from_numpy(np.array(tokens, dtype=np.uint8))


def batch_offsets(n_tokens: int, seq_len: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Random window starts for one step, a pure function of (seed, step).

    Seeding per step makes the data order independent of where a run was resumed, so a cooldown
    branched from a checkpoint sees exactly the batches the uninterrupted run would have seen.
    """
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63 - 1))
    return torch.randint(0, n_tokens - seq_len - 1, (batch_size,), generator=g)


def get_batch(tokens: torch.Tensor, offsets: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-byte targets, each (B, seq_len) int64."""
    idx = offsets[:, None] + torch.arange(seq_len + 1)  # (B, T+1)
    window = tokens[idx].long()
    return window[:, :-1], window[:, 1:]


def eval_offsets(n_tokens: int, seq_len: int, eval_tokens: int) -> torch.Tensor:
    """Fixed, evenly spaced held-out windows covering ``eval_tokens`` tokens; the same for every run."""
    n = max(1, eval_tokens // seq_len)
    last = n_tokens - seq_len - 1
    if last <= 0:
        raise ValueError(f"held-out split too short ({n_tokens} tokens) for seq_len {seq_len}")
    return torch.linspace(0, last, n).long()
