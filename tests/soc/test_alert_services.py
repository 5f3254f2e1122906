"""Creating alerts from our JSON, and the triage rules: transitions, close reasons, assignment."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import Conflict, ValidationFailed
from app.core.tenancy import get_or_404
from app.soc import queries
from app.soc.models import Alert, AlertStatus
from app.soc.services import (
    acknowledge_alert,
    assign_alert,
    bulk_close,
    close_alert,
    create_alert,
    reopen_alert,
    start_alert,
    update_alert,
)
from tests import factories


@pytest.fixture
def actor(tenant_a):
    return system_actor(tenant_a, "test")


@pytest.fixture
def alert(tenant_a, in_tenant):
    made = factories.make_alert(tenant_a, observables=[{"kind": "domain", "value": "Evil.Example."}],
                                techniques=["t1566.001"])
    with in_tenant(tenant_a):
        yield get_or_404(Alert, made.public_id)


def test_create_alert_normalises_observables_and_techniques(alert):
    assert alert.reference == "ALR-1"
    assert alert.status is AlertStatus.NEW
    assert [(o.kind, o.value) for o in queries.observables_of(alert)] == [("domain", "evil.example")]
    assert alert.techniques == ["T1566.001"]


def test_unknown_severity_names_the_allowed_values(tenant_a, in_tenant, actor):
    with in_tenant(tenant_a), pytest.raises(ValidationFailed) as exc:
        create_alert(actor=actor, data={"title": "x", "severity": "urgent", "source": "EDR"})
    assert "info, low, medium, high, critical" in exc.value.field_errors["severity"][0]


def test_bad_technique_and_observable_are_named(tenant_a, in_tenant, actor):
    with in_tenant(tenant_a), pytest.raises(ValidationFailed) as exc:
        create_alert(actor=actor, data={"title": "x", "severity": "low", "source": "EDR", "techniques": ["T59"]})
    assert "techniques" in exc.value.field_errors
    with in_tenant(tenant_a), pytest.raises(ValidationFailed) as exc:
        create_alert(actor=actor, data={"title": "x", "severity": "low", "source": "EDR",
                                        "observables": [{"kind": "ip", "value": "300.1.1.1"}]})
    assert "observables.0" in exc.value.field_errors


def test_triage_path_and_audit(alert, actor):
    acknowledge_alert(alert, actor=actor)
    start_alert(alert, actor=actor)
    close_alert(alert, "true_positive", actor=actor)
    assert (alert.status, alert.close_reason) == (AlertStatus.CLOSED, "true_positive")
    assert alert.acknowledged_at is not None and alert.closed_at is not None
    reopen_alert(alert, actor=actor)
    assert (alert.status, alert.close_reason, alert.closed_at) == (AlertStatus.NEW, None, None)
    actions = list(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.target_id == alert.public_id)
                                      .order_by(AuditRecord.seq)))
    assert actions == ["alert.created", "alert.acknowledged", "alert.started", "alert.closed", "alert.reopened"]


def test_illegal_transition_is_a_conflict_naming_the_allowed_ones(alert, actor):
    start_alert(alert, actor=actor)
    with pytest.raises(Conflict) as exc:
        acknowledge_alert(alert, actor=actor)
    assert exc.value.details["allowed"] == ["closed"]
    assert "closed" in exc.value.message


def test_close_needs_a_known_reason(alert, actor):
    for reason in (None, "bored"):
        with pytest.raises(ValidationFailed) as exc:
            close_alert(alert, reason, actor=actor)
        assert "false_positive" in exc.value.field_errors["close_reason"][0]
    assert alert.status is AlertStatus.NEW


def test_update_alert_rejects_a_reason_without_closing(alert, actor):
    with pytest.raises(ValidationFailed):
        update_alert(alert, actor=actor, close_reason="benign")


def test_assign_to_an_analyst_and_refuse_a_compliance_member(alert, actor, tenant_a):
    analyst = factories.make_member(tenant_a, role="analyst")
    compliance = factories.make_member(tenant_a, role="compliance")
    assign_alert(alert, analyst, actor=actor)
    assert alert.assignee.public_id == analyst.user.public_id
    with pytest.raises(ValidationFailed):
        assign_alert(alert, compliance, actor=actor)
    assign_alert(alert, None, actor=actor)
    assert alert.assignee is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "alert.assigned")) == 2


def test_bulk_close_changes_open_alerts_and_records_each(tenant_a, in_tenant, actor):
    ids = [factories.make_alert(tenant_a).public_id for _ in range(3)]
    with in_tenant(tenant_a):
        alerts = [get_or_404(Alert, i) for i in ids]
        close_alert(alerts[0], "duplicate", actor=actor)
        changed = bulk_close(alerts, "benign", actor=actor)
    assert [a.public_id for a in changed] == ids[1:]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "alert.closed")) == 3


def test_html_is_kept_verbatim(tenant_a, in_tenant):
    made = factories.make_alert(tenant_a, title="<script>alert(1)</script>")
    assert made.title == "<script>alert(1)</script>"


def test_permission_is_checked_in_the_service(tenant_a, in_tenant):
    from app.core.actors import Actor
    from app.core.errors import Forbidden

    reader = Actor(tenant=tenant_a, permissions=frozenset({"alert:read"}), label="reader")
    with in_tenant(tenant_a), pytest.raises(Forbidden):
        create_alert(actor=reader, data={"title": "x", "severity": "low", "source": "EDR"})
