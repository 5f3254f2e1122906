"""The real app served on http://localhost:PORT, and Debian's Chromium driven by Playwright.

Shared by tests/browser/conftest.py and scripts/screenshots.py. The server is werkzeug's
threaded server in a background thread: real HTTP, real cookies, real CSP, the same WSGI
callable gunicorn serves. `localhost`, not 127.0.0.1, because WebAuthn needs a domain.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_ADMIN = "admin@acme.test"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


@dataclass
class LiveServer:
    app: Flask
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
        with self.app.app_context():
            from app.core.db import db

            db.engine.dispose()


def _not_ready(environ, start_response):
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def start_live_app(instance: Path) -> LiveServer:
    """Create the app with its own instance folder and SQLite file, migrate, seed the demo, serve."""
    from app import create_app
    from app.demo import seed

    # Bind first: the app's base URL (and later the WebAuthn origin) must carry the real port.
    server = make_server("localhost", 0, _not_ready, threaded=True)
    url = f"http://localhost:{server.server_port}"
    instance.mkdir(parents=True, exist_ok=True)
    app = create_app({
        "instance_path": str(instance),
        "database_url": f"sqlite:///{instance / 'browser.db'}",
        "secret_key": "browser-test-secret-key-not-for-production-0123",
        "base_url": url,
        # Jobs run inline: the job queue is one per process, and the test app's is immediate too.
        "jobs_immediate": True,
    })
    with app.app_context():
        upgrade()
        seed()
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name=f"live-app-{server.server_port}", daemon=True)
    thread.start()
    return LiveServer(app=app, url=url, server=server, thread=thread)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Fill the sign-in form as a person would; stops at whatever page comes next."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
