"""The gpu corpus, offline: a tiny parquet dataset written here stands in for the pinned FineWeb-Edu file, read
through an offline mirror with the network blocked; its tokens, split and fingerprint are checked against an
independent computation."""

import hashlib
import socket

import numpy as np
import pytest

from scalelab import corpora, data
from scalelab.corpora import FINEWEB_EDU, HFSource
from scalelab.model import ModelConfig
from scalelab.train import TrainConfig
from scalelab.train import train as train_run

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DOCS = [f"Document {i}: the café's {i % 7} rivers run {'east' if i % 3 else 'west'}.\nA second line, ü." * (1 + i % 4)
        for i in range(160)]


def write_mirror(root, docs=DOCS, revision=FINEWEB_EDU.revision):
    repo = root / FINEWEB_EDU.repo
    path = repo / FINEWEB_EDU.files[0]
    path.parent.mkdir(parents=True)
    # extra columns, as in FineWeb-Edu's files; small row groups so that the reader crosses batch boundaries
    pq.write_table(pa.table({"text": docs, "id": [f"<urn:{i}>" for i in range(len(docs))]}), path, row_group_size=50)
    if revision is not None:
        (repo / "REVISION").write_text(revision + "\n")
    return root


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """The scalelab cache in tmp, Hugging Face offline, and any network connection an error."""
    monkeypatch.setenv("SCALELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    data.load_corpus.cache_clear()
    yield tmp_path
    data.load_corpus.cache_clear()


def expected_streams(docs):
    train = b"".join(d.encode() + b"\n\n" for i, d in enumerate(docs) if i % 50)
    val = b"".join(d.encode() + b"\n\n" for i, d in enumerate(docs) if i % 50 == 0)
    return train, val


def test_pinned_corpus_from_an_offline_mirror(offline, monkeypatch):
    monkeypatch.setenv(corpora.MIRROR_ENV, str(write_mirror(offline / "mirror")))
    c = data.load_corpus("fineweb_edu")
    train, val = expected_streams(DOCS)
    assert bytes(c.train) == train and bytes(c.val) == val  # 4 of 160 documents held out (index ≡ 0 mod 50)
    fp = c.fingerprint
    assert fp["sha256"] == hashlib.sha256(train + b"\x00heldout\x00" + val).hexdigest()
    assert fp["revision"] == FINEWEB_EDU.revision and fp["dataset"] == "HuggingFaceFW/fineweb-edu"
    assert (fp["documents"], fp["bytes"], fp["val_bytes"]) == (160, len(train) + len(val), len(val))
    # A second process finds the tokens in the cache: the mirror is no longer needed.
    data.load_corpus.cache_clear()
    monkeypatch.setenv(corpora.MIRROR_ENV, str(offline / "gone"))
    again = data.load_corpus("fineweb_edu")
    assert again.fingerprint == fp and np.array_equal(again.train, c.train)
    # and the trainer reads it by name
    cfg = TrainConfig(model=ModelConfig(d_model=16, n_layer=1, d_head=8, seq_len=16, base_d_model=16),
                      total_steps=2, batch_size=2, eval_tokens=64, corpus="fineweb_edu")
    assert train_run(cfg, device="cpu")["status"] == "finished"


def test_one_changed_character_changes_the_fingerprint(offline, monkeypatch):
    monkeypatch.setenv(corpora.MIRROR_ENV, str(write_mirror(offline / "a")))
    first = corpora.load_hf_corpus(FINEWEB_EDU).fingerprint
    changed = list(DOCS)
    changed[77] = changed[77].replace("rivers", "Rivers")
    monkeypatch.setenv(corpora.MIRROR_ENV, str(write_mirror(offline / "b", changed)))
    monkeypatch.setenv("SCALELAB_CACHE", str(offline / "cache-b"))
    second = corpora.load_hf_corpus(FINEWEB_EDU).fingerprint
    assert second["sha256"] != first["sha256"] and second["bytes"] == first["bytes"]


def test_a_mirror_of_another_revision_is_refused(offline, monkeypatch):
    monkeypatch.setenv(corpora.MIRROR_ENV, str(write_mirror(offline / "m", revision="0" * 40)))
    with pytest.raises(ValueError, match=f"pinned to {FINEWEB_EDU.revision}"):
        data.load_corpus("fineweb_edu")
    monkeypatch.setenv(corpora.MIRROR_ENV, str(write_mirror(offline / "n", revision=None)))
    with pytest.raises(FileNotFoundError, match="python -m scalelab.corpora mirror"):
        data.load_corpus("fineweb_edu")


def test_sources_are_pinned_to_a_commit_and_names_are_checked():
    with pytest.raises(ValueError, match="40-hex commit"):
        HFSource(name="x", repo="o/x", revision="main", files=("a.parquet",), parquet_bytes=1, licence="?")
    with pytest.raises(ValueError, match="fineweb_edu"):
        TrainConfig(corpus="fineweb")
    # the epoch bound uses the measured size when there is one, else the lower bound on the text
    assert corpora.max_epochs(1000, text_bytes=500) == 2.0
    assert corpora.max_epochs(10**9) == pytest.approx(1e9 / (FINEWEB_EDU.parquet_bytes * 0.85))
