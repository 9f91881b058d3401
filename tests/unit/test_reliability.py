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


# ---- 2. refresh: the new record is current, the old line stays ----------------------------------------------
def test_store_marks_the_current_record_and_keeps_the_old_line(tmp_path):
    from scalelab.store import RunStore

    s = RunStore(tmp_path / "s.jsonl")
    assert s.put({"key": "k", "config_key": "c", "x": 1})
    assert not s.put({"key": "k", "config_key": "c", "x": 2})  # a plain put never doubles a key
    assert s.put({"key": "k", "config_key": "c", "x": 3}, replace=True)
    assert [r["x"] for r in s.records()] == [3] and s.get("k")["x"] == 3 and s.by_config_key()["c"]["x"] == 3
    assert [r["x"] for r in s.records(history=True)] == [1, 3]
    assert s.compact() == 1 and [r["x"] for r in s.records(history=True)] == [1, 3]  # compact drops no history


def _tiny_specs():
    from scalelab.model import ModelConfig
    from scalelab.sweep import RunSpec
    from scalelab.train import TrainConfig

    base = TrainConfig(model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
                       total_steps=4, batch_size=2, eval_tokens=256)
    return [RunSpec("grid", base.replace(lr=lr)) for lr in (1e-3, 3e-3)]


def test_refresh_returns_and_keeps_the_new_records(tmp_path):
    from scalelab.store import RunStore
    from scalelab.sweep import sweep

    specs = _tiny_specs()
    store = RunStore(tmp_path / "s.jsonl")
    sweep(specs, store, device="cpu", progress=False, batched=False)
    planted = [{**r, "result": {**r["result"], "final_eval_loss": 123.0}} for r in store.records()]
    store.path.write_text("".join(json.dumps(r) + "\n" for r in planted))
    recs = sweep(specs, store, device="cpu", progress=False, batched=False, refresh=True)
    assert len(recs) == 2 and all(r["result"]["final_eval_loss"] != 123.0 for r in recs)
    assert all(r["result"]["final_eval_loss"] != 123.0 for r in store.records())
    assert sum(r["result"]["final_eval_loss"] == 123.0 for r in store.records(history=True)) == 2


# ---- 4. concurrent trainers: unique temporary checkpoint names; leases -------------------------------------
def test_checkpoint_temporary_files_have_unique_names(tmp_path, monkeypatch):
    import torch

    from scalelab import train as T

    saved = []
    real_save = torch.save

    def spy(obj, f, *a, **k):
        saved.append(str(f))
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(T.torch, "save", spy)
    cfg = _tiny_specs()[0].config.replace(checkpoint_steps=(2,))
    for _ in range(2):  # two trainers of one config write the same checkpoint
        T.train(cfg, device="cpu", ckpt_dir=tmp_path)
    assert len(saved) == 2 and saved[0] != saved[1], saved
    assert (tmp_path / "step2.pt").exists() and not list(tmp_path.glob("*.tmp"))
