"""The case page's link-alerts search, inline task edit with overdue, timeline paging, and the 413 page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from webtest import Upload

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.soc.cases import queries, timeline
from app.soc.cases.models import Case, CaseTask, TimelineEntry
from app.soc.models import Alert
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}


def _case(tenant, case) -> Case:
    db.session.expire_all()
    with tenant_context(tenant):
        return queries.load_case_detail(case.public_id)


def _alert(tenant, alert) -> Alert:
    db.session.expire_all()
    with tenant_context(tenant):
        return db.session.get(Alert, alert.id)


def _actions(prefix: str) -> list[str]:
    return list(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.action.startswith(prefix))
                                   .order_by(AuditRecord.seq)))


# --- link alerts ---------------------------------------------------------------------------


def test_search_by_number_title_and_observable_then_link_and_unlink(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    beacon = factories.make_alert(tenant_a, title="Beacon to <b>rare</b> domain",
                                  observables=[{"kind": "domain", "value": "evil.example"}])
    other = factories.make_alert(tenant_a, title="Password spray")
    elsewhere = factories.make_alert(tenant_a, title="Password spray again")
    factories.link_alerts(tenant_a, factories.make_case(tenant_a), [elsewhere])
    url = f"/soc/cases/{case.public_id}/alerts"

    def found(q):
        res = client.get(url, {"q": q}, headers=HX)
        assert res.text.lstrip().startswith('<div id="alert-link-results"')
        return res

    assert "evil.example" not in found(beacon.reference).text  # by number: the one alert
    assert [i.attr("value") for i in found(beacon.reference).pyquery("input[name=alert_id]").items()] == \
        [beacon.public_id]
    res = found("EVIL.example")  # by observable, any case
    assert [i.attr("value") for i in res.pyquery("input[name=alert_id]").items()] == [beacon.public_id]
    assert "<b>rare</b>" in res.pyquery("label").text()  # markup shown as text
    res = found("password spray")
    assert [i.attr("value") for i in res.pyquery("input[name=alert_id]").items()] == [other.public_id]
    assert "on CASE-" in res.pyquery("label").text()  # the one already on another case is not offered
    # Link two with HTMX: the panel comes back, the timeline is told to refresh, the alerts move on.
    token = csrf_from(client.get(f"/soc/cases/{case.public_id}"))
    res = client.post(url, {"csrf_token": token, "alert_id": [beacon.public_id, other.public_id]}, headers=HX)
    assert res.text.lstrip().startswith('<article class="side-card" id="case-alerts"')
    assert {beacon.reference, other.reference} <= set(res.pyquery("#case-alerts strong").text().split())
    assert json.loads(res.headers["HX-Trigger"])["timeline-updated"] is True
    assert _alert(tenant_a, beacon).status.value == "in_progress"
    # Unlink without JavaScript: 303 back to the panel; the timeline says so; the alert keeps its status.
    page = client.get(f"/soc/cases/{case.public_id}")
    unlink = [f for f in page.forms.values() if (f.action or "").endswith(f"/alerts/{other.public_id}/unlink")][0]
    assert unlink.submit(status=303).headers["Location"].endswith("#case-alerts")
    page = client.get(f"/soc/cases/{case.public_id}")
    assert other.reference not in page.pyquery("#case-alerts").text()
    assert "Alert unlinked" in page.pyquery(".tl-entry--alert_link").text()
    assert _alert(tenant_a, other).status.value == "in_progress"
    assert _actions("case.alert") == ["case.alerts_linked", "case.alerts_linked", "case.alert_unlinked"]


def test_linking_nothing_or_a_taken_alert_is_refused_in_the_panel(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    taken = factories.make_alert(tenant_a)
    factories.link_alerts(tenant_a, factories.make_case(tenant_a), [taken])
    url = f"/soc/cases/{case.public_id}/alerts"
    token = csrf_from(client.get(f"/soc/cases/{case.public_id}"))
    res = client.post(url, {"csrf_token": token}, headers=HX, status=422)
    assert "Name at least one alert." in res.pyquery("#case-alerts .form-error").text()
    res = client.post(url, {"csrf_token": token, "alert_id": taken.public_id}, status=409)
    assert "Already linked to another case" in res.pyquery("#case-alerts").text()


def test_search_without_javascript_opens_the_case_page_with_results(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    alert = factories.make_alert(tenant_a, title="Impossible travel")
    page = client.get(f"/soc/cases/{case.public_id}/alerts", {"q": "impossible"})
    assert "<html" in page.text and page.pyquery("details.link-alerts").attr("open") is not None
    assert page.pyquery(f"#link-{alert.public_id}")


# --- tasks ---------------------------------------------------------------------------------


def test_task_assignee_and_due_edit_inline_and_overdue_is_marked(login_as, tenant_a):
    client = login_as("analyst")
    colleague = factories.make_member(tenant_a, role="analyst", name="Cole League")
    case = factories.make_case(tenant_a, template="phishing")
    task = _case(tenant_a, case).tasks[0]
    edit_url = f"/soc/cases/{case.public_id}/tasks?edit={task.public_id}"
    res = client.get(edit_url, headers=HX)
    assert res.text.lstrip().startswith(f'<li id="task-{task.public_id}" class="task task--editing"')
    form = res.forms[0]
    prefix = f"task-{task.public_id[:8]}"
    form[f"{prefix}-assignee"] = colleague.user.public_id
    form[f"{prefix}-due_at"] = "2020-01-01T09:00"  # in the past: overdue at once
    res = form.submit(headers=HX)
    assert res.text.lstrip().startswith(f'<li id="task-{task.public_id}" class="task')
    assert "is-overdue" in res.pyquery("li").attr("class")
    assert "Cole League" in res.text and "Overdue" in res.pyquery(".task-due").text()
    fresh = _case(tenant_a, case).tasks[0]
    assert fresh.assignee_id == colleague.user_id and fresh.due_at == datetime(2020, 1, 1, 9, tzinfo=UTC)
    page = client.get(f"/soc/cases/{case.public_id}")
    assert page.pyquery("#case-tasks .overdue-count").text() == "1 overdue"
    [record] = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "case.task_updated"))
    assert record.after["assignee"] == colleague.user.email and record.before["due_at"] is None
    # Without JavaScript the edit link opens the case page with that task's form in place.
    page = client.get(edit_url)
    assert "<html" in page.text and page.pyquery(f"#task-{task.public_id} form")
    form = [f for f in page.forms.values() if (f.action or "").endswith(f"/tasks/{task.public_id}")][0]
    form[f"{prefix}-title"] = ""
    res = form.submit(status=422)
    assert "A title is required." in res.pyquery(f"#task-{task.public_id}").text()
    form = res.forms[[k for k, f in res.forms.items() if (f.action or "").endswith(f"/tasks/{task.public_id}")][0]]
    form[f"{prefix}-title"] = "Pull the mail headers"
    form[f"{prefix}-due_at"] = ""
    form.submit(status=303)
    fresh = _case(tenant_a, case).tasks[0]
    assert fresh.title == "Pull the mail headers" and fresh.due_at is None and not fresh.is_overdue


def test_done_tasks_are_never_overdue(tenant_a):
    task = CaseTask(title="x", due_at=datetime.now(UTC) - timedelta(days=1))
    assert task.is_overdue
    task.done_at = datetime.now(UTC)
    assert not task.is_overdue


# --- timeline paging -----------------------------------------------------------------------


def test_long_timeline_pages_with_load_more_and_drops_nothing(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with tenant_context(tenant_a):
        fresh = db.session.get(Case, case.id)
        actor = system_actor(tenant_a, "t")
        for n in range(queries.TIMELINE_PAGE + 30):
            timeline.write_entry(fresh, timeline.TimelineKind.EVENT, actor=actor, body=f"step {n:03d}",
                                 occurred_at=start + timedelta(minutes=n))
        db.session.commit()
    page = client.get(f"/soc/cases/{case.public_id}")
    entries = page.pyquery("#timeline-entries > li.tl-entry")
    assert len(entries) == queries.TIMELINE_PAGE
    assert f"{queries.TIMELINE_PAGE + 30:,} entries" in page.pyquery(".timeline-summary").text()
    more = page.pyquery("#timeline-more a")
    assert "Load 30 more" in more.text() and "30 not shown yet" in page.pyquery("#timeline-more").text()
    res = client.get(more.attr("hx-get"), headers=HX)
    bodies = [li.find(".tl-text").text() for li in res.pyquery("li.tl-entry").items()]
    assert bodies == [f"step {n:03d}" for n in range(queries.TIMELINE_PAGE, queries.TIMELINE_PAGE + 30)]
    assert not res.pyquery("#timeline-more")
    # Without JavaScript, the same link is the page from that point, with a way back.
    page = client.get(more.attr("href").split("#")[0])
    assert "<html" in page.text and "back to the first" in page.pyquery(".timeline-summary").text()
    # The exports hold every entry.
    export = client.get(f"/soc/cases/{case.public_id}/timeline.json").json
    assert len(export["entries"]) == queries.TIMELINE_PAGE + 30
    with tenant_context(tenant_a):
        assert len(db.session.scalars(sa.select(TimelineEntry.id)).all()) == queries.TIMELINE_PAGE + 30


def test_a_mangled_cursor_starts_from_the_beginning(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}/timeline", {"cursor": "not-a-cursor"})
    assert page.status_int == 200 and "<html" in page.text


# --- evidence over the request limit -------------------------------------------------------


def test_a_body_over_the_request_limit_is_413_with_a_clear_page(login_as, tenant_a, app):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    form = [f for f in client.get(f"/soc/cases/{case.public_id}").forms.values()
            if (f.action or "").endswith("/attachments")][0]
    form["file"] = Upload("huge.txt", b"x" * 4096, "text/plain")
    original = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        res = form.submit(status=413)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = original
    assert "too large to attach" in res.pyquery("#error").text() and "Nothing was stored." in res.text
    assert res.pyquery("#error a").attr("href").endswith(f"/soc/cases/{case.public_id}#case-evidence")
