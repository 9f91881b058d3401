"""Notebook tests read the executions that ``python -m scalelab.book run`` left under ``_build/executed/``.

``make test`` executes every notebook once (smoke, and records-only at cpu for chapters with committed
records), builds the book, then runs these tests with ``SCALELAB_REQUIRE_EXECUTED=1``: a missing or stale
execution is then a failure naming the command that makes it, never a second execution. Run bare
(``pytest tests/notebooks``), a missing or stale execution is made on the spot.
"""

from __future__ import annotations

import os
import shutil

import pytest

from scalelab import book

REQUIRE = os.environ.get("SCALELAB_REQUIRE_EXECUTED") == "1"


def notebooks() -> list[book.Notebook]:
    found = book.discover()
    assert found, f"no notebooks matching {book.NOTEBOOK_GLOB} under notebooks/"
    return found


def chapters() -> list[book.Notebook]:
    return [nb for nb in notebooks() if nb.is_chapter]


def chapters_with_records(scale: str = "cpu") -> list[book.Notebook]:
    return [nb for nb in chapters() if book.records_complete(nb, scale)]


def ids(nbs: list[book.Notebook]) -> list[str]:
    return [nb.stem for nb in nbs]


def executed(nb: book.Notebook, scale: str, records_only: bool) -> dict:
    """The manifest entry of a fresh, successful execution of ``nb`` (made here when allowed)."""
    entry = book.fresh_entry(nb, scale, records_only)
    if entry is not None:
        return entry
    flag = " --records-only" if records_only else ""
    command = f"python -m scalelab.book run --scale {scale}{flag} --only {nb.number}"
    last = book._load_manifest(scale).get(nb.name)
    if last is not None and last.get("status") == "failed" and \
            last.get("inputs_sha256") == book.inputs_digest(nb, scale, records_only):
        pytest.fail(f"notebooks/{nb.name} failed at scale {scale}: {last.get('error')}\n"
                    f"executed copy: {last.get('output')}")
    if REQUIRE:
        pytest.fail(f"notebooks/{nb.name} has no fresh execution at scale {scale} (the notebook, the package or the "
                    f"records changed since); run `{command}`")
    entry = book.execute(nb, scale, records_only=records_only)
    if entry["status"] != "ok":
        pytest.fail(f"notebooks/{nb.name} failed at scale {scale}: {entry['error']}")
    return entry


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        msg = "headless Chromium is needed for the render check: apt-get install -y chromium"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    return exe
