"""Background work of approvals: expire overdue requests every few minutes (also `vigil approvals expire`)."""

from __future__ import annotations

import sqlalchemy as sa
from huey import crontab

from app.approvals import services
from app.core.actors import system_actor
from app.core.db import db
from app.core.tenancy import Tenant, tenant_context

EXPIRY_SCHEDULE = crontab(minute="*/5")


def expire_overdue_everywhere() -> int:
    """Expire overdue requests in every active tenant; returns how many."""
    expired = 0
    for tenant in db.session.scalars(sa.select(Tenant).where(Tenant.deactivated_at.is_(None)).order_by(Tenant.id)):
        with tenant_context(tenant):
            expired += len(services.expire_overdue(actor=system_actor(tenant, "approval expiry")))
    return expired


def schedule(queue, app) -> None:
    """Register the periodic expiry on the app's huey queue (the queue exists only once the app is built)."""

    def expire_job() -> int:
        with app.app_context():
            return expire_overdue_everywhere()

    queue.periodic_task(EXPIRY_SCHEDULE, name="approvals.expire_overdue")(expire_job)
