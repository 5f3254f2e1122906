"""render_markdown caches by source text: the cached and uncached paths sanitise alike."""

from __future__ import annotations

from app.core.text import CACHED_SOURCE_CHARS, render_markdown

HOSTILE = "**hi** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"


def test_short_and_long_texts_are_sanitised_the_same_way():
    short = render_markdown(HOSTILE)
    long = render_markdown(HOSTILE + "\n\n" + "a" * CACHED_SOURCE_CHARS)  # past the cache limit
    for html in (short, long, render_markdown(HOSTILE)):  # the third is a cache hit
        assert "<strong>hi</strong>" in html
        assert "<script" not in html and "<img" not in html and "href=\"javascript" not in html
    assert render_markdown(HOSTILE) == short


def test_a_cache_hit_returns_markup_for_each_text():
    assert str(render_markdown("`a`")) == "<p><code>a</code></p>\n"
    assert str(render_markdown("`b`")) == "<p><code>b</code></p>\n"
    assert render_markdown("") == "" and render_markdown(None) == ""
