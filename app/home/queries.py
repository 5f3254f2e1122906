"""Read side of the dashboard. Later domains add their own tiles here."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.identity.models import ApiKey, Membership


def dashboard_counts(tenant) -> dict[str, int]:
    since = utcnow() - timedelta(days=1)
    audit = sa.select(sa.func.count()).select_from(AuditRecord).where(AuditRecord.tenant_id == tenant.id)
    return {
        "members": db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                     .where(Membership.is_active)),
        "api_keys": db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)
                                      .where(ApiKey.revoked_at.is_(None))),
        "audit_events": db.session.scalar(audit),
        "audit_events_24h": db.session.scalar(audit.where(AuditRecord.at >= since)),
        "failed_logins_24h": db.session.scalar(
            audit.where(AuditRecord.at >= since, AuditRecord.action == "auth.login_failed")),
    }


def recent_activity(tenant, limit: int = 8) -> list[AuditRecord]:
    stmt = (sa.select(AuditRecord).where(AuditRecord.tenant_id == tenant.id)
            .order_by(AuditRecord.seq.desc()).limit(limit))
    return list(db.session.scalars(stmt))
