"""Closing a case closes its linked open alerts (reason from the close form), audited per alert; reopening doesn't."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.actors import Actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import Forbidden, ValidationFailed
from app.core.permissions import permissions_for_scopes
from app.core.tenancy import tenant_context
from app.soc import services as alert_services
from app.soc.cases import services
from app.soc.cases.models import Case
from app.soc.models import Alert
from tests import factories
from tests.api.conftest import bearer


def _alerts(analyst, case, n=3) -> list[Alert]:
    alerts = [alert_services.create_alert(actor=analyst, data={"title": f"Beacon {i}", "severity": "high",
                                                                "source": "EDR", "rule_name": f"r{i}"})
              for i in range(n)]
    services.link_alerts(case, [a.public_id for a in alerts], actor=analyst)
    return alerts


def _state(alert_ids) -> dict[str, tuple[str, str | None]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Alert).where(Alert.id.in_(alert_ids)))
    return {a.reference: (a.status.value, a.close_reason.value if a.close_reason else None) for a in rows}


def _closed_records(alert_ids) -> list[AuditRecord]:
    public = [a.public_id for a in db.session.scalars(sa.select(Alert).where(Alert.id.in_(alert_ids)))]
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "alert.closed",
                                                                AuditRecord.target_id.in_(public))))


def test_closing_closes_open_alerts_as_true_positive_and_reopening_leaves_them(analyst, case):
    first, second, done = _alerts(analyst, case)
    alert_services.close_alert(done, "duplicate", actor=analyst)  # already closed: keeps its own reason
    ids = [first.id, second.id, done.id]
    assert {s for s, _ in _state(ids).values()} == {"in_progress", "closed"}

    services.close_case(case, actor=analyst, resolution="Cobalt Strike beacon, host rebuilt.")
    assert _state(ids) == {first.reference: ("closed", "true_positive"), second.reference: ("closed", "true_positive"),
                           done.reference: ("closed", "duplicate")}
    records = _closed_records(ids)
    assert sorted(r.target_label.split()[0] for r in records) == sorted([first.reference, second.reference,
                                                                       done.reference])
    assert all(r.actor_label == analyst.label for r in records)
    case_record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "case.closed"))
    assert case_record.after["alerts_closed"] == [first.reference, second.reference]
    assert case_record.after["alert_close_reason"] == "true_positive"

    services.reopen_case(case, actor=analyst)
    assert {s for s, _ in _state(ids).values()} == {"closed"}


def test_close_reason_benign_or_false_positive_and_a_bad_reason_changes_nothing(analyst, case):
    (alert,) = _alerts(analyst, case, n=1)
    with pytest.raises(ValidationFailed) as err:
        services.close_case(case, actor=analyst, resolution="x", alert_close_reason="duplicate")
    assert "alert_close_reason" in err.value.field_errors
    assert _state([alert.id]) == {alert.reference: ("in_progress", None)}
    assert db.session.get(Case, case.id).status.value == "new"
    services.close_case(case, actor=analyst, resolution="Pen test", alert_close_reason="benign")
    assert _state([alert.id]) == {alert.reference: ("closed", "benign")}


def test_without_alert_permission_the_case_stays_open_and_so_do_its_alerts(analyst, case, tenant_a):
    (alert,) = _alerts(analyst, case, n=1)
    cases_only = Actor(tenant=tenant_a, permissions=permissions_for_scopes(["cases:write"]), label="api key ci",
                       kind="api_key")
    with pytest.raises(Forbidden):
        services.close_case(case, actor=cases_only, resolution="Done")
    assert db.session.get(Case, case.id).status.value == "new"
    assert _state([alert.id]) == {alert.reference: ("in_progress", None)}
    # With no open alerts left, closing the case needs nothing more than case:write.
    alert_services.close_alert(alert, "false_positive", actor=analyst)
    services.close_case(case, actor=cases_only, resolution="Done")
    assert db.session.get(Case, case.id).status.value == "closed"


def test_api_close_with_a_reason_and_the_close_page_offers_it(client, member_token, login_as, tenant_a):
    case = factories.make_case(tenant_a)
    with tenant_context(tenant_a):
        analyst = Actor(tenant=tenant_a, permissions=permissions_for_scopes(["alerts:write", "cases:write"]),
                        label="t", kind="system")
        alerts = _alerts(analyst, db.session.get(Case, case.id), n=2)
    _m, token = member_token(tenant_a, role="analyst")
    url = f"/api/v1/cases/{case.public_id}/transitions"
    res = client.post(url, json={"to": "closed", "resolution": "Scanner", "alert_close_reason": "nope"},
                      headers=bearer(token))
    assert res.status_code == 422 and "alert_close_reason" in res.json["error"]["details"]["fields"]
    res = client.post(url, json={"to": "closed", "resolution": "Scanner", "alert_close_reason": "false_positive"},
                      headers=bearer(token))
    assert res.status_code == 200 and res.json["data"]["status"] == "closed"
    with tenant_context(tenant_a):
        assert set(_state([a.id for a in alerts]).values()) == {("closed", "false_positive")}
    assert client.post(url, json={"to": "investigating"}, headers=bearer(token)).status_code == 200
    with tenant_context(tenant_a):
        assert set(_state([a.id for a in alerts]).values()) == {("closed", "false_positive")}

    # The HTML close form: the choice appears only with open alerts, true positive preselected.
    other = factories.make_case(tenant_a)
    with tenant_context(tenant_a):
        (open_alert,) = _alerts(analyst, db.session.get(Case, other.id), n=1)
    web = login_as("analyst")
    page = web.get(f"/soc/cases/{other.public_id}/close")
    assert "1 linked alert still open" in page.text
    form = page.forms["confirm-form"]
    assert form["alert_close_reason"].value == "true_positive"
    form["resolution"], form["alert_close_reason"] = "Admin's scheduled task", "benign"
    form.submit(status=303)
    with tenant_context(tenant_a):
        assert _state([open_alert.id]) == {open_alert.reference: ("closed", "benign")}
    assert "still open" not in web.get(f"/soc/cases/{case.public_id}/close").text
