"""A person turns on two-step sign-in in Chromium, signs out, and signs in again with a code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from app.demo import DEMO_PASSWORD
from tests.browser.live import DEMO_ADMIN, sign_in

# Pages a signed-in admin reaches from the navigation; each must load with the CSP intact.
ADMIN_PAGES = ["/dashboard", "/account/security", "/account/mfa/enrol", "/admin/members", "/admin/api-keys",
               "/audit/"]


def _open_user_menu(page) -> None:
    page.locator("details.user-menu > summary").click()


def test_enrol_authenticator_sign_out_and_sign_in_with_code(page, live_server, screenshot):
    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)
    assert page.url.endswith("/dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account security").click()
    page.get_by_role("button", name="Set up an authenticator").click()
    assert page.get_by_role("img", name=re.compile("QR code")).is_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), f"not a base32 secret: {secret!r}"
    screenshot(page, "totp-enrol")

    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.get_by_text("Two-step sign-in is on.").wait_for()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    screenshot(page, "totp-recovery-codes", reload=False)

    _open_user_menu(page)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    assert page.url.endswith("/login")
    assert page.goto(f"{live_server.url}/dashboard").url.split("?")[0].endswith("/login"), "signed out, still in"

    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)
    assert page.url.endswith("/login/code")
    # The enrolment used this 30 s step, and a step is never accepted twice; the next step is
    # within the ±1 step of drift the server allows.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert "Acme Corp" in page.locator("main").inner_text()
    screenshot(page, "totp-signed-in-dashboard")


def test_a_used_code_is_refused_at_sign_in(page, live_server):
    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/account/mfa/enrol")
    secret = page.locator("#totp-secret").inner_text().strip()
    used, used_step = pyotp.TOTP(secret).now(), int(time.time() // 30)
    page.get_by_label("Code").fill(used)
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.locator("#recovery-codes").wait_for()
    _open_user_menu(page)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()

    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)
    page.get_by_label("Code").fill(used)
    page.get_by_role("button", name="Verify").click()
    if int(time.time() // 30) > used_step + 1:
        pytest.skip("the clock moved two steps on; the used code expired rather than being refused")
    assert page.url.endswith("/login/code")
    assert page.get_by_role("alert").is_visible()


def test_pages_load_with_htmx_and_nothing_blocked_by_the_csp(page, live_server, screenshot):
    page.goto(f"{live_server.url}/login")
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load on the sign-in page"
    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)

    statuses = {}
    for path in ADMIN_PAGES:
        response = page.goto(f"{live_server.url}{path}")
        statuses[path] = response.status
        assert page.evaluate("typeof window.htmx") == "object", f"htmx did not load on {path}"
        assert page.evaluate("document.documentElement.classList.contains('js')"), f"app.js did not run on {path}"
    failing = {path: status for path, status in statuses.items() if status != 200}
    assert not failing, f"pages that did not answer 200: {failing}"

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], "\n".join(blocked)
    assert page.page_errors == [], page.page_errors
