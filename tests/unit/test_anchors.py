"""Anchor loaders: pinned checksums, cache, local directory, clear offline errors. No network."""

import urllib.error
from pathlib import Path

import pytest

from scalelab import anchors

SHARED = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "data"


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No local directory, an empty cache, and a fetch that fails loudly if not replaced."""
    monkeypatch.delenv(anchors.ENV_DIR, raising=False)
    monkeypatch.setenv(anchors.ENV_CACHE, str(tmp_path / "cache"))

    def no_network(url, timeout=30.0):
        raise AssertionError(f"unexpected network access: {url}")

    monkeypatch.setattr(anchors, "_fetch", no_network)
    return tmp_path / "cache" / "anchors"  # SCALELAB_CACHE is the package cache root


def _local_bytes(name):
    p = SHARED / anchors.DATASETS[name].filename
    if not p.is_file():
        pytest.skip("anchor data not available locally")
    return p.read_bytes()


def test_download_is_verified_and_cached(isolated, monkeypatch):
    data = _local_bytes("epoch_chinchilla")
    calls = []

    def fake(url, timeout=30.0):
        calls.append(url)
        return data

    monkeypatch.setattr(anchors, "_fetch", fake)
    p = anchors.path("epoch_chinchilla")
    assert p == isolated / "epoch2024_chinchilla_svg_extracted_data.csv" and p.read_bytes() == data
    assert calls == ["https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/"
                     "92258837425e1b5f2851d624287f0120583a3d0e/data/svg_extracted_data.csv"]
    anchors.path("epoch_chinchilla")  # second call: served from the cache
    assert len(calls) == 1
    assert len(anchors.epoch_chinchilla()) == 240


def test_corrupt_download_refused_and_not_cached(isolated, monkeypatch):
    monkeypatch.setattr(anchors, "_fetch", lambda url, timeout=30.0: b"Model Size,loss\n1,2\n")
    with pytest.raises(anchors.AnchorError, match="sha256"):
        anchors.path("cs336_isoflops")
    assert not (isolated / "cs336_a3_isoflops_curves.json").exists()
    assert not isolated.exists() or not any(isolated.iterdir())


def test_corrupt_cache_entry_is_replaced(isolated, monkeypatch):
    data = _local_bytes("llama3_isoflops")
    isolated.mkdir(parents=True)
    (isolated / "llama3_isoflops_points_extracted.csv").write_bytes(b"garbage")
    monkeypatch.setattr(anchors, "_fetch", lambda url, timeout=30.0: data)
    assert anchors.path("llama3_isoflops").read_bytes() == data


def test_offline_error_says_how_to_get_the_file(isolated, monkeypatch):
    def offline(url, timeout=30.0):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(anchors, "_fetch", offline)
    with pytest.raises(anchors.AnchorError, match="SCALELAB_ANCHORS_DIR") as exc:
        anchors.path("epoch_chinchilla")
    assert "raw.githubusercontent.com" in str(exc.value)


def test_derived_file_needs_local_dir(isolated):
    with pytest.raises(anchors.AnchorError, match="derived") as exc:
        anchors.porian_isoflop_curves()
    assert "SCALELAB_ANCHORS_DIR" in str(exc.value)


def test_local_dir_is_used_and_checked(isolated, monkeypatch, tmp_path):
    if not SHARED.is_dir():
        pytest.skip("anchor data not available locally")
    monkeypatch.setenv(anchors.ENV_DIR, str(SHARED))
    assert len(anchors.porian_isoflop_curves()) == 1745
    assert len(anchors.porian_isoflop_optima()) == 177
    assert len(anchors.porian_fit_exponents()) == 15
    assert len(anchors.chinchilla_table_a9()) == 50
    assert len(anchors.cs336_isoflops()) == 72
    assert len(anchors.llama3_isoflops()) == 133
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "chinchilla_table_a9_models.csv").write_text("params\n1\n")
    monkeypatch.setenv(anchors.ENV_DIR, str(bad))
    with pytest.raises(anchors.AnchorError, match="refusing"):
        anchors.chinchilla_table_a9()


def test_unknown_name():
    with pytest.raises(KeyError, match="known"):
        anchors.path("nope")
