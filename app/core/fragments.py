"""Rendered HTML of pure fragments, memoized by the values they show.

A queue row or a timeline entry is a pure function of a few plain values (the row's columns,
the viewer's time zone, whether they may edit). Rendering it through Jinja costs far more than
reading it (the queue spent three quarters of its time rendering 50 rows), and the same rows are
rendered again and again as analysts refresh, filter and page. So a list renders each item
through `FragmentCache.render(key, make)`, where `key` holds *every* value the fragment reads:
an edited row has a different key and is rendered afresh, so nothing is ever invalidated and a
stale row cannot be served. Keys are frozen dataclasses or tuples of strings, numbers and
datetimes; never ORM objects (their hash is their identity, not their content).

The cache is per process (each gunicorn worker keeps its own), bounded by `maxsize` entries; when
full, the oldest eighth is dropped (dicts keep insertion order). Reads take no lock: a dict lookup
is atomic in CPython, and two threads rendering the same miss produce the same HTML.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable

from flask import Flask, current_app
from markupsafe import Markup

EXTENSION = "vigil_fragments"


class FragmentCache:
    def __init__(self, maxsize: int = 20_000, *, enabled: bool = True) -> None:
        self.maxsize, self.enabled = maxsize, enabled
        self._html: dict[Hashable, Markup] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def render(self, key: Hashable, make: Callable[[], Markup]) -> Markup:
        if not self.enabled:
            return make()
        html = self._html.get(key)
        if html is not None:
            self.hits += 1
            return html
        self.misses += 1
        html = make()
        with self._lock:
            if len(self._html) >= self.maxsize:
                for old in list(itertools.islice(self._html, max(1, self.maxsize // 8))):
                    self._html.pop(old, None)
            self._html[key] = html
        return html

    def clear(self) -> None:
        with self._lock:
            self._html.clear()

    def __len__(self) -> int:
        return len(self._html)


def fragments() -> FragmentCache:
    return current_app.extensions[EXTENSION]


def macro(template: str, name: str):
    """A macro of a template, callable from Python (the template is compiled once, its module kept)."""
    return getattr(current_app.jinja_env.get_template(template).module, name)


def init_app(app: Flask) -> None:
    # Off while templates reload on change (development): the keys hold values, not template sources.
    app.extensions[EXTENSION] = FragmentCache(enabled=not app.jinja_env.auto_reload)
