"""Daily compliance jobs: flag evidence due for renewal, and snapshot every tenant's scores."""

from __future__ import annotations

import sqlalchemy as sa
from huey import crontab

from app.compliance import evidence, scores
from app.core.db import db
from app.core.tenancy import Tenant, tenant_context


def run_daily() -> list[str]:
    """For every active tenant: flag renewals, then record today's scores."""
    lines = []
    for tenant in db.session.scalars(sa.select(Tenant).where(Tenant.deactivated_at.is_(None))):
        with tenant_context(tenant):
            flagged = evidence.flag_renewals(tenant=tenant)
            snapped = scores.snapshot_scores(tenant=tenant)
        lines.append(f"{tenant.slug}: {len(flagged)} evidence flagged for renewal, {snapped} scores recorded")
    return lines


def register_tasks(huey) -> None:
    """Schedule the daily run on the app's queue (called once the queue exists)."""

    @huey.periodic_task(crontab(hour="2", minute="15"), name="compliance.daily")
    def compliance_daily():
        from app import create_app

        with create_app().app_context():
            run_daily()
    return compliance_daily
