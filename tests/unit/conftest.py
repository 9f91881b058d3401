"""Fixtures shared by the unit tests: the published anchor data, read from outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "data"


def anchors_dir() -> str | None:
    """``SCALELAB_ANCHORS_DIR`` if set, else ``../shared/anchors/data`` beside the checkout, else None."""
    return os.environ.get("SCALELAB_ANCHORS_DIR") or (str(SHARED) if SHARED.is_dir() else None)


@pytest.fixture
def anchors_env(monkeypatch):
    """Point SCALELAB_ANCHORS_DIR at the local anchor copy (CI sets it; fall back to ../shared)."""
    d = anchors_dir()
    if d is None:
        pytest.skip("anchor data not available: set SCALELAB_ANCHORS_DIR")
    monkeypatch.setenv("SCALELAB_ANCHORS_DIR", d)


@pytest.fixture(scope="module")
def epoch_ndl():
    """Epoch's 240 Chinchilla points as (N, D, L) arrays."""
    d = anchors_dir()
    if d is None:
        pytest.skip("anchor data not available: set SCALELAB_ANCHORS_DIR")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCALELAB_ANCHORS_DIR", d)
    from scalelab import anchors

    out = anchors.epoch_chinchilla_ndl()
    mp.undo()
    return out
