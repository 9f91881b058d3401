"""No silent wrong result: every failure mode here once returned a plausible answer, or wasted hours unnoticed."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest

from scalelab.data import load_corpus


# ---- 1. the corpus cache is verified, not trusted by size -------------------------------------------------
@pytest.fixture
def folder_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAB_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "texts"
    root.mkdir()
    for i in range(120):
        (root / f"doc{i:03d}.txt").write_text(f"document {i}: " + "lorem ipsum " * 40 + "\n")
    load_corpus.cache_clear()
    yield f"dir:{root}", root, tmp_path / "cache" / "corpus"
    load_corpus.cache_clear()


def _reload(name):
    load_corpus.cache_clear()
    return load_corpus(name)


def test_corpus_cache_with_same_size_garbage_is_rebuilt(folder_corpus, caplog):
    name, _, cache = folder_corpus
    first = load_corpus(name)
    train, fp = bytes(first.train), dict(first.fingerprint)
    del first
    (u8,) = cache.glob("*.train.u8")
    u8.write_bytes(b"\0" * u8.stat().st_size)  # same size, wrong content
    with caplog.at_level(logging.WARNING, logger="scalelab.data"):
        again = _reload(name)
    assert bytes(again.train) == train and again.fingerprint == fp
    assert sum("rebuilding" in r.getMessage() for r in caplog.records) == 1


def test_corpus_cache_with_truncated_index_is_rebuilt(folder_corpus, caplog):
    name, _, cache = folder_corpus
    fp = dict(load_corpus(name).fingerprint)
    (index,) = cache.glob("*.json")
    index.write_text(index.read_text()[:10])
    with caplog.at_level(logging.WARNING, logger="scalelab.data"):
        assert _reload(name).fingerprint == fp
    assert sum("rebuilding" in r.getMessage() for r in caplog.records) == 1
    assert json.loads(index.read_text()) == fp  # the index is whole again


def test_corpus_edit_with_same_size_and_mtime_changes_the_fingerprint(folder_corpus):
    name, root, _ = folder_corpus
    fp = dict(load_corpus(name).fingerprint)
    doc = root / "doc007.txt"
    st = doc.stat()
    time.sleep(0.05)  # file timestamps are coarse (a kernel tick): let the edit land in a later one
    text = doc.read_text()
    doc.write_text(text.replace("lorem", "LOREM", 1))
    os.utime(doc, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert doc.stat().st_size == st.st_size and doc.stat().st_mtime_ns == st.st_mtime_ns
    new = _reload(name).fingerprint
    assert new["sha256"] != fp["sha256"] and new["bytes"] == fp["bytes"]
