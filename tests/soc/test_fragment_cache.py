"""Queue rows and timeline entries come from the fragment cache (core/fragments.py) once rendered:
whatever changes what a row shows must show at once, for every viewer as they should see it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from markupsafe import Markup

from app.core.actors import system_actor
from app.core.db import db
from app.core.fragments import FragmentCache
from app.core.tenancy import tenant_context
from app.identity.models import User
from app.soc import services
from app.soc.cases import timeline
from app.soc.cases.models import Case, TimelineEntry
from app.soc.models import Alert
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}


def _row(page, alert):
    return page.pyquery(f"#alert-{alert.public_id}")


def _in_tenant(tenant, fn):
    with tenant_context(tenant):
        result = fn()
        db.session.commit()
    db.session.expire_all()
    return result


def test_cache_renders_once_per_key_and_drops_the_oldest_when_full():
    cache, calls = FragmentCache(maxsize=8), []

    def make(text):
        return lambda: calls.append(text) or Markup(text)  # noqa: S704 (test literals)

    assert cache.render(("row", 1), make("<tr>1</tr>")) == "<tr>1</tr>"
    assert cache.render(("row", 1), make("<tr>other</tr>")) == "<tr>1</tr>"  # same key: not rendered again
    assert calls == ["<tr>1</tr>"] and (cache.hits, cache.misses) == (1, 1)
    for n in range(2, 10):
        cache.render(("row", n), make(f"<tr>{n}</tr>"))
    assert len(cache) <= 8 and cache.render(("row", 9), make("x")) == "<tr>9</tr>"
    cache.render(("row", 1), make("<tr>1 again</tr>"))  # the oldest was dropped: rendered afresh
    assert calls[-1] == "<tr>1 again</tr>"


def test_disabled_cache_always_renders():
    cache = FragmentCache(enabled=False)
    cache.render("k", lambda: Markup("a"))
    assert cache.render("k", lambda: Markup("b")) == "b" and len(cache) == 0


def test_a_cached_queue_row_shows_each_change(app, login_as, tenant_a):
    alert = factories.make_alert(tenant_a, title="Beacon to 203.0.113.9", severity="high", source="EDR")
    client = login_as("analyst")
    first = client.get("/soc/alerts")
    assert _row(first, alert).find(".status--new").text() == "New"
    cache = app.extensions["vigil_fragments"]
    hits = cache.hits
    assert _row(client.get("/soc/alerts"), alert).find(".status--new")  # the second view is served from the cache
    assert cache.hits > hits

    actor = system_actor(tenant_a, "test")
    member = factories.make_member(tenant_a, role="analyst", name="Ada Analyst")
    _in_tenant(tenant_a, lambda: services.acknowledge_alert(db.session.get(Alert, alert.id), actor=actor))
    assert _row(client.get("/soc/alerts"), alert).find(".status--acknowledged").text() == "Acknowledged"
    _in_tenant(tenant_a, lambda: services.assign_alert(db.session.get(Alert, alert.id), member, actor=actor))
    assert _row(client.get("/soc/alerts"), alert).find(".cell-assignee").text() == "Ada Analyst"
    # The assignee renames themselves: not a change of the alert, still a change of its row.
    _in_tenant(tenant_a, lambda: setattr(db.session.get(User, member.user_id), "name", "Ada Lovelace"))
    assert _row(client.get("/soc/alerts"), alert).find(".cell-assignee").text() == "Ada Lovelace"


def test_viewers_get_their_own_rendering_of_the_same_row(login_as, tenant_a):
    alert = factories.make_alert(tenant_a, title="Impossible travel", seen_at="2025-06-01T12:00:00+00:00")
    analyst = login_as("analyst")
    auditor = login_as("auditor")
    assert _row(analyst.get("/soc/alerts"), alert).find("input[type=checkbox]")  # may triage
    assert not _row(auditor.get("/soc/alerts"), alert).find("input[type=checkbox]")  # read-only
    with tenant_context(tenant_a):
        db.session.get(User, auditor.membership.user_id).timezone = "Asia/Tokyo"
        db.session.commit()
    assert _row(analyst.get("/soc/alerts"), alert).find("time").text() == "01 Jun 12:00 UTC"
    assert _row(auditor.get("/soc/alerts"), alert).find("time").text() == "01 Jun 21:00 JST"
    # A ticked row (kept across a failed bulk action) is its own rendering too.
    page = analyst.get("/soc/alerts")
    res = analyst.post("/soc/alerts/bulk/close", [("csrf_token", csrf_from(page)), ("next", ""),
                                                  ("alert_id", alert.public_id)], headers=HX, status=422)
    assert _row(res, alert).find("input[type=checkbox]").attr("checked") is not None
    assert _row(analyst.get("/soc/alerts"), alert).find("input[type=checkbox]").attr("checked") is None


def test_a_cached_timeline_entry_shows_its_edit(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a, template="phishing")
    actor = system_actor(tenant_a, "seed")
    entry = _in_tenant(tenant_a, lambda: timeline.add_event(
        db.session.get(Case, case.id), actor=actor, occurred_at=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
        body="User opened the lure", category="initial_access", asset="WS-0042"))
    url = f"/soc/cases/{case.public_id}"
    assert "User opened the lure" in client.get(url).pyquery(f"#timeline-entry-{entry.public_id}").text()
    client.get(url)  # cached now

    def edit():
        row = db.session.scalar(sa.select(TimelineEntry).where(TimelineEntry.id == entry.id))
        timeline.edit_entry(row, actor=actor, body="User opened the lure twice", occurred_at=row.occurred_at,
                            category="initial_access", asset="WS-0042")

    _in_tenant(tenant_a, edit)
    shown = client.get(url).pyquery(f"#timeline-entry-{entry.public_id}")
    assert "User opened the lure twice" in shown.text() and "(edited)" in shown.text()
