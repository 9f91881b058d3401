"""Launch buttons open the committed notebook, not the staged copy the page was rendered from.

A chapter page is built from ``book/chapters/NN_slug.ipynb``, an executed copy that ``python -m scalelab.book
stage`` writes and git ignores, so the theme's Binder and Colab links would point at a file the repository does
not have. This extension runs after the theme has made the links and points them at ``notebooks/NN_slug.ipynb``.
"""

from __future__ import annotations

STAGED = "book/chapters/"  # path_to_book in _config.yml + the staging folder
SOURCE = "notebooks/"


def _point_at_sources(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = button["url"].replace(STAGED, SOURCE)


def setup(app):
    # The theme adds launch buttons at priority 501; a later handler sees them.
    app.connect("html-page-context", _point_at_sources, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
