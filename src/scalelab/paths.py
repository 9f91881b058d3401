"""Where things live: the repository root, build outputs, run records and chapter reports.

The root is ``SCALELAB_ROOT`` when set, else the checkout this package was installed from
(editable install), else the current directory. Used by the run store, the sweep CLI, every
chapter module and the book runner (:mod:`scalelab.book`).
"""

from __future__ import annotations

import os
from pathlib import Path

from scalelab.scales import validate_scale


def repo_root() -> Path:
    """The repository root (``SCALELAB_ROOT`` overrides it)."""
    env = os.environ.get("SCALELAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]  # src/scalelab/paths.py -> <root>
    if (here / "pyproject.toml").exists() or (here / "notebooks").is_dir():
        return here
    return Path.cwd()


def build_dir() -> Path:
    """``<root>/_build``: executed notebooks, smoke records, reports, checkpoints (never committed)."""
    return repo_root() / "_build"


def results_path(slug: str, scale: str) -> Path:
    """The JSONL store of a chapter at a scale.

    Smoke records are throwaway and go under ``_build/results/smoke/``; ``cpu`` and ``gpu`` records are
    committed under ``<root>/results/<scale>/``.

    Raises:
        ValueError: on an unknown scale.
    """
    validate_scale(scale)
    if scale == "smoke":
        return build_dir() / "results" / "smoke" / f"{slug}.jsonl"
    return repo_root() / "results" / scale / f"{slug}.jsonl"


def report_path(slug: str, scale: str) -> Path:
    """Where a chapter notebook saves its :class:`scalelab.checks.Report`: ``_build/reports/<scale>/<slug>.json``.

    Raises:
        ValueError: on an unknown scale.
    """
    validate_scale(scale)
    return build_dir() / "reports" / scale / f"{slug}.json"


def relative(path: Path) -> str:
    """``path`` relative to the root when inside it (for display: pages never show a machine's paths)."""
    try:
        return str(Path(path).resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)
