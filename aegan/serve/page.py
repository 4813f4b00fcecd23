"""The live page's files, shipped inside the package: plain HTML, CSS and JavaScript."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

ASSETS = {
    "app.js": "text/javascript", "chart.js": "text/javascript", "sources.js": "text/javascript",
    "style.css": "text/css",
}  # fmt: skip
"""The files a browser may fetch under /page/, and their types; nothing else is served."""

CONTENT_SECURITY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
"""Only the package's own files: no CDN, no inline script."""


@cache
def page_text(name: str) -> str:
    return files("aegan.serve").joinpath("page", name).read_text(encoding="utf-8")
