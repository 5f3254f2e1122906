"""The SLA clock and its badge: states, human units, and what the queue, alert and case pages show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core.db import db, utcnow
from app.soc.models import AlertSeverity
from app.soc.sla.clock import clock, human_minutes, human_seconds
from app.soc.sla.targets import Target
from tests import factories
from tests.soc.sla_helpers import alert_at, case_at

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CRITICAL = Target(AlertSeverity.CRITICAL, 15, 240)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(("acked", "closed", "now", "state", "kind", "label"), [
    (None, None, 3, "running", "acknowledge", "12 min left"),
    (None, None, 12, "due_soon", "acknowledge", "3 min left"),
    (None, None, 135, "breached", "acknowledge", "breached 2 h ago"),
    (5, None, 60, "running", "resolve", "3 h left"),
    (5, None, 200, "due_soon", "resolve", "40 min left"),
    (5, None, 241, "breached", "resolve", "breached 1 min ago"),
    (30, None, 60, "running", "resolve", "3 h left"),  # acknowledged late: the resolve clock still runs
    (5, 100, 500, "met", "resolve", "met"),
    (20, 100, 500, "missed", "resolve", "missed"),  # acknowledged late, resolved in time
    (5, 300, 500, "missed", "resolve", "missed"),
    (None, 10, 500, "met", "resolve", "met"),  # closed straight from new, in time
])
def test_clock_states(acked, closed, now, state, kind, label):
    c = clock(CRITICAL, created_at=T0, acknowledged_at=at(acked) if acked is not None else None,
              closed_at=at(closed) if closed is not None else None, now=at(now))
    assert (c.state, c.kind, c.label) == (state, kind, label)


def test_no_target_is_no_clock():
    c = clock(Target(AlertSeverity.INFO, None, None), created_at=T0, acknowledged_at=None, closed_at=None, now=at(9e4))
    assert (c.state, c.has_target) == ("none", False)


def test_due_time_is_created_plus_target():
    assert clock(CRITICAL, created_at=T0, acknowledged_at=None, closed_at=None, now=T0).due_at == at(15)
    assert clock(CRITICAL, created_at=T0, acknowledged_at=at(1), closed_at=None, now=T0).due_at == at(240)


@pytest.mark.parametrize(("seconds", "text"), [(5, "5 s"), (720, "12 min"), (3 * 3600 + 1200, "3 h 20 min"),
                                               (14 * 3600 + 60, "14 h"), (52 * 3600, "2 d 4 h"), (12 * 86400, "12 d")])
def test_human_seconds(seconds, text):
    assert human_seconds(seconds) == text


@pytest.mark.parametrize(("minutes", "text"), [(15, "15 min"), (240, "4 h"), (4320, "3 d"), (90, "1 h 30 min"),
                                               (None, "—")])
def test_human_minutes(minutes, text):
    assert human_minutes(minutes) == text


# --- on the pages --------------------------------------------------------------------------


def _badge(res, selector: str) -> str:
    return " ".join(res.pyquery(selector).text().split())


def test_queue_rows_show_each_alerts_clock(login_as, tenant_a):
    now = utcnow()
    fresh = alert_at(tenant_a, severity="critical", created=now - timedelta(minutes=3), title="Fresh")
    late = alert_at(tenant_a, severity="high", created=now - timedelta(hours=3), title="Late")
    done = alert_at(tenant_a, severity="medium", created=now - timedelta(hours=5),
                    acknowledged=now - timedelta(hours=4), closed=now - timedelta(hours=3), title="Done")
    quiet = alert_at(tenant_a, severity="info", created=now - timedelta(days=3), title="Quiet")
    res = login_as("analyst").get("/soc/alerts")
    assert _badge(res, f"#alert-{fresh.public_id} .sla") in ("Ack 11 min left", "Ack 12 min left")
    assert res.pyquery(f"#alert-{fresh.public_id} .sla").has_class("sla--running")
    assert _badge(res, f"#alert-{late.public_id} .sla") == "Ack breached 2 h ago"
    assert _badge(res, f"#alert-{done.public_id} .sla") == "SLA met"
    assert res.pyquery(f"#alert-{quiet.public_id} .sla").length == 0


def test_alert_detail_shows_the_clock_and_updates_on_acknowledge(login_as, tenant_a):
    alert = alert_at(tenant_a, severity="critical", created=utcnow() - timedelta(minutes=5))
    client = login_as("analyst")
    page = client.get(f"/soc/alerts/{alert.public_id}")
    assert _badge(page, "#alert-panel .sla").startswith("Ack ")
    form = page.forms[[k for k, f in page.forms.items() if f.action.endswith("/acknowledge")][0]]
    res = form.submit(headers={"HX-Request": "true"})
    assert "<html" not in res.text
    assert _badge(res, "#alert-panel .sla") in ("Resolve 3 h 54 min left", "Resolve 3 h 55 min left")


def test_alert_without_target_says_so_on_its_page(login_as, tenant_a):
    alert = factories.make_alert(tenant_a, severity="info")
    page = login_as("analyst").get(f"/soc/alerts/{alert.public_id}")
    assert "No SLA target" in page.pyquery("#alert-panel").text()


def test_case_pages_show_the_clock(login_as, tenant_a):
    case = case_at(tenant_a, severity="high", created=utcnow() - timedelta(hours=2))
    client = login_as("analyst")
    detail = client.get(f"/soc/cases/{case.public_id}")
    assert _badge(detail, ".case-meta .sla") == "Ack breached 1 h ago"
    listing = client.get("/soc/cases")
    assert _badge(listing, f"#case-{case.public_id} .sla") == "Ack breached 1 h ago"


def test_assigning_a_case_acknowledges_it(login_as, tenant_a):
    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context
    from app.soc.cases.models import Case
    from app.soc.cases.services import assign_case

    case = factories.make_case(tenant_a, severity="high")
    member = factories.make_member(tenant_a, role="analyst")
    with tenant_context(tenant_a):
        row = db.session.get(Case, case.id)
        assert row.acknowledged_at is None
        assign_case(row, member.user, actor=system_actor(tenant_a, "test"))
        assert row.acknowledged_at is not None and row.status.value == "new"


def _count_queries(client) -> int:
    statements = []

    def listener(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        res = client.get("/soc/alerts")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert res.pyquery(".alert-row .sla").length >= 3
    return len(statements)


def test_queue_badges_cost_no_query_per_row(login_as, tenant_a):
    client = login_as("analyst")
    for _ in range(3):
        factories.make_alert(tenant_a, severity="critical")
    few = _count_queries(client)
    for _ in range(25):
        factories.make_alert(tenant_a, severity="high")
    assert _count_queries(client) == few
