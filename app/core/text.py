"""Safe Markdown: user text rendered to HTML that can carry no script, whatever was typed.

Two layers, so one bug is not enough: markdown-it-py runs with raw HTML off (typed tags come
out as text) and its link validation drops javascript:/vbscript:/data: URLs; nh3 (the Rust
ammonia sanitiser) then keeps only an allow-list of tags, attributes and URL schemes.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(source: str | None) -> Markup:
    """Markdown source → sanitised HTML, safe to put in a template unescaped."""
    if not source:
        return Markup("")
    html = _md.render(source)
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                      link_rel="noopener noreferrer nofollow")
    return Markup(clean)  # noqa: S704 — sanitised by nh3 just above
