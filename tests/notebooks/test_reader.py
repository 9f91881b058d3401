"""A reader's check of the built book: the glance page and a chapter in headless Chromium.

Every claim's verdict has its anchor on its chapter page and on the glance page, and the glance page's links reach
them; each chapter page carries Binder and Colab launch buttons that open the committed notebook; and no page
loads anything from the network (the launch links are links, not loads). Network loads are read two ways: the
resource attributes of every built page and stylesheet, and Chromium's own log of the requests the two opened
pages made after their scripts ran.

Reads ``book/_build/html`` as ``make test`` leaves it (``stage`` then ``jupyter-book build``), like
``test_render.py``; it never builds the book itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml
from nbhelpers import REQUIRE

from scalelab import book, glance
from scalelab.paths import repo_root, report_path

HTML = repo_root() / "book" / "_build" / "html"
STAGED = repo_root() / "book" / "chapters"
GLANCE = HTML / f"{book.GLANCE}.html"
ROW = re.compile(r'<tr id="([^"]+)">(.*?)</tr>', re.DOTALL)
LINK = re.compile(r'<a class="verdict-anchor" href="([^"]+)">([^<]+)</a>')
# Attributes through which a page fetches something (links in <a href> are navigation, not loads).
LOADS = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "source": ("src", "srcset"),
         "video": ("src", "poster"), "audio": ("src",), "embed": ("src",), "object": ("data",), "track": ("src",),
         "input": ("src",)}
LINK_RELS_THAT_LOAD = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut", "manifest",
                       "apple-touch-icon", "preconnect", "dns-prefetch"}


def _need_build():
    if not GLANCE.exists() or not (STAGED.is_dir() and any(STAGED.glob("*.ipynb"))):
        msg = "the book is not built: python -m scalelab.book stage && jupyter-book build book -W -n --keep-going"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)


def _chapters() -> list[tuple[book.Notebook, str]]:
    """(notebook, scale its page renders from) for every staged chapter."""
    out = []
    for nb in book.discover():
        staged = STAGED / nb.name
        if nb.is_chapter and staged.exists():
            doc = nbformat.read(str(staged), as_version=4)
            smoke = any("smoke-banner" in c.metadata.get("tags", []) for c in doc.cells)
            out.append((nb, "smoke" if smoke else book.RENDER_SCALE))
    return out


def _rows(html: str) -> dict[str, str]:
    return {a: body for a, body in ROW.findall(html)}


def _external(url: str) -> bool:
    url = url.strip()
    return url.startswith("//") or urlsplit(url).scheme not in ("", "file", "data", "blob", "about", "javascript")


class _Loads(HTMLParser):
    """Collects the URLs a page would fetch: scripts, images, frames, media, stylesheets, icons, inline CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in LOADS.get(tag, ()):
            if a.get(name):
                self.urls += [u.strip().split(" ")[0] for u in a[name].split(",")] if "srcset" in name \
                    else [a[name]]
        if tag == "link" and a.get("href") and LINK_RELS_THAT_LOAD & set((a.get("rel") or "").lower().split()):
            self.urls.append(a["href"])
        if a.get("style"):
            self.urls += _css_urls(a["style"])
        self._style = tag == "style"

    def handle_data(self, data):
        if self._style:
            self.urls += _css_urls(data)

    def handle_endtag(self, tag):
        self._style = False


def _css_urls(css: str) -> list[str]:
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    return urls + re.findall(r"@import\s+['\"]([^'\"]+)", css)


def _external_loads(html: str) -> list[str]:
    p = _Loads()
    p.feed(html)
    return sorted({u for u in p.urls if _external(u)})


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """Open a page in headless Chromium: (the DOM after its scripts ran, the http(s) URLs the page requested)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        msg = "headless Chromium is needed for the reader's check: apt-get install -y chromium"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    profile = tmp_path_factory.mktemp("reader-profile")
    cache: dict[str, tuple[str, list[str]]] = {}

    def load(page: Path) -> tuple[str, list[str]]:
        if str(page) in cache:
            return cache[str(page)]
        netlog = profile / f"{page.stem}.netlog.json"
        # Name resolution fails for every host, so a load is attempted (and logged) but never leaves the machine.
        out = subprocess.run(
            ["timeout", "60", chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
             "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=90)
        assert out.returncode == 0 and "<html" in out.stdout, \
            f"chromium could not render {page} (exit {out.returncode}): {out.stderr[-500:]}"
        assert netlog.exists(), f"chromium wrote no network log for {page.name}"
        log = json.loads(netlog.read_text())
        names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
        # The browser's own traffic (updates, dictionaries) has no page as initiator; the page's requests do.
        urls = sorted({e["params"]["url"] for e in log["events"]
                       if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
                       and e["params"].get("initiator") != "not an origin" and _external(e["params"]["url"])})
        cache[str(page)] = (out.stdout, urls)
        return cache[str(page)]

    return load


def _first_chapter() -> tuple[book.Notebook, str]:
    chapters = _chapters()
    assert chapters, "no chapter is staged under book/chapters"
    return chapters[0]


def test_glance_page_anchors_every_verdict_and_its_links_resolve(opened):
    _need_build()
    dom, _ = opened(GLANCE)
    rows = _rows(dom)
    expected = []
    for nb, scale in _chapters():
        report = glance.load_report(report_path(nb.slug, scale))
        page = (HTML / "chapters" / f"{nb.stem}.html").read_text()
        on_page = _rows(page)
        for v in report["verdicts"]:
            a = glance.anchor(v["claim"])
            expected.append(a)
            assert a in on_page, f"{nb.stem}: no element with id {a!r} for {v['claim']} on the chapter page"
            assert f">{v['claim']}<" in on_page[a] and f">{glance.outcome(v)}<" in on_page[a]
            assert a in rows, f"the glance page has no row with id {a!r} ({v['claim']})"
            link = LINK.search(rows[a])
            assert link and link.group(1) == f"chapters/{nb.stem}.html#{a}" and link.group(2) == v["claim"], \
                f"the glance row of {v['claim']} does not link to its chapter anchor: {rows[a][:200]}"
            assert f">{glance.outcome(v)}<" in rows[a], f"the glance row of {v['claim']} lacks its outcome"
    assert sorted(rows) == sorted(expected), "the glance page and the chapter reports list different claims"
    for href, _ in LINK.findall(dom):
        target, _, frag = href.partition("#")
        assert (GLANCE.parent / target).exists() and f'id="{frag}"' in (GLANCE.parent / target).read_text(), \
            f"the glance link {href} does not resolve"


def test_chapter_page_anchors_and_launch_buttons(opened):
    _need_build()
    nb, scale = _first_chapter()
    dom, _ = opened(HTML / "chapters" / f"{nb.stem}.html")
    rows = _rows(dom)
    claims = [v["claim"] for v in glance.load_report(report_path(nb.slug, scale))["verdicts"]]
    assert claims and [glance.anchor(c) for c in claims] == list(rows), \
        f"{nb.stem}: verdict rows {list(rows)} do not match the report's claims {claims}"
    for a, body in rows.items():
        assert f'href="#{a}"' in body, f"{nb.stem}: the verdict {a} does not link to its own anchor"
    url = yaml.safe_load((repo_root() / "book" / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    org_repo = urlsplit(url).path.strip("/")
    hrefs = re.findall(r'href="(https://[^"]+)"', dom)
    binder = [h for h in hrefs if h.startswith(f"https://mybinder.org/v2/gh/{org_repo}/")]
    colab = [h for h in hrefs if h.startswith(f"https://colab.research.google.com/github/{org_repo}/blob/")]
    assert binder and colab, f"{nb.stem}: no Binder or Colab launch button for {org_repo} on the page"
    for h in binder + colab:
        assert h.endswith(f"notebooks/{nb.stem}.ipynb"), f"{nb.stem}: the launch link {h} opens another file"
    assert (repo_root() / "notebooks" / f"{nb.stem}.ipynb").exists()


def test_every_chapter_page_has_launch_buttons():
    _need_build()
    for nb, _ in _chapters():
        text = (HTML / "chapters" / f"{nb.stem}.html").read_text()
        for host in ("https://mybinder.org/v2/gh/", "https://colab.research.google.com/github/"):
            links = re.findall(rf'href="({re.escape(host)}[^"]+)"', text)
            assert links and all(h.endswith(f"notebooks/{nb.stem}.ipynb") for h in links), \
                f"{nb.stem}: launch links to {host}: {links}"


def test_opened_pages_request_nothing_from_the_network(opened):
    _need_build()
    nb, _ = _first_chapter()
    for page in (GLANCE, HTML / "chapters" / f"{nb.stem}.html"):
        dom, requested = opened(page)
        assert not requested, f"{page.name} requested {requested}"
        assert not _external_loads(dom), f"{page.name} (after its scripts ran) loads {_external_loads(dom)}"


def test_the_request_log_sees_a_page_that_loads_from_the_network(opened, tmp_path):
    """A positive control for the test above: Chromium's log shows a stylesheet link and a script's fetch."""
    page = tmp_path / "control.html"
    page.write_text('<html><head><link rel="stylesheet" href="https://reader-check.invalid/x.css"></head><body>'
                    '<script>fetch("https://reader-check.invalid/y.json").catch(() => 0)</script></body></html>')
    _, requested = opened(page)
    assert {"https://reader-check.invalid/x.css", "https://reader-check.invalid/y.json"} <= set(requested), requested


def test_no_built_page_or_stylesheet_loads_from_the_network():
    _need_build()
    pages = sorted(HTML.rglob("*.html"))
    assert len(pages) >= 5
    bad = {str(p.relative_to(HTML)): u for p in pages if (u := _external_loads(p.read_text(errors="replace")))}
    for css in sorted((HTML / "_static").rglob("*.css")):
        urls = [u for u in _css_urls(css.read_text(errors="replace")) if _external(u)]
        if urls:
            bad[str(css.relative_to(HTML))] = urls
    assert not bad, f"pages or stylesheets that load from the network: {bad}"


def test_the_checks_above_can_fail():
    """The detectors see what they must: an external stylesheet, a CDN script, an inline CSS import."""
    html = ('<link rel="stylesheet" href="https://cdn.example/x.css"><link rel="canonical" href="https://a.b/">'
            '<script src="//cdn.example/y.js"></script><script src="_static/local.js"></script>'
            '<img srcset="a.png 1x, https://i.example/b.png 2x"><style>@import "https://f.example/c.css";</style>'
            '<a href="https://mybinder.org/v2/gh/o/r/main">launch</a>')
    assert _external_loads(html) == ["//cdn.example/y.js", "https://cdn.example/x.css", "https://f.example/c.css",
                                     "https://i.example/b.png"]
    assert _rows('<tr id="c1-2"><td>x</td></tr>') == {"c1-2": "<td>x</td>"}
