"""A compliance officer adopts the EU AI Act, evidences a shared control, and watches two scores move.

Runs against the real framework library (app/compliance/frameworks/) in a workspace that has
already adopted NIST AI RMF: the control VC-06 (AI risk management) covers requirements of
both, so one piece of accepted evidence moves both scores. Ends by exporting the gaps (CSV)
and the OSCAL assessment results, which must validate against the OSCAL model.
"""

from __future__ import annotations

import csv
import json
import re
import threading

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from tests.browser.live import LiveServer, _not_ready, sign_in

PDF = b"%PDF-1.7\n% Risk management procedure, approved 2026-10-01\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SHARED_CONTROL = "VC-06"


@pytest.fixture
def compliance_server(browser, tmp_path):
    """The app with the framework library, one workspace with AI RMF adopted, and its compliance officer."""
    from app import create_app
    from app.compliance import services
    from app.compliance.loader import load_library
    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context
    from tests import factories

    server = make_server("localhost", 0, _not_ready, threaded=True)
    url = f"http://localhost:{server.server_port}"
    instance = tmp_path / "instance"
    instance.mkdir()
    app = create_app({"instance_path": str(instance), "database_url": f"sqlite:///{instance / 'browser.db'}",
                      "secret_key": "browser-test-secret-key-not-for-production-0123", "base_url": url,
                      "jobs_immediate": True})
    with app.app_context():
        upgrade()
        load_library()
        tenant = factories.make_tenant("acme", "Acme Corp")
        officer = factories.make_member(tenant, role="compliance", name="Cora Compliance")
        with tenant_context(tenant):
            services.adopt_framework(services.framework_by_key("nist-ai-rmf-1.0"), actor=system_actor(tenant))
        email = officer.user.email
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = LiveServer(app=app, url=url, server=server, thread=thread)
    live.email = email
    yield live
    live.stop()


def _score(page, key: str) -> int:
    page.goto("/compliance/")
    return int(page.locator(f"[id='fw-{key}'] .score-value").inner_text().rstrip("%"))


def _met(page, key: str) -> int:
    page.goto("/compliance/")
    text = page.locator(f"[id='fw-{key}'] .score-meter .small").inner_text()
    return int(text.split(" of ")[0])


def test_adopt_evidence_accept_and_export(browser, compliance_server, screenshot, tmp_path):
    from tests.factories import PASSWORD

    context = browser.new_context(base_url=compliance_server.url, viewport={"width": 1280, "height": 800},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, compliance_server.url, compliance_server.email, PASSWORD)

    rmf_before = _met(page, "nist-ai-rmf-1.0")
    screenshot(page, "compliance-frameworks")

    # Adopt the EU AI Act: the proposed controls include the one already run for AI RMF.
    page.locator("tr", has_text="EU AI Act").get_by_role("button", name="Adopt").click()
    proposals = page.locator("table.proposals tbody tr")
    assert proposals.count() > 10
    shared = page.locator("table.proposals tr", has_text=SHARED_CONTROL)
    assert "You have it" in shared.inner_text() and "AI RMF 1.0" in shared.inner_text()
    screenshot(page, "compliance-adopt")
    page.get_by_role("button", name="Adopt EU AI Act").first.click()
    page.get_by_text("EU AI Act adopted").wait_for()
    assert page.locator(".score-value").inner_text() == "0%"

    # Expand the high-risk group (loaded by HTMX) and open the shared control from its chip.
    page.locator("summary", has_text="High-risk AI systems: requirements").click()
    page.locator("summary", has_text="Risk management system").click()  # a nested group, loaded the same way
    chip = page.locator(".tree-leaf a.chip", has_text=SHARED_CONTROL).first
    chip.wait_for()
    screenshot(page, "compliance-framework-tree", reload=False)
    chip.click()
    assert SHARED_CONTROL in page.locator("h1").inner_text()

    # Implemented (saved in place by HTMX), then evidence uploaded and accepted.
    page.locator("#control-status").select_option("implemented")
    page.get_by_role("button", name="Save").click()
    page.locator("#control-form-card .chip", has_text="Implemented").wait_for()
    page.reload()
    assert "evidence missing" in page.locator("#control-reason").inner_text()
    page.locator("#add-evidence > summary").click()
    page.get_by_label("Title").fill("AI risk management procedure")
    page.locator("#ev-file").set_input_files({"name": "risk-procedure.pdf", "mimeType": "application/pdf",
                                               "buffer": PDF})
    page.get_by_role("button", name="Add evidence").click()
    row = page.locator("table.evidence-table tr", has_text="AI risk management procedure")
    assert "Awaiting review" in row.inner_text()
    row.get_by_role("button", name="Accept").click()
    page.get_by_text("Evidence accepted").wait_for()
    assert "Counting" in page.locator("#control-reason").inner_text()
    screenshot(page, "compliance-control")

    # Both frameworks moved through the one control.
    assert _score(page, "eu-ai-act-2024") > 0
    assert _met(page, "nist-ai-rmf-1.0") > rmf_before
    screenshot(page, "compliance-frameworks-after")

    # Gap analysis: CSV export and tasks; then the OSCAL results.
    page.goto("/compliance/frameworks/eu-ai-act-2024/gaps")
    assert page.locator("table.gap-table tbody tr").count() > 0
    screenshot(page, "compliance-gaps")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.reader(download.value.path().read_text(encoding="utf-8").splitlines()))
    assert rows[0][:4] == ["framework", "requirement", "title", "why"] and len(rows) > 2
    page.get_by_role("button", name="Create tasks").click()
    page.get_by_text(re.compile(r"\d+ tasks created")).wait_for()

    page.goto("/compliance/frameworks/eu-ai-act-2024")
    with page.expect_download() as download:
        page.get_by_role("button", name="OSCAL results").click()
    document = json.loads(download.value.path().read_text(encoding="utf-8"))
    from trestle.oscal.assessment_results import AssessmentResults

    results = AssessmentResults.parse_obj(document["assessment-results"])
    states = {f.target.status.state.value for f in results.results[0].findings}
    assert states == {"satisfied", "not-satisfied"}
    assert errors == [], errors
    context.close()
