"""The offline corpora: fingerprints, a fixed held-out split, per-step batches."""

import pytest
import torch

from scalelab.data import batch_offsets, eval_offsets, get_batch, load_corpus


def test_folder_corpus_fingerprint_and_split(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAB_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "texts"
    root.mkdir()
    for i in range(120):
        (root / f"doc{i:03d}.txt").write_text(f"document {i}\n" * 50)
    c = load_corpus(f"dir:{root}")
    fp = c.fingerprint
    assert fp["files"] == 120 and fp["bytes"] == len(c.train) + len(c.val) and fp["val_bytes"] == len(c.val)
    assert 0 < len(c.val) < len(c.train)  # ~2% of files held out by a hash of their path
    load_corpus.cache_clear()
    assert load_corpus(f"dir:{root}").fingerprint == fp  # the second load hits the listing cache
    (root / "doc000.txt").write_text("changed\n")
    load_corpus.cache_clear()
    assert load_corpus(f"dir:{root}").fingerprint["sha256"] != fp["sha256"]  # new data, new fingerprint


def test_stdlib_corpus_is_real_text():
    c = load_corpus("stdlib")
    assert c.fingerprint["files"] > 100 and c.vocab_size == 256
    assert b"def " in bytes(c.train[:200_000])


def test_batches_are_a_function_of_seed_and_step():
    tokens = torch.arange(1000, dtype=torch.uint8)
    a = batch_offsets(len(tokens), 16, 4, seed=0, step=5)
    assert torch.equal(a, batch_offsets(len(tokens), 16, 4, seed=0, step=5))
    assert not torch.equal(a, batch_offsets(len(tokens), 16, 4, seed=0, step=6))
    x, y = get_batch(tokens, a, 16)
    assert x.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])  # targets are the next byte
    assert len(eval_offsets(10_000, 16, 160)) == 10


@pytest.mark.parametrize("name", ["wikipedia", "dir"])
def test_unknown_corpus_names_the_valid_kinds(name):
    with pytest.raises(ValueError, match="stdlib, python_all"):
        load_corpus(name)
