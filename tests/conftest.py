"""Shared test configuration: offline, deterministic, headless."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Figures are drawn without a display in every test process.
os.environ.setdefault("MPLBACKEND", "Agg")
# The published data live outside the repository; the Makefile points here, and so do we when run bare.
os.environ.setdefault("SCALELAB_ANCHORS_DIR", str((ROOT.parent / "shared" / "anchors" / "data").resolve()))


@pytest.fixture
def repo_root() -> Path:
    """The checkout under test."""
    return ROOT


@pytest.fixture
def tmp_root(tmp_path, monkeypatch) -> Path:
    """An empty repository root (``SCALELAB_ROOT``) for tests that write records, reports or builds."""
    monkeypatch.setenv("SCALELAB_ROOT", str(tmp_path))
    return tmp_path
