"""Done-when, in Chromium: an OCSF batch ingested through the API with an API key becomes, in the browser,
a case that an analyst works to closed with a full timeline; every change is in the audit log.

Screenshots (1280 and 390 px) land in test-artifacts/browser/ (gitignored).
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from app.demo import DEMO_PASSWORD
from tests.browser.live import sign_in

ANALYST = "analyst@acme.test"
SOURCE = "Walkthrough EDR"
EVIDENCE = b"Received: from mail.evil.example\nSubject: Invoice 4471\n\n(macro-enabled attachment)\n"


def _finding(at_ms: int, title: str, rule: str, severity_id: int, ip: str) -> dict:
    return {
        "class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401, "time": at_ms,
        "severity_id": severity_id, "metadata": {"version": "1.3.0", "product": {"name": SOURCE}},
        "finding_info": {"uid": f"wt-{rule}", "title": title, "analytic": {"name": rule, "type_id": 1}},
        "device": {"hostname": "WS-0042.corp.example"},
        "observables": [{"name": "dst_endpoint.ip", "type_id": 2, "value": ip}],
    }


def _ingest(live_server, playwright_request) -> dict:
    """The connector's side: an API key with alerts:write, and one batch through the API."""
    from app.core.actors import system_actor
    from app.core.db import db
    from app.core.tenancy import Tenant, tenant_context
    from app.identity.api_keys import create_api_key

    with live_server.app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "acme"))
        with tenant_context(tenant):
            _key, raw = create_api_key(actor=system_actor(tenant, "walkthrough"), name="Walkthrough EDR",
                                       scopes=["alerts:write"])
    now = int(time.time() * 1000)
    events = [
        _finding(now - 50 * 60_000, "Macro-enabled attachment spawned PowerShell", "WT-Office-Child", 4,
                 "203.0.113.50"),
        _finding(now - 45 * 60_000, "Encoded PowerShell download cradle", "WT-PS-Cradle", 4, "203.0.113.51"),
        _finding(now - 44 * 60_000, "Encoded PowerShell download cradle", "WT-PS-Cradle", 4, "203.0.113.51"),
        _finding(now - 30 * 60_000, "Beacon to rare domain", "WT-Beacon", 3, "203.0.113.52"),
        {"class_uid": 2004, "severity_id": 4},
    ]
    res = playwright_request.post(f"{live_server.url}/api/v1/alerts/submit", data={"events": events},
                                  headers={"Authorization": f"Bearer {raw}"})
    assert res.status == 200, res.text()
    data = res.json()["data"]
    assert [r["status"] for r in data["results"]] == ["created", "created", "deduplicated", "created", "rejected"]
    return data


def _wait_count(locator, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while locator.count() != count:
        assert time.monotonic() < deadline, f"expected {count}, have {locator.count()}"
        time.sleep(0.05)


def test_analyst_takes_an_ingested_batch_to_a_closed_case(page, live_server, screenshot):
    baseline = _last_audit_seq(live_server)
    batch = _ingest(live_server, page.context.request)
    beacon_ref = f"ALR-{batch['results'][3]['alert_number']}"
    started = datetime.now().astimezone()

    # The queue: filter to the connector's high alerts, select both with the keyboard, open a case with "c".
    sign_in(page, live_server.url, ANALYST, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/soc/alerts")
    page.select_option("#queue-source", SOURCE)
    page.locator("#queue-filters input[name=severity][value=high]").check()
    rows = page.locator("#alert-rows tr.alert-row")
    _wait_count(rows, 2)
    pushed = parse_qs(urlsplit(page.url).query)
    assert pushed["source"] == [SOURCE] and pushed["severity"] == ["high"]  # the URL is the view: bookmarkable
    screenshot(page, "soc-queue-filtered")
    page.locator("main h1, main").first.click(position={"x": 1, "y": 1})  # focus out of the filters
    for key in ("j", "x", "j", "x"):
        page.keyboard.press(key)
    assert page.locator("#alert-rows input[name=alert_id]:checked").count() == 2
    page.keyboard.press("c")
    page.wait_for_url(re.compile(r"/soc/alerts/bulk/case$"))
    page.get_by_label("Case title").fill("Macro dropper on WS-0042")
    page.get_by_label("Template").select_option("phishing")
    page.get_by_role("button", name="Open case").click()
    page.wait_for_url(re.compile(r"/soc/cases/[0-9a-f-]+$"))
    assert re.search(r"CASE-\d+ opened with 2 alerts\.", page.locator("#flash").inner_text())
    case_url = page.url
    case_id = case_url.rsplit("/", 1)[1]
    reference = page.locator(".case-ref").inner_text().strip()
    assert page.locator("#case-alerts .linked-alerts li").count() == 2

    # Timeline: two events at the time they happened (not when typed), and a comment.
    for when, category, asset, body in [
        (started - timedelta(minutes=55), "initial_access", "jdoe@corp.example", "Invoice 4471 opened from email"),
        (started - timedelta(minutes=50), "execution", "WS-0042", "winword.exe spawned powershell -enc"),
    ]:
        if page.locator("details.timeline-add-event").get_attribute("open") is None:
            page.locator("details.timeline-add-event > summary").click()
        page.locator("#event-occurred_at").fill(when.strftime("%Y-%m-%dT%H:%M"))
        page.locator("#event-category").select_option(category)
        page.locator("#event-asset").fill(asset)
        page.locator("#event-body").fill(body)
        page.locator("#timeline-event-form button[type=submit]").click()
        page.locator(".tl-entry--event", has_text=body).wait_for()
    page.locator("#comment-body").fill("Mail gateway **missed** the macro; <script>alert(1)</script> stays text.")
    page.get_by_role("button", name="Comment").click()
    comment = page.locator(".tl-entry--comment").last
    comment.wait_for()
    assert comment.locator("strong").inner_text() == "missed" and "<script>alert(1)</script>" in comment.inner_text()

    # Evidence: uploaded, shown with its sha256.
    page.set_input_files("#evidence-file", files=[{"name": "invoice-4471.eml", "mimeType": "message/rfc822",
                                                   "buffer": EVIDENCE}])
    page.get_by_role("button", name="Upload").click()
    page.locator("#case-evidence", has_text=hashlib.sha256(EVIDENCE).hexdigest()).wait_for()

    # Tasks: give the first one a due time and an owner inline, then tick every task off.
    first = page.locator("#case-tasks li.task").first
    first.get_by_role("link", name=re.compile("Edit task")).click()
    editing = page.locator("#case-tasks li.task--editing")
    editing.locator("select").select_option(label="Ana Lyst")
    editing.locator("input[type=datetime-local]").fill((started + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    editing.get_by_role("button", name="Save").click()
    page.locator("#case-tasks li.task .task-assignee", has_text="Ana Lyst").first.wait_for()
    total = page.locator("#case-tasks li.task").count()
    assert total >= 5
    for left in range(total, 0, -1):
        page.locator("#case-tasks li.task:not(.is-done) button.task-check").first.click()
        _wait_count(page.locator("#case-tasks li.task:not(.is-done)"), left - 1)
    page.wait_for_load_state("networkidle")  # the timeline's refresh, before the screenshot reloads the page
    screenshot(page, "soc-case-investigating")

    # Link another alert by its number.
    page.locator("details.link-alerts > summary").click()
    page.locator("#link-q").fill(beacon_ref)
    page.locator("#alert-link-results input[name=alert_id]").first.check()
    page.get_by_role("button", name="Link selected").click()
    page.locator("#case-alerts .linked-alerts", has_text=beacon_ref).wait_for()
    page.locator(".tl-entry--alert_link", has_text=beacon_ref).wait_for()
    page.wait_for_load_state("networkidle")

    # The state machine, step by step, to closed with a resolution summary.
    for step in ("triage", "investigating", "contained", "eradicated", "recovered"):
        page.get_by_role("button", name=f"Move to {step}").click()
        page.locator(".status-steps li.is-current", has_text=step).wait_for()
    page.get_by_role("button", name="Close…").or_(page.get_by_role("link", name="Close…")).click()
    page.get_by_label("Resolution summary").fill("Dropper removed, WS-0042 reimaged, account reset; gateway rule "
                                                 "added for macro-enabled invoices.")
    page.get_by_role("button", name=f"Close {reference}").click()
    page.wait_for_url(case_url)
    page.locator(".status-steps li.is-current", has_text="closed").wait_for()
    assert "Dropper removed" in page.locator(".case-resolution").inner_text()
    screenshot(page, "soc-case-closed")

    kinds = set(page.locator("#timeline-entries > li.tl-entry").evaluate_all(
        "els => els.map(e => [...e.classList].find(c => c.startsWith('tl-entry--')))"))
    assert {"tl-entry--event", "tl-entry--comment", "tl-entry--attachment", "tl-entry--task_done",
            "tl-entry--alert_link", "tl-entry--status_change"} <= kinds
    # A request cancelled by the next navigation (htmx:sendAbort, then its afterRequest) is not a fault;
    # a failed response (htmx:responseError), a swap error or a CSP block is.
    aborted = ("htmx:sendAbort", "htmx:afterRequest")
    blocked = [m for m in page.console_messages if "Content Security Policy" in m
               or (m.startswith("error") and not any(a in m for a in aborted))]
    assert blocked == [] and page.page_errors == [], (blocked, page.page_errors)

    _assert_audited(live_server, case_id, total, after_seq=baseline)


def _last_audit_seq(live_server) -> int:
    from app.core.audit import AuditRecord
    from app.core.db import db
    from app.core.tenancy import Tenant

    with live_server.app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "acme"))
        return db.session.scalar(sa.select(sa.func.max(AuditRecord.seq)).where(
            AuditRecord.chain == str(tenant.id))) or 0


def _assert_audited(live_server, case_id: str, tasks: int, *, after_seq: int) -> None:
    """Every change above has its record in the tenant's audit log, and the hash chain is intact."""
    from app.core import audit
    from app.core.audit import AuditRecord
    from app.core.db import db
    from app.core.tenancy import Tenant

    with live_server.app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "acme"))
        on_case = [r.action for r in db.session.scalars(
            sa.select(AuditRecord).where(AuditRecord.chain == str(tenant.id), AuditRecord.target_id == case_id))]
        expected = {"case.created": 1, "case.alerts_linked": 2, "case.timeline_event_added": 2, "case.commented": 1,
                    "case.attachment_added": 1, "case.task_updated": 1, "case.task_completed": tasks,
                    "case.status_changed": 5, "case.closed": 1}
        assert {a: on_case.count(a) for a in expected} == expected
        since = db.session.scalars(sa.select(AuditRecord).where(
            AuditRecord.chain == str(tenant.id), AuditRecord.seq > after_seq)).all()
        [batch] = [r for r in since if r.action == "alert.batch_ingested"]
        assert (batch.after["created"], batch.after["deduplicated"], batch.after["rejected"]) == (3, 1, 1)
        assert [r.action for r in since].count("alert.started") == 3  # linking moved each alert on
        assert audit.verify(tenant).ok
