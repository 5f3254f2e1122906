"""Passkeys in Chromium with the DevTools virtual authenticator (a CTAP2 platform authenticator with UV).

Register on Account security, sign out, sign in with the passkey alone (no email typed), and step
up with it before creating an API key: the real page, static/js/passkeys.js, and the server.
"""

from __future__ import annotations

import re

from app.demo import DEMO_PASSWORD
from tests.browser.live import DEMO_ADMIN, sign_in


def add_virtual_authenticator(page, *, user_verified: bool = True):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": user_verified, "automaticPresenceSimulation": True}})
    return cdp, added["authenticatorId"]


def _sign_out(page) -> None:
    page.locator("details.user-menu > summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()


def test_register_a_passkey_sign_in_with_it_alone_and_step_up_for_an_api_key(page, live_server, screenshot):
    cdp, authenticator = add_virtual_authenticator(page)
    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/account/security")
    page.get_by_label("Name for the new passkey").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Passkey “Work laptop” added").wait_for()
    row = page.locator(".passkey-row")
    assert row.count() == 1 and "Work laptop" in row.inner_text() and "never used yet" in row.inner_text()
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert credential["isResidentCredential"] is True  # discoverable: sign-in needs no email
    screenshot(page, "passkeys-account-security")

    _sign_out(page)
    assert page.get_by_role("button", name="Sign in with a passkey").is_visible()
    screenshot(page, "passkeys-sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert "Acme" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/account/security")
    assert "last used" in page.locator(".passkey-row").inner_text()

    page.goto(f"{live_server.url}/admin/api-keys")
    page.get_by_label("Name").fill("SIEM forwarder")
    page.locator("label", has_text="alerts:read").locator("input").check()
    page.locator("#new-key-form").get_by_role("button", name="Create key").click()
    page.get_by_text("You are about to create an API key").wait_for()
    screenshot(page, "passkeys-step-up", reload=False)
    page.get_by_role("button", name="Confirm with passkey").click()
    page.locator("#new-api-key").wait_for()
    assert page.locator("#new-api-key").inner_text().startswith("vgl_")
    assert "SIEM forwarder" in page.locator("main").inner_text()  # the form survived the step-up

    # With a passkey, a password alone is not enough: the passkey is the second step.
    page.goto(f"{live_server.url}/dashboard")
    _sign_out(page)
    sign_in(page, live_server.url, DEMO_ADMIN, DEMO_PASSWORD)
    assert page.url.endswith("/login/code")
    screenshot(page, "passkeys-second-step")
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_url(re.compile(r"/dashboard$"))

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [] and page.page_errors == [], (blocked, page.page_errors)


def test_a_refused_user_verification_says_so_and_signs_nobody_in(page, live_server):
    _cdp, _id = add_virtual_authenticator(page, user_verified=False)
    page.goto(f"{live_server.url}/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    status = page.locator("[data-passkey-status]")
    status.filter(has_text=re.compile("cancelled|not registered|could not be verified")).wait_for()
    assert page.url.endswith("/login")


def test_without_webauthn_the_page_explains(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script("delete window.PublicKeyCredential;")
    pg = context.new_page()
    pg.goto(f"{live_server.url}/login")
    assert "cannot use passkeys" in pg.locator("[data-passkey-status]").inner_text()
    assert pg.get_by_role("button", name="Sign in with a passkey").is_hidden()
    context.close()
