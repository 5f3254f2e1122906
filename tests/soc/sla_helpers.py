"""Builders for the SLA tests: alerts and cases with their SLA times set to known values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.db import db
from app.core.tenancy import tenant_context
from app.soc.cases.models import Case
from app.soc.models import Alert
from tests import factories

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def minutes_ago(minutes: float, now: datetime = NOW) -> datetime:
    return now - timedelta(minutes=minutes)


def _times(model, obj, tenant, created, acknowledged, closed):
    with tenant_context(tenant):
        row = db.session.get(model, obj.id)
        row.created_at = created
        row.acknowledged_at = acknowledged
        if closed is not None:
            row.status = "closed"
            if model is Alert:
                row.close_reason = "benign"
            else:
                row.resolution = "done"
        row.closed_at = closed
        db.session.commit()
        return db.session.get(model, obj.id)


def alert_at(tenant, *, severity: str = "critical", created: datetime, acknowledged: datetime | None = None,
             closed: datetime | None = None, **fields) -> Alert:
    """An alert (through the service) whose clock started at `created`, with the given ack/close times."""
    alert = factories.make_alert(tenant, severity=severity, **fields)
    if acknowledged is not None:
        with tenant_context(tenant):
            db.session.get(Alert, alert.id).status = "acknowledged"
            db.session.commit()
    return _times(Alert, alert, tenant, created, acknowledged, closed)


def case_at(tenant, *, severity: str = "high", created: datetime, acknowledged: datetime | None = None,
            closed: datetime | None = None, **fields) -> Case:
    case = factories.make_case(tenant, severity=severity, **fields)
    if acknowledged is not None:
        with tenant_context(tenant):
            db.session.get(Case, case.id).status = "triage"
            db.session.commit()
    return _times(Case, case, tenant, created, acknowledged, closed)
