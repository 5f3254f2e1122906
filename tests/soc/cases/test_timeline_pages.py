"""The case timeline page: every entry kind, inline add and edit (plain and HTMX), filters, ordering,
exports, sanitised Markdown, and no N+1 on a long timeline."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity.models import User
from app.soc.cases import services, timeline
from app.soc.cases.models import Case, TimelineEntry
from tests import factories

HX = {"HX-Request": "true"}


def _form(page, action_suffix: str):
    forms = [f for f in page.forms.values() if (f.action or "").endswith(action_suffix)]
    assert forms, f"no form posting to …{action_suffix}"
    return forms[0]


def _entries(tenant, case) -> list[TimelineEntry]:
    db.session.expire_all()
    with tenant_context(tenant):
        return list(db.session.scalars(sa.select(TimelineEntry).where(TimelineEntry.case_id == case.id)
                                       .order_by(TimelineEntry.id)))


def _analyst_in(client, zone: str):
    with tenant_context(client.membership.tenant):
        user = db.session.get(User, client.membership.user_id)
        user.timezone = zone
        db.session.commit()


def _rich_case(tenant):
    """A case with one entry of every kind."""
    actor = system_actor(tenant, "seed")
    alert = factories.make_alert(tenant, title="Beacon to 203.0.113.9")
    member = factories.make_member(tenant, role="analyst")
    case = factories.make_case(tenant, template="phishing")
    with tenant_context(tenant):
        case = db.session.get(Case, case.id)
        timeline.add_event(case, actor=actor, occurred_at=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
                           body="User opened the lure", category="initial_access", asset="WS-0042")
        timeline.add_comment(case, actor=actor, body="Looks like **QakBot**")
        services.transition_case(case, "triage", actor=actor)
        services.assign_case(case, member.user, actor=actor)
        services.link_alerts(case, [alert.public_id], actor=actor)
        services.add_attachment(case, actor=actor, filename="mail.eml", content_type="message/rfc822",
                                stream=b"From: a@b")
        services.complete_task(case.tasks[0], actor=actor)
    return case


def test_timeline_shows_every_kind(login_as, tenant_a):
    client = login_as("analyst")
    case = _rich_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}")
    entries = page.pyquery("#timeline-entries > li")
    kinds = {c for li in entries.items() for c in li.attr("class").split() if c.startswith("tl-entry--")}
    assert kinds == {f"tl-entry--{k}" for k in ("event", "comment", "status_change", "assignment", "alert_link",
                                                 "attachment", "task_done")}
    event = page.pyquery(".tl-entry--event")
    assert "Initial access" in event.text() and "WS-0042" in event.text() and "recorded" in event.text()
    assert page.pyquery(".tl-entry--comment strong").text() == "QakBot"
    assert "ALR-" in page.pyquery(".tl-entry--alert_link").text()
    assert "sha256" in page.pyquery(".tl-entry--attachment").text()
    assert "Collect the original message" in page.pyquery(".tl-entry--task_done").text()
    # Event time order: the event of 1 March comes before everything recorded today.
    assert entries.eq(0).hasClass("tl-entry--event")
    for e in _entries(tenant_a, case):
        assert page.pyquery(f"#timeline-entry-{e.public_id}")


def test_add_event_in_the_users_zone_plain_and_htmx(login_as, tenant_a):
    client = login_as("analyst")
    _analyst_in(client, "Europe/Berlin")
    case = factories.make_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}")
    assert "Europe/Berlin" in page.pyquery("#timeline-event-form").text()
    form = _form(page, "/events")
    form["event-occurred_at"] = "2025-03-01T09:15"
    form["event-category"] = "lateral_movement"
    form["event-asset"] = "SRV-DC01"
    form["event-body"] = "RDP from WS-0042"
    res = form.submit(status=303)
    [entry] = _entries(tenant_a, case)
    assert entry.occurred_at == datetime(2025, 3, 1, 8, 15, tzinfo=UTC)  # 09:15 in Berlin (CET)
    assert res.headers["Location"].endswith(f"#timeline-entry-{entry.public_id}")
    assert "09:15" in res.follow().pyquery(f"#timeline-entry-{entry.public_id} time").text()
    # With HTMX: a fresh form, and a timeline-updated event naming the entry, on which the page's
    # #timeline-refresh reloads the timeline (with the toolbar's kinds and order), entry in its place.
    page = client.get(f"/soc/cases/{case.public_id}")
    refresh = page.pyquery("#timeline-refresh")
    assert refresh.attr("hx-trigger") == "timeline-updated from:body" and refresh.attr("hx-include")
    form = _form(page, "/events")
    form["event-occurred_at"], form["event-body"] = "2025-03-01T09:00", "Domain admin added"
    res = form.submit(headers=HX)
    assert res.status_int == 200 and "<html" not in res.text
    assert res.pyquery("form#timeline-event-form textarea").text().strip() == ""
    triggers = json.loads(res.headers["HX-Trigger"])
    assert triggers["flash"]["message"] == "Event added to the timeline."
    added = next(e for e in _entries(tenant_a, case) if e.body == "Domain admin added")
    assert triggers["timeline-updated"] == {"entry": added.public_id}
    timeline = client.get(refresh.attr("hx-get") + "?order=occurred", headers=HX)
    bodies = [li.text() for li in timeline.pyquery("#timeline-entries > li").items()]
    assert "Domain admin added" in bodies[0] and "RDP from WS-0042" in bodies[1]  # 09:00 before 09:15


def test_add_event_with_bad_input_is_422_and_keeps_what_was_typed(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = _form(client.get(f"/soc/cases/{case.public_id}"), "/events")
    form["event-occurred_at"], form["event-body"] = future, "Typed with care"
    res = form.submit(headers=HX, status=422)
    assert res.text.lstrip().startswith('<form id="timeline-event-form"')
    assert "The time is in the future." in res.text and "Typed with care" in res.text
    form = _form(client.get(f"/soc/cases/{case.public_id}"), "/events")
    form["event-body"] = "No time given"
    res = form.submit(status=422)
    assert "<html" in res.text and "Give the time the event happened." in res.text
    assert "No time given" in res.pyquery("#timeline-event-form textarea").text()
    assert _entries(tenant_a, case) == []


def test_comment_markdown_is_sanitised_and_html_shown_as_text(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a, description="[x](javascript:alert(1)) <script>alert(2)</script>")
    page = client.get(f"/soc/cases/{case.public_id}")
    description = page.pyquery(".case-description .markdown")
    assert not description.find("script") and "javascript:" not in (description.find("a").attr("href") or "")
    assert "<script>alert(2)</script>" in description.text()
    form = _form(page, "/comments")
    form["comment-body"] = "<img src=x onerror=alert(3)> **ok** [y](javascript:alert(4))"
    form.submit(headers=HX)
    entry = client.get(f"/soc/cases/{case.public_id}/timeline", headers=HX).pyquery(".tl-entry--comment")
    assert entry.find("strong").text() == "ok"
    assert not entry.find("img") and not entry.find("[onerror]")
    assert "<img src=x onerror=alert(3)>" in entry.text()
    assert "javascript:" not in (entry.find("a").attr("href") or "")
    page = client.get(f"/soc/cases/{case.public_id}")
    assert not page.pyquery(".tl-entry--comment img")
    res = _form(page, "/comments").submit(status=422)
    assert "This cannot be empty." in res.pyquery("#timeline-comment-form").text()


def test_event_text_and_asset_are_plain_text(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    form = _form(client.get(f"/soc/cases/{case.public_id}"), "/events")
    form["event-occurred_at"], form["event-body"] = "2025-01-01T00:00", "<b>bold</b>"
    form["event-asset"] = "<script>x</script>"
    page = form.submit().follow()
    event = page.pyquery(".tl-entry--event")
    assert not event.find("b") and not event.find("script") and "<b>bold</b>" in event.text()


def test_edit_manual_entry_inline_and_without_js(login_as, tenant_a):
    client = login_as("analyst")
    case = _rich_case(tenant_a)
    event = next(e for e in _entries(tenant_a, case) if e.kind.value == "event")
    page = client.get(f"/soc/cases/{case.public_id}")
    link = page.pyquery(f"#timeline-entry-{event.public_id} .tl-edit")
    assert link.attr("hx-target") == "closest li"
    # System entries cannot be edited.
    status_entry = next(e for e in _entries(tenant_a, case) if e.kind.value == "status_change")
    assert not page.pyquery(f"#timeline-entry-{status_entry.public_id} .tl-edit")
    res = client.get(link.attr("hx-get"), headers=HX)
    assert res.text.lstrip().startswith(f'<li id="timeline-entry-{event.public_id}"') and "<html" not in res.text
    form = res.forms[0]
    assert form["edit-occurred_at"].value == "2025-03-01T08:00"
    form["edit-body"], form["edit-occurred_at"] = "User opened the lure twice", "2025-03-01T07:30"
    res = form.submit(headers=HX)
    assert res.status_int == 200 and "User opened the lure twice" in res.text and "(edited)" in res.text
    fresh = next(e for e in _entries(tenant_a, case) if e.id == event.id)
    assert fresh.occurred_at == datetime(2025, 3, 1, 7, 30, tzinfo=UTC) and fresh.edited_at is not None
    # Without JS: the link opens the page with the entry as a form; saving redirects back.
    full = client.get(link.attr("href").split("#")[0])
    assert "<html" in full.text
    form = _form(full, f"/timeline/{event.public_id}")
    form["edit-body"] = ""
    res = form.submit(status=422)
    assert "This cannot be empty." in res.text
    form = _form(res, f"/timeline/{event.public_id}")
    form["edit-body"] = "Final text"
    form.submit(status=303)
    assert next(e for e in _entries(tenant_a, case) if e.id == event.id).body == "Final text"


def test_filter_by_kind_and_toggle_ordering(login_as, tenant_a):
    client = login_as("analyst")
    case = _rich_case(tenant_a)
    url = f"/soc/cases/{case.public_id}/timeline"
    res = client.get(url, {"kind": ["comment", "event"]}, headers=HX)
    assert "<html" not in res.text and res.text.lstrip().startswith('<div id="case-timeline"')
    kinds = [li.attr("class").split()[1] for li in res.pyquery("#timeline-entries > li").items()]
    assert kinds == ["tl-entry--event", "tl-entry--comment"]
    assert res.pyquery('input[name=kind][value=comment]').attr("checked") is not None
    res = client.get(url, {"kind": ["comment", "event"], "order": "recorded"}, headers=HX)
    kinds = [li.attr("class").split()[1] for li in res.pyquery("#timeline-entries > li").items()]
    assert kinds == ["tl-entry--event", "tl-entry--comment"]  # recorded first the event, then the comment
    res = client.get(url, {"order": "recorded"})
    assert "<html" in res.text
    first = res.pyquery("#timeline-entries > li").eq(0)
    assert first.hasClass("tl-entry--event")  # the event was recorded first as well
    res = client.get(url, {"order": "occurred", "kind": "alert_link"})
    assert [li.attr("class").split()[1] for li in res.pyquery("#timeline-entries > li").items()] == [
        "tl-entry--alert_link"]


def test_recorded_order_differs_from_event_order(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    actor = system_actor(tenant_a, "seed")
    with tenant_context(tenant_a):
        c = db.session.get(Case, case.id)
        timeline.add_event(c, actor=actor, occurred_at=datetime(2025, 3, 2, tzinfo=UTC), body="later event")
        timeline.add_event(c, actor=actor, occurred_at=datetime(2025, 3, 1, tzinfo=UTC), body="earlier event")
    url = f"/soc/cases/{case.public_id}/timeline"
    by_event = [li.text() for li in client.get(url, headers=HX).pyquery(".tl-text").items()]
    by_recorded = [li.text() for li in client.get(url, {"order": "recorded"}, headers=HX).pyquery(".tl-text").items()]
    assert by_event == ["earlier event", "later event"] and by_recorded == ["later event", "earlier event"]


def test_exports_are_downloads_with_every_entry(login_as, tenant_a):
    client = login_as("auditor")
    case = _rich_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}")
    csv_url = page.pyquery('a[href*="timeline.csv"]').attr("href")
    res = client.get(csv_url)
    assert res.headers["Content-Disposition"] == f'attachment; filename="{case.reference}-timeline.csv"'
    assert res.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.text)))
    assert len(rows) == len(_entries(tenant_a, case))
    assert rows[0]["kind"] == "event" and rows[0]["asset"] == "WS-0042"
    res = client.get(page.pyquery('a[href*="timeline.json"]').attr("href"))
    assert res.headers["Content-Disposition"] == f'attachment; filename="{case.reference}-timeline.json"'
    data = json.loads(res.text)
    assert data["case"] == case.reference and len(data["entries"]) == len(rows)
    assert any(e["attachment_sha256"] for e in data["entries"])


def test_long_timeline_renders_with_a_fixed_number_of_queries(login_as, tenant_a, app):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)

    def add(n):
        with tenant_context(tenant_a):
            c = db.session.get(Case, case.id)
            for i in range(n):
                timeline.add_comment(c, actor=system_actor(tenant_a, "seed"), body=f"note {i}")

    def count_queries() -> int:
        statements = []

        def listener(*_args):
            statements.append(1)

        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            client.get(f"/soc/cases/{case.public_id}")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    add(5)
    few = count_queries()
    add(60)
    assert count_queries() == few
