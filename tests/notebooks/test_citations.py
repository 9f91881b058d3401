"""Every citation in the notebooks and book pages names an entry of ``book/references.bib``.

The build (``-W``) would fail on an unknown key too, but only after every notebook has executed; this
fails in a second and lists the keys that exist.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbhelpers import ids, notebooks

from scalelab.paths import repo_root

BOOK = repo_root() / "book"
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")
NOTEBOOKS = notebooks()


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{\s*([^,\s]+)\s*,", (BOOK / "references.bib").read_text(), flags=re.MULTILINE))


def _cited(text: str) -> set[str]:
    return {key.strip() for group in CITE.findall(text) for key in group.split(",") if key.strip()}


def _unknown(text: str) -> list[str]:
    return sorted(_cited(text) - _bib_keys())


def test_bib_keys_are_unique():
    keys = re.findall(r"^@\w+\{\s*([^,\s]+)\s*,", (BOOK / "references.bib").read_text(), flags=re.MULTILINE)
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_the_parser_finds_citations():
    assert _cited("{cite}`a, b` and {cite:t}`c` and {cite:p}`a`") == {"a", "b", "c"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_citations_exist(nb):
    doc = nbformat.read(str(nb.path), as_version=4)
    unknown = _unknown("\n".join(c.source for c in doc.cells if c.cell_type == "markdown"))
    assert not unknown, f"{nb.name} cites {unknown}, not in book/references.bib; keys: {sorted(_bib_keys())}"


@pytest.mark.parametrize("page", sorted(BOOK.glob("*.md")), ids=lambda p: p.name)
def test_page_citations_exist(page):
    unknown = _unknown(page.read_text())
    assert not unknown, f"book/{page.name} cites {unknown}, not in book/references.bib; keys: {sorted(_bib_keys())}"
