"""A compliance officer records a CV-screening AI system and classifies it with the EU AI Act questionnaire.

HTMX swaps each step in place; the result is "High-risk (Annex III — employment)" with its obligations
linked to the EU AI Act requirements of the compliance library, and the classification is in the history.
"""

from __future__ import annotations

import re

from app.demo import DEMO_PASSWORD
from tests.browser.live import sign_in

OFFICER = "compliance@acme.test"


def _answer(page, question: str, value: str) -> None:
    page.get_by_role("group", name=re.compile(re.escape(question))).get_by_label(value, exact=True).check()


def _next(page, step_title: str) -> None:
    page.get_by_role("button", name="Next").click()
    page.locator(".q-head h2", has_text=step_title).wait_for()


def test_officer_classifies_a_cv_screening_system_as_high_risk(page, live_server, screenshot):
    base = live_server.url
    sign_in(page, base, OFFICER, DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="AI systems").click()
    page.locator(".tier-chip--high").wait_for()
    screenshot(page, "ai-systems-list")
    page.get_by_role("button", name="New AI system").click()
    page.get_by_label("Name").fill("Graduate CV screening")
    page.get_by_label("Intended purpose").fill("Scores graduate applications and proposes interview shortlists.")
    page.get_by_label("Provider or vendor").fill("TalentRank")
    page.get_by_label("Model(s)").fill("talentrank-2")
    page.get_by_label("Data categories processed").fill("CVs, grades, work history")
    page.get_by_label("Personal data").check()
    page.get_by_label("Human oversight measures").fill("A recruiter reviews every shortlist.")
    page.get_by_role("button", name="Save and classify").click()

    # Step 1: role. Next without an answer keeps us here with the question named.
    page.get_by_text("Step 1 of 6").wait_for()
    page.get_by_role("button", name="Next").click()
    page.locator("#roles-error", has_text="Choose at least one.").wait_for()
    page.get_by_label("Deployer —").check()
    _next(page, "General-purpose AI")
    _answer(page, "general-purpose AI model", "No")
    _next(page, "Prohibited practices")
    for fieldset in page.locator("fieldset.q").all():
        fieldset.get_by_label("No", exact=True).check()
    _next(page, "Product safety")
    _answer(page, "Annex I legislation", "No")
    _next(page, "High-risk areas (Annex III)")
    _answer(page, "one of the Annex III areas", "Yes")
    page.get_by_label("4. Employment").check()
    _answer(page, "profile natural persons", "Yes")
    _answer(page, "narrow procedural task", "No")
    screenshot(page, "ai-questionnaire", reload=False)
    # Back and forth keeps the answers (saved at each step).
    page.get_by_role("button", name="Back").click()
    page.locator(".q-head h2", has_text="Product safety").wait_for()
    _next(page, "High-risk areas (Annex III)")
    assert page.get_by_label("4. Employment").is_checked()
    _next(page, "Transparency")
    for fieldset in page.locator("fieldset.q").all():
        fieldset.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="See the result").click()

    result = page.locator(".ai-result-label")
    result.wait_for()
    assert result.inner_text() == "High-risk (Annex III — employment)"
    page.get_by_text("Classified: High-risk (Annex III — employment).").wait_for()
    obligations = page.locator(".obligations")
    assert "Deployer obligations" in obligations.inner_text()
    assert "Fundamental rights impact assessment" in obligations.inner_text()
    assert obligations.get_by_role("link", name="Art. 26").get_attribute("href").startswith(
        "/compliance/requirements/")
    assert "Annex III(4)" in page.locator(".reasoning").inner_text()
    history = page.locator(".ai-history li")
    assert history.count() == 1 and "High-risk (Annex III — employment)" in history.inner_text()
    assert "Current" in history.inner_text()
    screenshot(page, "ai-result")
    # The obligation opens its requirement in the compliance library.
    obligations.get_by_role("link", name="Art. 26").click()
    page.get_by_role("heading", name=re.compile("Art.26")).first.wait_for()
    assert page.page_errors == [], page.page_errors
