"""Read side of the dashboard. Later domains add their own tiles here."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.identity.models import ApiKey, Membership


def dashboard_counts(tenant) -> dict[str, int]:
    since = utcnow() - timedelta(days=1)
    # One pass over the tenant's audit chain for all three figures (COUNT … FILTER works on
    # SQLite 3.30+ and PostgreSQL); the log is not TenantScoped, hence the explicit tenant.
    audit_events, audit_24h, failed_24h = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(AuditRecord.at >= since),
            sa.func.count().filter(AuditRecord.at >= since, AuditRecord.action == "auth.login_failed"),
        ).where(AuditRecord.tenant_id == tenant.id)
    ).one()
    return {
        "members": db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                     .where(Membership.is_active)),
        "api_keys": db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)
                                      .where(ApiKey.revoked_at.is_(None))),
        "audit_events": audit_events,
        "audit_events_24h": audit_24h,
        "failed_logins_24h": failed_24h,
    }


def recent_activity(tenant, limit: int = 8) -> list[AuditRecord]:
    stmt = (sa.select(AuditRecord).where(AuditRecord.tenant_id == tenant.id)
            .order_by(AuditRecord.seq.desc()).limit(limit))
    return list(db.session.scalars(stmt))
