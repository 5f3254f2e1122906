"""A compliance officer sends a new policy version for approval; an admin approves it with a passkey.

The admin's passkey lives in Chromium's virtual WebAuthn authenticator (CDP), so the browser signs
real assertions; the policy is published, and the stored decision re-verifies from the page.
"""

from __future__ import annotations

import re

from app.demo import DEMO_PASSWORD
from tests.browser.live import DEMO_ADMIN, WIDTHS, sign_in

OFFICER = "compliance@acme.test"


def _new_context(browser, live_server):
    width, height = WIDTHS["desktop"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.page_errors = []
    page.on("pageerror", lambda exc: page.page_errors.append(str(exc)))
    return context, page


def _virtual_authenticator(context, page) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})


def test_officer_requests_approval_admin_approves_with_passkey_and_it_reverifies(browser, page, live_server,
                                                                                  screenshot):
    base = live_server.url
    # The compliance officer drafts version 2 of "Access control" and asks the admins to approve it.
    sign_in(page, base, OFFICER, DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    screenshot(page, "policies-list")
    page.get_by_role("link", name="Access control").click()
    page.get_by_role("button", name="New version").click()
    body = page.get_by_label("Policy text")
    body.fill(body.input_value().rstrip() + "\n- Break-glass accounts are sealed and reviewed after every use.\n")
    page.get_by_label("What changed").fill("Break-glass accounts")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Version 2 started as a draft.").wait_for()
    page.get_by_role("button", name="Request approval").click()
    page.get_by_text(re.compile(r"Version 2 sent for approval \(APR-\d+\)")).wait_for()

    # The admin adds a passkey (virtual authenticator), then finds the request in the inbox.
    context, admin = _new_context(browser, live_server)
    _virtual_authenticator(context, admin)
    sign_in(admin, base, DEMO_ADMIN, DEMO_PASSWORD)
    admin.goto(f"{base}/account/security")
    admin.get_by_label("Name for the new passkey").fill("Work laptop")
    admin.get_by_role("button", name="Add a passkey").click()
    admin.get_by_text("Passkey “Work laptop” added.").wait_for()
    # The demo's policy review, AI go-live and risk acceptance requests, plus this one.
    assert admin.locator("#notification-bell .bell-count").inner_text() == "4"
    admin.locator("#notification-bell").click()
    admin.get_by_role("link", name=re.compile("Approval needed: Access control")).wait_for()
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    row = admin.locator("article.approval-row", has_text="Access control — version 2")
    row.wait_for()
    screenshot(admin, "approvals-inbox")
    row.get_by_role("link", name="Access control — version 2").click()
    admin.get_by_label("Comment").fill("Matches the access review findings.")
    admin.get_by_role("button", name="Approve").click()
    admin.get_by_text(re.compile("Confirm it’s you to approve")).wait_for()
    assert admin.get_by_label("Your comment").input_value() == "Matches the access review findings."
    screenshot(admin, "approval-stepup", reload=False)
    admin.get_by_role("button", name="Approve with passkey").click()
    admin.get_by_text("Approved: Access control — version 2.").wait_for()
    assert admin.get_by_text("passkey-signed").is_visible()
    admin.get_by_role("button", name="Verify").click()
    admin.locator("#verification .verification--verified").wait_for()
    assert "signature of Ada Admin verifies" in admin.locator("#verification").inner_text()
    screenshot(admin, "approval-detail", reload=False)
    assert admin.page_errors == [], admin.page_errors
    context.close()

    # The officer sees version 2 in force, version 1 retired, and the change in the diff.
    page.goto(f"{base}/governance/policies")
    page.get_by_role("link", name="Access control").click()
    page.get_by_text("Published v2").wait_for()
    assert "Break-glass accounts are sealed" in page.locator(".policy-text").inner_text()
    assert page.locator(".version-list").get_by_text("Retired").is_visible()
    page.get_by_role("button", name=re.compile("I have read and accept v2")).click()
    page.get_by_text("Acknowledged").first.wait_for()
    screenshot(page, "policy-page")
    page.get_by_role("button", name="Compare versions").click()
    assert page.locator("tr.diff-add").count() == 1
    screenshot(page, "policy-diff")
    assert page.page_errors == [], page.page_errors
