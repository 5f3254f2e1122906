"""SLA demo data for `vigil seed-demo`: the tenant's targets, consistent SLA times, and the breaches.

The SOC demo ingests a month of alerts in one go and moves the triage times back to when the
work would have happened; this dates each alert's arrival to its first sighting and each case's
acknowledgement to its first status change or assignment, so MTTA and MTTR read like a real
month. Then the real breach check runs, as the background job would have every few minutes.
Safe to run again: targets are set only when none are, and the check records nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.tenancy import Tenant, tenant_context
from app.soc.cases.models import Case, TimelineEntry, TimelineKind
from app.soc.models import Alert
from app.soc.sla.breaches import check_tenant
from app.soc.sla.jobs import CHECK_EVERY_MINUTES
from app.soc.sla.models import SlaBreach, SlaTarget
from app.soc.sla.targets import update_targets

# Acme's own targets: a little stricter than the defaults for high severity.
DEMO_TARGETS = {"critical": {"ack_minutes": 15, "resolve_minutes": 4 * 60},
                "high": {"ack_minutes": 45, "resolve_minutes": 24 * 60},
                "medium": {"ack_minutes": 4 * 60, "resolve_minutes": 3 * 24 * 60},
                "low": {"ack_minutes": 24 * 60, "resolve_minutes": 7 * 24 * 60},
                "info": {"ack_minutes": None, "resolve_minutes": None}}


def seed_sla(tenant: Tenant) -> list[str]:
    """Give the demo tenant targets, SLA times that match its story, and its breaches."""
    with tenant_context(tenant):
        if db.session.scalar(sa.select(SlaTarget.id).limit(1)) is None:
            update_targets(DEMO_TARGETS, actor=system_actor(tenant, "seed-demo"))
        _date_arrivals(tenant.id)
        now = utcnow()
        found = check_tenant(tenant, now, full=True)  # a month of history, not only the last days
        _date_detection(tenant.id, now)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(SlaBreach))
    return [f"SLA demo: targets set, {len(found)} new breaches recorded ({total} in all)."] if found else []


def _date_arrivals(tenant_id: int) -> None:
    # Core statements skip core/tenancy.py, so the tenant is named. Ingest stamped the seed's own
    # time as created_at; the month's alerts arrived when they were first seen.
    alerts = Alert.__table__
    conn = db.session.connection()
    conn.execute(alerts.update().where(alerts.c.tenant_id == tenant_id, alerts.c.created_at > alerts.c.first_seen)
                       .values(created_at=alerts.c.first_seen))
    # Cases were acknowledged at their first move or assignment, as the case timeline shows.
    cases, entries = Case.__table__, TimelineEntry.__table__
    first_move = (sa.select(sa.func.min(entries.c.recorded_at))
                  .where(entries.c.case_id == cases.c.id,
                         entries.c.kind.in_([TimelineKind.STATUS_CHANGE.value, TimelineKind.ASSIGNMENT.value]))
                  .scalar_subquery())
    conn.execute(cases.update().where(cases.c.tenant_id == tenant_id).values(acknowledged_at=first_move))
    db.session.commit()


def _date_detection(tenant_id: int, now: datetime) -> None:
    # The check ran once, now; had the job been running all month it would have noticed each
    # breach within one interval of its due time, and written the case timeline entry then.
    interval = timedelta(minutes=CHECK_EVERY_MINUTES)
    for model, due, seen in ((SlaBreach, "due_at", "detected_at"), (TimelineEntry, "occurred_at", "recorded_at")):
        table = model.__table__
        stmt = sa.select(table.c.id, table.c[due]).where(table.c.tenant_id == tenant_id, table.c[seen] >= now)
        if model is TimelineEntry:
            stmt = stmt.where(table.c.kind == TimelineKind.SLA_BREACH.value)
        conn = db.session.connection()
        rows = [{"b_id": row.id, "b_seen": min(row[1] + interval, now)} for row in conn.execute(stmt)]
        if rows:
            conn.execute(table.update().where(table.c.id == sa.bindparam("b_id"), table.c.tenant_id == tenant_id)
                               .values({seen: sa.bindparam("b_seen", type_=table.c[seen].type)}), rows)
    db.session.commit()
