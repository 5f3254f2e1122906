"""The alert queue page: filters in the URL, sorting, cursor paging, bulk triage, the new-alerts poll."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core.db import db
from app.core.tenancy import tenant_context
from app.soc.models import Alert
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}


def _refs(res) -> list[str]:
    return [a.text() for a in res.pyquery("#alert-rows td.cell-ref a").items()]


def _fresh(alert) -> Alert:
    db.session.expire_all()
    with tenant_context(alert_tenant(alert)):
        return db.session.scalar(sa.select(Alert).where(Alert.id == alert.id))


def alert_tenant(alert):
    from app.core.tenancy import Tenant

    return db.session.get(Tenant, alert.tenant_id)


def _bulk(client, page, action: str, alerts, headers=None, status="*", **fields):
    data = [("csrf_token", csrf_from(page)), ("next", page.pyquery("#bulk-form input[name=next]").val() or "")]
    data += [("alert_id", a.public_id) for a in alerts] + list(fields.items())
    return client.post(f"/soc/alerts/bulk/{action}", data, headers=headers or {}, status=status)


@pytest.fixture
def mixed(tenant_a):
    """Five alerts that differ in each filterable field."""
    now = datetime.now(UTC)
    return {
        "crit": factories.make_alert(tenant_a, title="Ransomware note dropped", severity="critical", source="EDR",
                                     observables=[{"kind": "ip", "value": "203.0.113.7"}],
                                     seen_at=(now - timedelta(minutes=5)).isoformat()),
        "high": factories.make_alert(tenant_a, title="Impossible travel", severity="high", source="Okta",
                                     observables=[{"kind": "user", "value": "jdoe"}],
                                     seen_at=(now - timedelta(hours=3)).isoformat()),
        "med": factories.make_alert(tenant_a, title="Port scan", severity="medium", source="Suricata",
                                    observables=[{"kind": "ip", "value": "198.51.100.23"}],
                                    seen_at=(now - timedelta(days=3)).isoformat()),
        "low": factories.make_alert(tenant_a, title="New admin group member", severity="low", source="Okta",
                                    seen_at=(now - timedelta(days=10)).isoformat()),
        "info": factories.make_alert(tenant_a, title="Scanner heartbeat", severity="info", source="EDR",
                                     seen_at=(now - timedelta(days=40)).isoformat()),
    }


# --- the page and its filters --------------------------------------------------------------


def test_queue_lists_alerts_newest_first_with_their_columns(login_as, mixed):
    page = login_as("analyst").get("/soc/alerts")
    assert _refs(page) == [mixed[k].reference for k in ("crit", "high", "med", "low", "info")]
    row = page.pyquery(f"#alert-{mixed['crit'].public_id}")
    assert row.find(".sev--critical").text() == "Critical"
    assert row.find(".status--new").text() == "New"
    assert row.find('a.chip[href="/soc/alerts?q=203.0.113.7"]')
    assert row.find("td.cell-source").text() == "EDR"
    assert page.pyquery('nav a[href="/soc/alerts"]').attr("aria-current") == "page"


@pytest.mark.parametrize(("query", "expected"), [
    ("status=new", ["crit", "high", "med", "low", "info"]),
    ("severity=critical&severity=high", ["crit", "high"]),
    ("source=Okta", ["high", "low"]),
    ("window=24h", ["crit", "high"]),
    ("window=7d&severity=medium", ["med"]),
    ("q=ransomware", ["crit"]),
    ("q=198.51.100", ["med"]),
    ("assignee=unassigned&source=EDR", ["crit", "info"]),
])
def test_each_filter_narrows_the_queue(login_as, mixed, query, expected):
    page = login_as("responder").get(f"/soc/alerts?{query}")
    assert _refs(page) == [mixed[k].reference for k in expected]


def test_filters_round_trip_through_the_url(login_as, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    form = page.forms["queue-filters"]
    form["q"] = "port"
    form.set("severity", True, index=2)  # medium
    form["window"] = "7d"
    res = form.submit()
    assert "q=port" in res.request.url and "severity=medium" in res.request.url and "window=7d" in res.request.url
    assert _refs(res) == [mixed["med"].reference]
    # The page reflects the filter, and its sort links keep it.
    assert res.pyquery("#queue-q").val() == "port"
    assert res.pyquery('input[name=severity][value=medium]').attr("checked") is not None
    sort_link = res.pyquery('a.sort-link:contains("Severity")').attr("href")
    assert "q=port" in sort_link and "sort=severity" in sort_link
    assert _refs(client.get(sort_link)) == [mixed["med"].reference]


def test_assignee_me_shows_my_alerts(login_as, tenant_a, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    _bulk(client, page, "assign", [mixed["med"]], assign_to_me="1", status=303)
    assert _refs(client.get("/soc/alerts?assignee=me")) == [mixed["med"].reference]
    user_id = client.membership.user.public_id
    assert _refs(client.get(f"/soc/alerts?assignee={user_id}")) == [mixed["med"].reference]


def test_invalid_filter_is_422_with_the_message_next_to_it(login_as, mixed):
    client = login_as("analyst")
    res = client.get("/soc/alerts?severity=apocalyptic&window=3y", status=422)
    assert "Unknown severity 'apocalyptic'" in res.pyquery("#queue-severity-error").text()
    assert "Unknown time window" in res.pyquery("#queue-window-error").text()
    assert not res.pyquery("#alert-rows")
    hx = client.get("/soc/alerts?severity=apocalyptic", headers=HX, status=422)
    assert "<html" not in hx.text and "Unknown severity" in hx.text


def test_htmx_filter_gets_the_results_fragment_and_plain_gets_the_page(login_as, mixed):
    client = login_as("analyst")
    hx = client.get("/soc/alerts?source=Okta", headers=HX)
    assert "<html" not in hx.text
    assert hx.text.lstrip().startswith('<section id="alert-results"')
    assert "HX-Request" in hx.headers["Vary"]
    assert _refs(hx) == [mixed["high"].reference, mixed["low"].reference]
    page = client.get("/soc/alerts?source=Okta")
    assert "<html" in page.text and page.pyquery("#queue-filters") and "HX-Request" in page.headers["Vary"]


# --- sorting and paging --------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["last_seen", "severity", "number"])
def test_load_more_pages_through_every_alert_once(login_as, tenant_a, sort):
    severities = ["info", "low", "medium", "high", "critical"]
    made = [factories.make_alert(tenant_a, severity=severities[i % 5], title=f"Alert {i}") for i in range(123)]
    client = login_as("analyst")
    page = client.get(f"/soc/alerts?sort={sort}")
    seen = _refs(page)
    assert len(seen) == 50
    more = page.pyquery("#alert-more a")
    while more:
        # Without JS the link opens the queue at the cursor; with HTMX the rows endpoint appends.
        assert client.get(more.attr("href")).status_int == 200
        res = client.get(more.attr("hx-get"), headers=HX)
        assert "<html" not in res.text and "<table" not in res.text
        seen += [a.text() for a in res.pyquery("td.cell-ref a").items()]
        more = res.pyquery("#alert-more a")
    assert sorted(seen) == sorted(a.reference for a in made)
    assert len(set(seen)) == len(seen)
    if sort == "number":
        assert seen == [f"ALR-{n}" for n in range(123, 0, -1)]
    if sort == "severity":
        critical = [a.reference for a in reversed(made) if a.severity.value == "critical"]
        assert seen[:len(critical)] == critical


def test_a_forged_cursor_is_422(login_as, mixed):
    res = login_as("analyst").get("/soc/alerts?cursor=bm9wZQ", status=422)
    assert "cursor is not valid" in res.text


# --- bulk actions --------------------------------------------------------------------------


def test_bulk_acknowledge_without_js_redirects_back_to_the_filtered_queue(login_as, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts?source=Okta")
    form = page.forms["bulk-form"]
    for box in page.pyquery("#alert-rows input[name=alert_id]").items():
        assert box.attr("form") == "bulk-form"
    # WebTest only sees fields inside the <form>; a browser adds the form="bulk-form" checkboxes.
    res = _bulk(client, page, "acknowledge", [mixed["high"], mixed["low"]], status=303)
    assert res.headers["Location"].endswith("/soc/alerts?source=Okta")
    assert form.action == "/soc/alerts/bulk/acknowledge"
    after = res.follow()
    assert "2 alerts acknowledged." in after.text
    assert _fresh(mixed["high"]).status.value == "acknowledged"
    assert _fresh(mixed["crit"]).status.value == "new"


def test_bulk_acknowledge_with_htmx_swaps_the_results_and_flashes(login_as, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    res = _bulk(client, page, "acknowledge", [mixed["crit"]], headers=HX, status=200)
    assert "<html" not in res.text and res.text.lstrip().startswith('<section id="alert-results"')
    trigger = json.loads(res.headers["HX-Trigger"])
    assert trigger["flash"]["message"] == "1 alert acknowledged."
    assert "alerts-updated" in trigger
    assert res.pyquery(f"#alert-{mixed['crit'].public_id} .status").text() == "Acknowledged"


def test_bulk_assign_to_a_member_and_unassign(login_as, tenant_a, mixed):
    client = login_as("analyst")
    other = factories.make_member(tenant_a, role="responder", name="Rhea Sponder")
    page = client.get("/soc/alerts")
    assert page.pyquery(f'#bulk-assignee option[value="{other.user.public_id}"]')
    res = _bulk(client, page, "assign", [mixed["crit"], mixed["high"]], headers=HX, status=200,
                assignee=other.user.public_id)
    assert res.pyquery(f"#alert-{mixed['crit'].public_id} .cell-assignee").text() == "Rhea Sponder"
    assert _fresh(mixed["high"]).assignee_id == other.user_id
    _bulk(client, page, "assign", [mixed["crit"]], assignee="unassigned", status=303)
    assert _fresh(mixed["crit"]).assignee_id is None
    # No choice at all is a 422 beside the select.
    res = _bulk(client, page, "assign", [mixed["crit"]], assignee="", status=422)
    assert "Choose who to assign" in res.pyquery("#bulk-assignee-error").text()


def test_bulk_close_with_reason(login_as, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    res = _bulk(client, page, "close", [mixed["med"], mixed["low"]], close_reason="false_positive", status=303)
    assert "2 alerts closed." in res.follow().text
    closed = _fresh(mixed["med"])
    assert closed.status.value == "closed" and closed.close_reason.value == "false_positive"


@pytest.mark.parametrize("headers", [{}, HX])
def test_bulk_close_without_reason_is_422_and_changes_nothing(login_as, mixed, headers):
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    res = _bulk(client, page, "close", [mixed["crit"], mixed["high"]], headers=headers, close_reason="",
                status=422)
    assert "Choose a reason" in res.pyquery("#bulk-close_reason-error").text()
    # The selection survives, so the analyst only picks the reason and submits again.
    assert res.pyquery(f"#alert-{mixed['crit'].public_id} input[name=alert_id]").attr("checked") is not None
    assert ("<html" in res.text) is (not headers)
    assert _fresh(mixed["crit"]).status.value == "new" and _fresh(mixed["high"]).status.value == "new"


def test_bulk_without_selection_is_422(login_as, mixed):
    client = login_as("analyst")
    res = _bulk(client, client.get("/soc/alerts"), "acknowledge", [], status=422)
    assert "Select at least one alert." in res.text


def test_bulk_actions_need_alert_write(login_as, mixed):
    client = login_as("responder")
    page = client.get("/soc/alerts")
    assert not page.pyquery("#bulk-form") and not page.pyquery("input[name=alert_id]")
    _bulk(client, page, "acknowledge", [mixed["crit"]], status=403)
    assert _fresh(mixed["crit"]).status.value == "new"


def test_create_case_from_selection_is_a_two_step_page(login_as, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    step = _bulk(client, page, "case", [mixed["crit"], mixed["med"]], status=200)
    assert step.pyquery("#title").val() == "Ransomware note dropped (+1 alerts)"
    assert step.pyquery("#severity option[selected]").attr("value") == "critical"
    form = next(f for f in step.forms.values() if f.action == "/soc/alerts/bulk/case")
    form["title"] = "Ransomware on WS-42"
    res = form.submit(status=303)
    assert "CASE-1 opened with 2 alerts." in res.follow().text
    assert _fresh(mixed["crit"]).status.value == "in_progress"
    from app.soc.cases.models import Case

    with tenant_context(alert_tenant(mixed["crit"])):
        case = db.session.scalar(sa.select(Case))
        assert case.title == "Ransomware on WS-42"


def test_add_to_case_by_number(login_as, tenant_a, mixed):
    case = factories.make_case(tenant_a, title="Okta anomalies")
    client = login_as("analyst")
    page = client.get("/soc/alerts")
    res = _bulk(client, page, "add-to-case", [mixed["high"]], headers=HX, status=200, case=case.reference)
    assert json.loads(res.headers["HX-Trigger"])["flash"]["message"] == "1 alert added to the case."
    assert _fresh(mixed["high"]).status.value == "in_progress"
    res = _bulk(client, page, "add-to-case", [mixed["low"]], case="CASE-999", status=422)
    assert "There is no CASE-999." in res.pyquery("#bulk-case-error").text()


# --- new alerts ----------------------------------------------------------------------------


def test_new_count_poll_reports_alerts_that_arrived_since_the_page(login_as, tenant_a, mixed):
    client = login_as("analyst")
    page = client.get("/soc/alerts?source=EDR")
    poll = page.pyquery("#new-alerts").attr("hx-get")
    assert page.pyquery("#new-alerts").attr("hx-trigger") == "every 15s"
    quiet = client.get(poll, headers=HX)
    assert quiet.text.lstrip().startswith('<div id="new-alerts"') and "new alert" not in quiet.text
    factories.make_alert(tenant_a, source="EDR", title="Fresh one")
    factories.make_alert(tenant_a, source="EDR", title="Fresh two")
    factories.make_alert(tenant_a, source="Okta", title="Not in this view")
    res = client.get(poll, headers=HX)
    assert "<html" not in res.text
    link = res.pyquery(".new-alerts-link")
    assert link.text() == "2 new alerts — show"
    assert link.attr("hx-get") == "/soc/alerts?source=EDR" and link.attr("hx-target") == "#alert-results"
    # The banner keeps polling from the same mark, so the count grows until the analyst looks.
    assert res.pyquery("#new-alerts").attr("hx-get") == poll
    # Opened directly, the poll URL is the queue.
    assert "<html" in client.get(poll).text


# --- roles ---------------------------------------------------------------------------------


def test_compliance_cannot_see_the_queue(login_as, mixed):
    client = login_as("compliance")
    assert client.get("/soc/alerts", status=403)
    assert not client.get("/dashboard").pyquery('a[href="/soc/alerts"]')


def test_another_tenants_alerts_never_show(login_as, tenant_b, mixed):
    factories.make_alert(tenant_b, title="Tenant B secret")
    page = login_as("admin").get("/soc/alerts")
    assert "Tenant B secret" not in page.text and len(_refs(page)) == 5
