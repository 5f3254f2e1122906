"""The alert detail page: fields, observables and their pivots, the escaped raw event, history, actions."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.core.db import db
from app.core.tenancy import Tenant, tenant_context
from app.soc.models import Alert
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}
EVIL = "<script>alert(1)</script>"


def _fresh(alert) -> Alert:
    db.session.expire_all()
    with tenant_context(db.session.get(Tenant, alert.tenant_id)):
        return db.session.scalar(sa.select(Alert).where(Alert.id == alert.id))


def _post(client, alert, action: str, headers=None, status="*", **fields):
    page = client.get(f"/soc/alerts/{alert.public_id}")
    return client.post(f"/soc/alerts/{alert.public_id}/{action}", {"csrf_token": csrf_from(page), **fields},
                       headers=headers or {}, status=status)


@pytest.fixture
def alert(tenant_a):
    return factories.make_alert(
        tenant_a, title=f"Beacon {EVIL}", severity="high", source="Falcon", rule_name="C2-Beacon",
        description=f"Seen {EVIL} twice", techniques=["T1071.001"],
        observables=[{"kind": "ip", "value": "203.0.113.7"}, {"kind": "host", "value": "ws-42.corp"}],
        raw_event={"message": EVIL, "nested": {"n": 1}})


def test_detail_shows_fields_observables_and_escaped_raw_event(login_as, tenant_a, alert):
    sibling = factories.make_alert(tenant_a, title="Same IP elsewhere",
                                   observables=[{"kind": "ip", "value": "203.0.113.7"}])
    page = login_as("auditor").get(f"/soc/alerts/{alert.public_id}")
    assert EVIL not in page.text  # every field is text, never markup
    assert page.pyquery("h1").text().endswith(f"Beacon {EVIL}")
    assert page.pyquery(".sev--high") and page.pyquery(".status--new").text() == "New"
    assert "T1071.001" in page.pyquery(".facts").text() and "C2-Beacon" in page.text
    raw = page.pyquery("pre.raw-event").text()
    assert json.loads(raw) == {"message": EVIL, "nested": {"n": 1}}
    assert '\n  "message": "<script>' in page.pyquery("pre.raw-event code")[0].text  # pretty-printed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    ip_row = page.pyquery("tr:contains('203.0.113.7')")
    assert ip_row.find(f'a[href="/soc/alerts/{sibling.public_id}"]').text() == sibling.reference
    assert ip_row.find('a[href="/soc/alerts?q=203.0.113.7"]')
    assert "no other alert" in page.pyquery("tr:contains('ws-42.corp')").text()
    # History from the audit log, and no action forms for a read-only role.
    assert "alert.created" in page.pyquery(".history").text()
    assert not page.pyquery("#alert-panel form")


def test_acknowledge_start_close_reopen_without_js(login_as, alert):
    client = login_as("analyst")
    res = _post(client, alert, "acknowledge", status=303)
    assert res.headers["Location"].endswith(f"/soc/alerts/{alert.public_id}")
    assert f"{alert.reference} acknowledged." in res.follow().text
    _post(client, alert, "start", status=303)
    assert _fresh(alert).status.value == "in_progress"
    _post(client, alert, "close", close_reason="true_positive", status=303)
    assert _fresh(alert).close_reason.value == "true_positive"
    page = _post(client, alert, "reopen", status=303).follow()
    assert _fresh(alert).status.value == "new"
    history = page.pyquery(".history").text()
    for action in ("alert.acknowledged", "alert.started", "alert.closed", "alert.reopened"):
        assert action in history


def test_actions_with_htmx_swap_the_panel(login_as, alert):
    client = login_as("analyst")
    res = _post(client, alert, "acknowledge", headers=HX, status=200)
    assert "<html" not in res.text and res.text.lstrip().startswith('<aside id="alert-panel"')
    assert res.pyquery(".status").text() == "Acknowledged"
    assert "alert.acknowledged" in res.pyquery(".history").text()
    trigger = json.loads(res.headers["HX-Trigger"])
    assert trigger["flash"]["message"] == f"{alert.reference} acknowledged." and "alert-updated" in trigger


@pytest.mark.parametrize("headers", [{}, HX])
def test_close_without_reason_is_422_and_changes_nothing(login_as, alert, headers):
    res = _post(login_as("analyst"), alert, "close", headers=headers, close_reason="", status=422)
    assert "Choose a reason" in res.pyquery("#panel-close_reason-error").text()
    assert ("<html" in res.text) is (not headers)
    assert _fresh(alert).status.value == "new"


def test_illegal_transition_is_409_naming_the_allowed_ones(login_as, alert):
    client = login_as("analyst")
    _post(client, alert, "close", close_reason="benign", status=303)
    res = _post(client, alert, "acknowledge", headers=HX, status=409)
    assert "it can move to: new" in res.text


def test_assign_to_me_and_to_a_member(login_as, tenant_a, alert):
    client = login_as("analyst")
    _post(client, alert, "assign", assign_to_me="1", status=303)
    assert _fresh(alert).assignee_id == client.membership.user_id
    other = factories.make_member(tenant_a, role="analyst", name="Other Analyst")
    res = _post(client, alert, "assign", headers=HX, assignee=other.user.public_id, status=200)
    assert "Other Analyst" in res.pyquery(".facts").text()
    res = _post(client, alert, "assign", assignee="not-a-member", status=422)
    assert "Choose who to assign" in res.text


def test_roles_and_tenants(login_as, tenant_b, alert):
    assert login_as("compliance").get(f"/soc/alerts/{alert.public_id}", status=403)
    responder = login_as("responder")
    assert responder.get(f"/soc/alerts/{alert.public_id}").status_int == 200
    _post(responder, alert, "acknowledge", status=403)
    other = login_as("admin", tenant=tenant_b)
    other.get(f"/soc/alerts/{alert.public_id}", status=404)
    _post(other, factories.make_alert(tenant_b), "acknowledge", status=303)  # control: its own alert works
    assert other.post(f"/soc/alerts/{alert.public_id}/acknowledge",
                      {"csrf_token": csrf_from(other.get("/account/security"))}, status=404)
    assert _fresh(alert).status.value == "new"
