"""The built book renders offline in headless Chromium: MathJax typesets, figures show, banners are visible.

Reads ``book/_build/html`` as ``make test`` leaves it (``stage`` then ``jupyter-book build``); it never
builds the book itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import nbformat
import pytest
from nbhelpers import REQUIRE

from scalelab import book
from scalelab.paths import repo_root

HTML = repo_root() / "book" / "_build" / "html"
STAGED = repo_root() / "book" / "chapters"
CDN = re.compile(r"https?://[^\"']*mathjax", re.IGNORECASE)


def _staged() -> list:
    return sorted(STAGED.glob("*.ipynb")) if STAGED.is_dir() else []


STAGED_NOTEBOOKS = _staged()


def _need_build():
    if not (HTML / "index.html").exists() or not STAGED_NOTEBOOKS:
        msg = "the book is not built: python -m scalelab.book stage && jupyter-book build book -W -n --keep-going"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def dom(tmp_path_factory):
    """The DOM of a built page after Chromium ran its scripts (MathJax included), cached per page."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        msg = "headless Chromium is needed for the render check: apt-get install -y chromium"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    cache: dict[str, str] = {}
    profile = tmp_path_factory.mktemp("chromium-profile")

    def load(page) -> str:
        if str(page) not in cache:
            out = subprocess.run(
                ["timeout", "60", chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                 "--dump-dom", page.resolve().as_uri()],
                capture_output=True, text=True, timeout=90)
            assert out.returncode == 0 and "<html" in out.stdout, \
                f"chromium could not render {page} (exit {out.returncode}): {out.stderr[-500:]}"
            cache[str(page)] = out.stdout
        return cache[str(page)]

    return load


def _math_in(doc) -> bool:
    return any(c.cell_type == "markdown" and "$" in c.source for c in doc.cells)


def _images_in(doc) -> int:
    return sum("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
               for c in doc.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_every_notebook_is_staged_and_built():
    _need_build()
    staged = {p.stem for p in STAGED_NOTEBOOKS}
    assert staged == {nb.stem for nb in book.discover()}, "book/chapters/ does not match notebooks/; rerun stage"
    for p in STAGED_NOTEBOOKS:
        page = HTML / "chapters" / f"{p.stem}.html"
        assert page.exists(), f"{page} was not built"
        assert page.stat().st_mtime >= p.stat().st_mtime - 1, f"{page} is older than the staged notebook"


def test_mathjax_is_served_locally():
    _need_build()
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax is not in the built book's _static"
    for page in [HTML / "intro.html", HTML / "notation.html"] + [HTML / "chapters" / f"{p.stem}.html"
                                                                 for p in STAGED_NOTEBOOKS]:
        text = page.read_text()
        assert "mathjax/tex-chtml.js" in text, f"{page.name} does not load the local MathJax"
        assert not CDN.search(text), f"{page.name} loads MathJax from the network"


def test_notation_page_typesets(dom):
    _need_build()
    html = dom(HTML / "notation.html")
    assert html.count("<mjx-container") >= 10, "MathJax did not typeset the notation page"
    assert "<mjx-merror" not in html, "MathJax reported a TeX error on the notation page"


@pytest.mark.parametrize("path", STAGED_NOTEBOOKS, ids=[p.stem for p in STAGED_NOTEBOOKS])
def test_chapter_page_renders(path, dom):
    _need_build()
    doc = nbformat.read(str(path), as_version=4)
    html = dom(HTML / "chapters" / f"{path.stem}.html")
    if _math_in(doc):
        assert "<mjx-container" in html, f"{path.stem}: no MathJax output in the rendered page"
        assert "<mjx-merror" not in html, f"{path.stem}: MathJax reported a TeX error"
    figures = _images_in(doc)
    assert html.count("<img") >= figures, f"{path.stem}: {figures} figures in the notebook, fewer <img> on the page"
    banner = any("smoke-banner" in c.metadata.get("tags", []) for c in doc.cells)
    assert (book.BANNER in html.lower()) == banner, f"{path.stem}: the smoke-scale banner is wrong"
    params = [c for c in doc.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert params and all("hide-cell" in c.metadata["tags"] for c in params), f"{path.stem}: parameters not collapsed"
    assert "tag_hide-cell" in html


def test_some_chapter_page_has_math_and_figures(dom):
    """At least one page exercises both MathJax and figures (00_setup does), so the checks above can fail."""
    _need_build()
    both = [p for p in STAGED_NOTEBOOKS if (lambda d: _math_in(d) and _images_in(d))(nbformat.read(str(p), 4))]
    assert both, "no staged notebook has both math and a figure"
    html = dom(HTML / "chapters" / f"{both[0].stem}.html")
    assert "<mjx-container" in html and "<img" in html
