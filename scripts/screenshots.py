"""Screenshots of the main pages at desktop (1280 px) and phone (390 px) width, to look at.

    .venv/bin/python scripts/screenshots.py [OUT_DIR] [--url http://localhost:5000] [--email ... --password ...]

Without --url it starts the app like the browser tests do (its own instance folder in a
temporary directory, migrated and seeded with the demo) on http://localhost:PORT; with --url
it signs in to a running Vigil (`make run`) as the demo admin. Needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.live import CHROMIUM, DEMO_ADMIN, WIDTHS, launch_chromium, sign_in, start_live_app  # noqa: E402

PAGES = [
    ("dashboard", "/dashboard"),
    ("members", "/admin/members"),
    ("api-keys", "/admin/api-keys"),
    ("audit", "/audit/"),
    ("account-security", "/account/security"),
]


def shoot(base_url: str, out: Path, email: str, password: str) -> list[str]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for width, height in WIDTHS.values():
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

            page.goto(f"{base_url}/login")
            page.screenshot(path=str(out / f"login-{width}.png"), full_page=True)
            sign_in(page, base_url, email, password)
            if "/login" in page.url:
                raise SystemExit(f"sign-in as {email} did not get past {page.url} (two-step sign-in on?)")
            for name, path in PAGES:
                response = page.goto(f"{base_url}{path}")
                if response is None or response.status != 200:
                    problems.append(f"{path} at {width} px: HTTP {response.status if response else '?'}")
                page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
            context.close()
        browser.close()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "test-artifacts" / "screenshots"))
    parser.add_argument("--url", help="a running Vigil, e.g. http://localhost:5000 (default: start one)")
    parser.add_argument("--email", default=DEMO_ADMIN)
    parser.add_argument("--password", default=None, help="default: the demo password")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium")

    from app.demo import DEMO_PASSWORD

    password = args.password or DEMO_PASSWORD
    out = Path(args.out)
    if args.url:
        problems = shoot(args.url.rstrip("/"), out, args.email, password)
    else:
        with tempfile.TemporaryDirectory(prefix="vigil-screenshots-") as tmp:
            server = start_live_app(Path(tmp) / "instance")
            try:
                problems = shoot(server.url, out, args.email, password)
            finally:
                server.stop()
    for name in sorted(p.name for p in out.glob("*.png")):
        print(out / name)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
