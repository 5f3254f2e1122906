"""The periodic breach check on huey, registered on each app's queue when the SLA blueprint is.

The queue object is chosen by core/jobs.py when the app is created (immediate in tests, SQLite
or Redis otherwise), so the task is attached to that app's queue rather than at import time.
Run a consumer (`vigil worker`) for periodic jobs to fire; `vigil sla check` runs it by hand.
"""

from __future__ import annotations

from flask import Flask
from huey import crontab

from app.core.db import utcnow

CHECK_EVERY_MINUTES = 5
TASK_KEY = "vigil_sla_check"


def register(app: Flask) -> None:
    from app.soc.sla.breaches import check_breaches

    queue = app.extensions["huey"]

    @queue.periodic_task(crontab(minute=f"*/{CHECK_EVERY_MINUTES}"), name="sla.check_breaches")
    def sla_check_breaches() -> dict[str, int]:
        with app.app_context():
            return check_breaches(utcnow())

    app.extensions[TASK_KEY] = sla_check_breaches
