"""Browser fixtures: a fresh live app per test, one Chromium per session, a page that records the console.

The browser tests skip (with the reason) when Debian's chromium is not installed; `.ci/run`
installs it, so in CI they always run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import ROOT
from tests.browser.live import CHROMIUM, WIDTHS, launch_chromium, start_live_app

ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: make install-test")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(browser, tmp_path):
    """The real app with its own instance folder, SQLite file and seeded demo, on http://localhost:PORT."""
    server = start_live_app(tmp_path / "instance")
    yield server
    server.stop()


@pytest.fixture
def page(browser, live_server):
    """A desktop-sized page in a fresh context; `page.console_messages` and `page.page_errors` collect."""
    width, height = WIDTHS["desktop"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.console_messages, pg.page_errors = [], []
    pg.on("console", lambda msg: pg.console_messages.append(f"{msg.type}: {msg.text}"))
    pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
    yield pg
    context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, "name") saves test-artifacts/browser/name-1280.png and name-390.png.

    Each width is reloaded (as a phone would load it: app.js folds the menu on narrow screens),
    except with reload=False, for a page that answered a POST.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _shoot(pg, name: str, reload: bool = True) -> list[Path]:
        saved = []
        original = pg.viewport_size
        for width, height in WIDTHS.values():
            pg.set_viewport_size({"width": width, "height": height})
            if reload:
                pg.reload()
            path = ARTIFACTS / f"{name}-{width}.png"
            pg.screenshot(path=str(path), full_page=True)
            saved.append(path)
        pg.set_viewport_size(original)
        if reload:
            pg.reload()
        return saved

    return _shoot
