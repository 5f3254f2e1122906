"""The alert rollups behind the dashboard: counts per (status, severity, source) and per day.

Days are UTC days of an alert's first_seen as it was created (an earlier event merged into it
later does not move it). The services call these inside their own transaction whenever an alert enters a cell or
moves between cells (create, ingest, status transitions), so the counts commit or roll back
with the change itself. Each write is a relative upsert (count = count + n): two transactions
never overwrite each other's figures. `rebuild` recomputes both tables from the alerts, for
bulk loads that bypass the services (the benchmark generator, the migration's backfill).

These are Core statements on scoped tables (STYLE §4): tenant_id is set from the tenant
passed in, never from a request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.core.db import db
from app.soc.models import Alert, AlertDailyVolume, AlertTally

Cell = tuple[str, str, str]  # (status, severity, source)


def _upsert(table: sa.Table, keys: tuple[str, ...]):
    dialect = db.session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect](table)
    return insert.on_conflict_do_update(index_elements=["tenant_id", *keys],
                                        set_={"count": table.c.count + insert.excluded.count})


def add(tenant_id: int, cells: Iterable[Cell] | Counter, *, days: Iterable[date] = ()) -> None:
    """Count alerts into their cells (a Counter may carry negative amounts for moves out), and new
    alerts into the days they were first seen (UTC)."""
    counts = cells if isinstance(cells, Counter) else Counter(cells)
    rows = [{"tenant_id": tenant_id, "status": str(status), "severity": str(severity), "source": source, "count": n}
            for (status, severity, source), n in counts.items() if n]
    if not rows:
        return
    conn = db.session.connection()
    conn.execute(_upsert(AlertTally.__table__, ("status", "severity", "source")), rows)
    per_day = Counter(days)
    if per_day:
        conn.execute(_upsert(AlertDailyVolume.__table__, ("day",)),
                     [{"tenant_id": tenant_id, "day": day, "count": n} for day, n in sorted(per_day.items())])


def move(tenant_id: int, *, severity: str, source: str, before: str, after: str) -> None:
    """One alert changed status: out of one cell, into another."""
    if str(before) != str(after):
        add(tenant_id, Counter({(before, severity, source): -1, (after, severity, source): 1}))


def _day(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone("UTC", column))
    return sa.func.date(column)  # SQLite stores UTC as naive ISO text; date() takes its first 10 characters


def rebuild(tenant_id: int) -> None:
    """Recompute the tenant's tallies and daily volume from its alerts (one grouped pass each)."""
    conn = db.session.connection()
    alerts = Alert.__table__
    for table in (AlertTally.__table__, AlertDailyVolume.__table__):
        conn.execute(table.delete().where(table.c.tenant_id == tenant_id))
    cells = (sa.select(alerts.c.tenant_id, alerts.c.status, alerts.c.severity, alerts.c.source, sa.func.count())
             .where(alerts.c.tenant_id == tenant_id)
             .group_by(alerts.c.tenant_id, alerts.c.status, alerts.c.severity, alerts.c.source))
    conn.execute(AlertTally.__table__.insert().from_select(["tenant_id", "status", "severity", "source", "count"],
                                                          cells))
    day = _day(alerts.c.first_seen)
    days = (sa.select(alerts.c.tenant_id, day, sa.func.count()).where(alerts.c.tenant_id == tenant_id)
            .group_by(alerts.c.tenant_id, day))
    conn.execute(AlertDailyVolume.__table__.insert().from_select(["tenant_id", "day", "count"], days))


def drift(tenant_id: int) -> dict[Cell, tuple[int, int]]:
    """Cells where the tallies disagree with the alerts: {cell: (tallied, actual)}; empty when right."""
    alerts = Alert.__table__
    actual = {(str(s), str(v), src): n for s, v, src, n in db.session.execute(
        sa.select(alerts.c.status, alerts.c.severity, alerts.c.source, sa.func.count())
        .where(alerts.c.tenant_id == tenant_id).group_by(alerts.c.status, alerts.c.severity, alerts.c.source))}
    table = AlertTally.__table__
    tallied = {(str(s), str(v), src): n for s, v, src, n in db.session.execute(
        sa.select(table.c.status, table.c.severity, table.c.source, table.c.count)
        .where(table.c.tenant_id == tenant_id))}
    return {cell: (tallied.get(cell, 0), actual.get(cell, 0)) for cell in set(actual) | set(tallied)
            if tallied.get(cell, 0) != actual.get(cell, 0)}
