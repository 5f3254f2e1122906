"""A compliance officer accepts a risk above the tenant's threshold; an admin approves with a passkey.

Marking the risk "accept" opens a high-impact approval request instead of accepting it; the admin
approves it in the approvals inbox with a passkey held by Chromium's virtual authenticator, and the
risk then shows accepted, by whom. The register's heatmap cells filter the list in place (HTMX + URL).
"""

from __future__ import annotations

import re

from app.demo import DEMO_PASSWORD
from tests.browser.live import DEMO_ADMIN, sign_in
from tests.browser.test_policy_approval import OFFICER, _new_context, _virtual_authenticator

RISK = "CV-screening model discriminates against protected groups"  # demo: residual 4 × 4 = 16 ≥ 12


def test_officer_requests_acceptance_admin_approves_with_passkey(browser, page, live_server, screenshot):
    base = live_server.url
    sign_in(page, base, OFFICER, DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Risks").click()
    page.locator("svg.heatmap").wait_for()
    screenshot(page, "risk-register")

    # A heatmap cell filters the list in place and the URL follows (so back/forward and sharing work).
    page.locator("a.heat-link[aria-label^='Likelihood 4, impact 4']").click()
    page.wait_for_url(re.compile(r"cell=4-4"))
    page.get_by_role("heading", name=re.compile(r"in likelihood 4 × impact 4")).wait_for()
    rows = page.locator(".risk-table tbody tr")
    assert rows.count() == 2  # the CV-screening model and the legacy finance server
    assert rows.filter(has_text=RISK).count() == 1
    assert page.locator("a.heat-link .is-selected").count() == 1
    screenshot(page, "risk-register-cell")

    # Accepting it above the threshold asks for approval instead.
    page.get_by_role("link", name=re.compile(RISK)).click()
    page.get_by_label("Why accept it?").fill("Human review of every rejection keeps the residual risk tolerable.")
    page.get_by_role("button", name="Request acceptance").click()
    page.locator("#risk-acceptance").get_by_text("Acceptance pending").wait_for()
    assert page.locator("#risk-acceptance").get_by_role("link", name=re.compile(r"APR-\d+")).is_visible()
    screenshot(page, "risk-acceptance-pending")

    # The admin adds a passkey (virtual authenticator) and approves from the inbox.
    context, admin = _new_context(browser, live_server)
    _virtual_authenticator(context, admin)
    sign_in(admin, base, DEMO_ADMIN, DEMO_PASSWORD)
    admin.goto(f"{base}/account/security")
    admin.get_by_label("Name for the new passkey").fill("Work laptop")
    admin.get_by_role("button", name="Add a passkey").click()
    admin.get_by_text("Passkey “Work laptop” added.").wait_for()
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    title = re.compile(r"Accept RSK-\d+ " + re.escape(RISK))
    row = admin.locator("article.approval-row", has_text=RISK)
    row.wait_for()
    row.get_by_role("link", name=title).click()
    admin.get_by_label("Comment").fill("Agreed at the AI board; bias tests to be reported quarterly.")
    admin.get_by_role("button", name="Approve").click()
    admin.get_by_text(re.compile("Confirm it’s you to approve")).wait_for()
    admin.get_by_role("button", name="Approve with passkey").click()
    admin.get_by_text(re.compile(r"Approved: Accept RSK-\d+")).wait_for()
    assert admin.page_errors == [], admin.page_errors
    context.close()

    # The officer sees the risk accepted, by the admin, and the acceptance in its history.
    page.reload()
    acceptance = page.locator("#risk-acceptance")
    acceptance.get_by_text("Accepted", exact=True).wait_for()
    assert "Accepted after approval by Ada Admin" in acceptance.inner_text()
    assert page.get_by_role("button", name=re.compile("acceptance|Accept this risk")).count() == 0
    screenshot(page, "risk-accepted")
    assert page.page_errors == [], page.page_errors
