"""SLA at queue scale: the breach check, MTTA/MTTR and the queue page over N alerts (default 200,000).

    .venv/bin/python bench/bench_sla.py [--alerts 200000] [--database-url URL]

Builds a throwaway SQLite database (or uses the given empty one), migrates it, creates one
tenant with an admin, and inserts N alerts spread over 90 days with acknowledge and close
times drawn per severity (about 8 % acknowledged late, 5 % still open). Then it times, in
process: the first breach check (records every breach, one audit record each), the steady
check that finds nothing new (what the job costs every five minutes), `mean_times` for 30
and 90 days, the first page of the breach list, and the alert queue page with its badges
(signed in through the real form), counting the page's SQL statements.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEVERITIES = (("info", 1, 0.10), ("low", 2, 0.40), ("medium", 3, 0.33), ("high", 4, 0.15), ("critical", 5, 0.02))
# Minutes to acknowledge: usually well within the default target, sometimes late.
ACK_RANGE = {"info": (30, 3000), "low": (30, 1200), "medium": (10, 300), "high": (5, 70), "critical": (2, 18)}
PASSWORD = "bench-password-123456"


def timed(label: str, fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    print(f"| {label} | {statistics.median(times) * 1000:,.0f} ms |")
    return result


def insert_alerts(tenant_id: int, count: int, now: datetime) -> None:
    from app.core.db import db, new_public_id
    from app.soc.models import Alert

    rng = random.Random(7)
    names, weights = [s[0] for s in SEVERITIES], [s[2] for s in SEVERITIES]
    rank = {s[0]: s[1] for s in SEVERITIES}
    rows = []
    # Alerts arrive in time order, so numbers and row ids grow with created_at, as in production.
    arrivals = sorted(now - timedelta(minutes=rng.uniform(1, 90 * 24 * 60)) for _ in range(count))
    for n, created in enumerate(arrivals, start=1):
        severity = rng.choices(names, weights)[0]
        low, high = ACK_RANGE[severity]
        ack = created + timedelta(minutes=rng.uniform(low, high))
        open_ = rng.random() < 0.05 or ack > now
        closed = None if open_ else min(ack + timedelta(minutes=rng.uniform(10, 3 * high)), now)
        status = "closed" if closed else ("new" if rng.random() < 0.5 or ack > now else "in_progress")
        rows.append({
            "tenant_id": tenant_id, "public_id": new_public_id(), "number": n, "title": f"Bench alert {n}",
            "description": "", "severity": severity, "severity_rank": rank[severity], "status": status,
            "close_reason": "benign" if closed else None, "source": "bench", "rule_name": "", "techniques": [],
            "raw_event": None, "fingerprint": f"{n:064x}", "first_seen": created, "last_seen": created,
            "occurrences": 1, "assignee_id": None, "acknowledged_at": None if status == "new" else ack,
            "closed_at": closed, "created_at": created, "updated_at": closed or created})
        if len(rows) == 5000:
            db.session.connection().execute(Alert.__table__.insert(), rows)
            rows = []
    if rows:
        db.session.connection().execute(Alert.__table__.insert(), rows)
    db.session.commit()


def queue_page(app, email: str) -> None:
    from app.core.db import db

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    res = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 303, res.status_code
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *_a: statements.append(1))
    body = client.get("/soc/alerts").get_data(as_text=True)
    print(f"| alert queue page: SQL statements | {len(statements)} |")
    badges = body.count('class="sla sla--')
    print(f"| alert queue page: rows with an SLA badge | {badges} of 50 |")
    timed("alert queue page (first 50, newest first), median of 10", lambda: client.get("/soc/alerts"), repeat=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-sla-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        from flask_migrate import upgrade

        from app import create_app
        from app.core.actors import system_actor
        from app.core.db import db, utcnow
        from app.core.tenancy import tenant_context
        from app.identity.services import add_member, create_tenant
        from app.soc.sla import mean_times
        from app.soc.sla.breaches import check_tenant
        from app.soc.sla.queries import BreachFilter, breaches_page

        app = create_app({"instance_path": tmp, "database_url": url, "secret_key": "bench-" + "x" * 40})
        with app.app_context():
            upgrade()
            tenant = create_tenant("bench", "Bench", actor_label="bench")
            with tenant_context(tenant):
                add_member(actor=system_actor(tenant, "bench"), email="admin@bench.test", name="Admin",
                           role="admin", password=PASSWORD)
            now = utcnow()
            start = time.perf_counter()
            insert_alerts(tenant.id, args.alerts, now)
            took = time.perf_counter() - start
            print(f"{args.alerts:,} alerts inserted in {took:.1f} s ({db.engine.dialect.name})\n")
            print("| what | time |\n| --- | --- |")
            with tenant_context(tenant):
                found = timed("first breach check (records every breach, audited)", lambda: check_tenant(tenant, now))
                print(f"| breaches recorded | {len(found):,} |")
                later = now + timedelta(minutes=5)
                timed("steady breach check, nothing new (median of 3)", lambda: check_tenant(tenant, later), repeat=3)
                timed("mean_times(30)", lambda: mean_times(30, now=now), repeat=3)
                timed("mean_times(90)", lambda: mean_times(90, now=now), repeat=3)
                timed("breach list, first page of 50", lambda: breaches_page(BreachFilter(window=90)), repeat=3)
            queue_page(app, "admin@bench.test")
        print(f"\n{datetime.now(UTC):%Y-%m-%d}, {args.alerts:,} alerts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
