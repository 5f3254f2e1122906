"""Read side of the dashboard. Later domains add their own tiles here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


# --- SOC tiles ------------------------------------------------------------------------------
# Every figure comes from the alert rollups (app/soc/tallies.py: a few dozen rows per tenant) or
# from the case status index, so the dashboard costs the same with 200 or 200,000 alerts.

VOLUME_DAYS = 30
TOP_SOURCES = 5


@dataclass(frozen=True)
class DayVolume:
    day: date
    count: int


@dataclass(frozen=True)
class SocOverview:
    open_by_severity: dict[str, int]  # every severity, most severe first, zeros included
    by_status: dict[str, int]  # every alert status, in workflow order
    top_sources: list[tuple[str, int]]  # open alerts per source, the busiest first
    volume: list[DayVolume]  # new alerts per UTC day first seen, oldest first, VOLUME_DAYS days ending today
    open_cases_by_status: dict[str, int]  # every open case status, in workflow order

    @property
    def open_alerts(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def open_cases(self) -> int:
        return sum(self.open_cases_by_status.values())


def soc_overview(*, today: date | None = None, with_cases: bool = True) -> SocOverview:
    """The SOC tiles of the current tenant (tenant-scoped by core/tenancy.py)."""
    from app.soc.cases.models import Case
    from app.soc.cases.workflow import OPEN_STATUSES
    from app.soc.models import AlertDailyVolume, AlertSeverity, AlertStatus, AlertTally

    severity = {s.value: 0 for s in reversed(AlertSeverity)}
    status = {s.value: 0 for s in AlertStatus}
    sources: dict[str, int] = {}
    cells = db.session.execute(sa.select(AlertTally.status, AlertTally.severity, AlertTally.source, AlertTally.count)
                               .where(AlertTally.count != 0))
    for st, sev, source, n in cells:
        status[st.value] += n
        if st is not AlertStatus.CLOSED:
            severity[sev.value] += n
            sources[source] = sources.get(source, 0) + n
    top = sorted(((s, n) for s, n in sources.items() if n), key=lambda sn: (-sn[1], sn[0]))[:TOP_SOURCES]

    today = today or utcnow().date()
    first = today - timedelta(days=VOLUME_DAYS - 1)
    per_day = dict(db.session.execute(sa.select(AlertDailyVolume.day, AlertDailyVolume.count)
                                      .where(AlertDailyVolume.day >= first, AlertDailyVolume.day <= today)).all())
    volume = [DayVolume(d, per_day.get(d, 0)) for d in (first + timedelta(days=i) for i in range(VOLUME_DAYS))]

    cases = {s.value: 0 for s in OPEN_STATUSES}
    if with_cases:
        # IN over the open statuses: range scans of ix_cases_list_status, closed cases are never read.
        for st, n in db.session.execute(sa.select(Case.status, sa.func.count()).where(Case.status.in_(OPEN_STATUSES))
                                        .group_by(Case.status)):
            cases[st.value] = n
    return SocOverview(severity, status, top, volume, cases)
