"""OCSF ingest throughput: the service and the API beside a raw Core executemany of the same rows.

    .venv/bin/python bench/bench_ingest.py [--batches 20] [--size 500] [--into-large 200000]

On a throwaway SQLite instance (WAL, as served), it times three ways of storing the same
events, each on a fresh tenant so deduplication and numbering start from zero (or, with
`--into-large N`, all three into one tenant pre-filled with N alerts the way bench_soc.py
generates them — a ~500 MB database for 200,000 — which is where the issue's target applies):

1. `ingest_ocsf_batch` called in-process (mapping, fingerprints, dedup lookup, Core inserts,
   numbering, one audit record per batch, one commit per batch);
2. `POST /api/v1/alerts/submit` through the Flask test client (JSON parsing, API-key auth,
   the envelope) — the same service, without a network hop; the bodies are encoded before the
   clock starts, so the client's own JSON encoding is not counted;
3. a raw Core executemany of already-mapped alert and observable rows, one commit per batch,
   no parsing, no dedup lookup, no audit (SQLAlchemy's per-row parameter handling included);
4. the database alone: the same rows as tuples already serialised, straight to the DBAPI's
   executemany, one commit per batch — what no Python-side change can go below.

Each event gets a distinct source IP, so every one becomes a new alert (the expensive path).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
EVENT = {
    "class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401, "time": 1_764_000_000_000,
    "severity_id": 4, "message": "PowerShell downloaded and ran a script",
    "metadata": {"version": "1.3.0", "product": {"name": "Falcon", "vendor_name": "CrowdStrike"}},
    "finding_info": {"uid": "f-1", "title": "Encoded PowerShell download cradle",
                     "desc": "powershell.exe -enc fetched a remote script",
                     "analytic": {"name": "PS-Download-Cradle", "type_id": 1},
                     "attacks": [{"technique": {"uid": "T1059"}, "sub_technique": {"uid": "T1059.001"}}]},
    "device": {"hostname": "WS-0042.corp.example", "ip": "10.0.4.42"},
    "actor": {"user": {"name": "jdoe"}},
}


def make_batches(batches: int, size: int, salt: int) -> list[list[dict]]:
    out = []
    for b in range(batches):
        batch = []
        for i in range(size):
            event = copy.deepcopy(EVENT)
            n = b * size + i
            event["time"] += n
            event["observables"] = [{"name": "src_endpoint.ip", "type_id": 2,
                                     "value": f"10.{salt}.{n // 256 % 256}.{n % 256}"}]
            batch.append(event)
        out.append(batch)
    return out


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds:,.0f} events/s ({events} events in {seconds:.2f} s)"


def prefill(tenant, count: int) -> None:
    """`count` alerts (and their observables) into the tenant with Core bulk inserts, as bench_soc.py does."""
    from bench_soc import EMAIL, _generate_alerts

    from app.core.db import db, utcnow
    from app.soc import tallies

    started = time.perf_counter()
    _generate_alerts(db.session.connection(), tenant.id, {EMAIL: None, "responder@bench.test": None},
                     random.Random(7), utcnow(), count)
    tallies.rebuild(tenant.id)
    db.session.commit()
    db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    print(f"pre-filled {count:,} alerts in {time.perf_counter() - started:.0f} s", flush=True)


def http_seconds(instance: Path, api_key: str, args) -> float:
    """The same batches from one keep-alive client to gunicorn serving this instance; the wall time."""
    from bench_requests import start_gunicorn
    from bench_soc import ingest

    env = {"VIGIL_INSTANCE_PATH": str(instance), "VIGIL_DATABASE_URL": f"sqlite:///{instance / 'bench.db'}",
           "VIGIL_SECRET_KEY": SECRET_KEY, "VIGIL_API_KEY_RATE": "1000000 per minute"}
    server = start_gunicorn("vigil", "app:create_app()", env, args, "/health")
    try:
        _events, seconds, _latencies = ingest(server.port, api_key, batches=args.batches, size=args.size,
                                              clients=1, salt=5, timeout=120)
    finally:
        server.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--into-large", type=int, default=0, metavar="N",
                        help="write every path into one tenant pre-filled with N alerts")
    parser.add_argument("--http", action="store_true",
                        help="also POST the batches over HTTP to gunicorn (gthread, --workers × --threads)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    total = args.batches * args.size

    from flask_migrate import upgrade

    from app import create_app
    from app.core.actors import system_actor
    from app.core.db import db, new_ordered_public_ids, utcnow
    from app.core.tenancy import tenant_context
    from app.identity.api_keys import create_api_key
    from app.identity.services import create_tenant
    from app.soc import bulk, ocsf
    from app.soc.models import SEVERITY_RANK, Alert, AlertObservable
    from app.soc.services import fingerprint, ingest_ocsf_batch

    instance = Path(tempfile.mkdtemp(prefix="vigil-bench-ingest-"))
    app = create_app({"instance_path": str(instance), "database_url": f"sqlite:///{instance / 'bench.db'}",
                      "secret_key": SECRET_KEY, "api_key_rate": "1000000 per minute"})
    with app.app_context():
        upgrade()
        results = {}
        large = None
        if args.into_large:
            large = create_tenant("bench-large", "Bench large", actor_label="bench")
            prefill(large, args.into_large)

        def tenant_for(slug: str):
            return large or create_tenant(slug, slug.title(), actor_label="bench")

        tenant = tenant_for("bench-service")
        batches = make_batches(args.batches, args.size, 1)
        with tenant_context(tenant):
            actor = system_actor(tenant, "bench")
            start = time.perf_counter()
            for batch in batches:
                ingest_ocsf_batch(batch, actor=actor)
            results["service `ingest_ocsf_batch`"] = time.perf_counter() - start

        tenant = tenant_for("bench-api")
        with tenant_context(tenant):
            _key, raw = create_api_key(actor=system_actor(tenant, "bench"), name="bench", scopes=["alerts:write"])
        client = app.test_client()
        bodies = [json.dumps({"events": batch}).encode() for batch in make_batches(args.batches, args.size, 2)]
        start = time.perf_counter()
        for body in bodies:
            res = client.post("/api/v1/alerts/submit", data=body, content_type="application/json",
                              headers={"Authorization": f"Bearer {raw}"})
            if res.status_code != 200 or res.json["data"]["created"] != args.size:
                raise SystemExit(f"submit failed: {res.status_code} {res.get_data(as_text=True)[:300]}")
        results["API `POST /api/v1/alerts/submit` (test client)"] = time.perf_counter() - start

        tenant = tenant_for("bench-raw")
        tenant_id = tenant.id
        batches = make_batches(args.batches, args.size, 3)
        prepared = []
        number = 10_000_000  # past any number the service handed out in a shared (--into-large) tenant
        for batch in batches:  # mapping is done before the clock starts: only the writes are timed
            alerts, observables = [], []
            public_ids = iter(new_ordered_public_ids(len(batch)))  # as the service makes them
            for event in batch:
                draft = ocsf.to_draft(event)
                number += 1
                now = utcnow()
                alerts.append({"tenant_id": tenant_id, "public_id": next(public_ids), "number": number,
                               "title": draft.title, "description": draft.description, "severity": draft.severity,
                               "severity_rank": SEVERITY_RANK[draft.severity], "status": "new", "close_reason": None,
                               "source": draft.source, "rule_name": draft.rule_name,
                               "techniques": list(draft.techniques), "raw_event": draft.raw_event,
                               "fingerprint": fingerprint(draft, ["source", "rule_name", "primary_observable"]),
                               "first_seen": draft.seen_at, "last_seen": draft.seen_at, "occurrences": 1,
                               "assignee_id": None, "acknowledged_at": None, "closed_at": None, "created_at": now,
                               "updated_at": now})
                observables.append([(k, v) for k, v in draft.observables])
            prepared.append((alerts, observables))
        db.session.remove()
        start = time.perf_counter()
        for alerts, observables in prepared:
            with db.engine.begin() as conn:
                table = Alert.__table__
                conn.execute(table.insert(), alerts)
                by_number = dict(conn.execute(sa.select(table.c.number, table.c.id).where(
                    table.c.tenant_id == tenant_id,
                    table.c.number.between(alerts[0]["number"], alerts[-1]["number"]))).all())
                ids = [by_number[a["number"]] for a in alerts]
                conn.execute(AlertObservable.__table__.insert(), [
                    {"tenant_id": tenant_id, "alert_id": i, "kind": k, "value": v}
                    for i, obs in zip(ids, observables, strict=True) for k, v in obs])
        results["raw Core executemany (same rows, pre-mapped)"] = time.perf_counter() - start

        # The database alone: the same rows as plain tuples, every value already in the form the
        # driver takes (JSON text, ISO timestamps), straight to the DBAPI's executemany.
        tenant = tenant_for("bench-dbapi")
        tenant_id = tenant.id
        batches = make_batches(args.batches, args.size, 4)
        sql_alerts, order, processing, _positional = bulk._prepared(Alert.__table__, db.engine.dialect,
                                                                     tuple(prepared[0][0][0]))
        sql_obs = ("INSERT INTO alert_observables (tenant_id, alert_id, kind, value) VALUES (?, ?, ?, ?)")
        tuples = []
        for batch in batches:
            alerts, observables = [], []
            public_ids = iter(new_ordered_public_ids(len(batch)))
            for event in batch:
                draft = ocsf.to_draft(event)
                number += 1
                now = utcnow()
                row = {"tenant_id": tenant_id, "public_id": next(public_ids), "number": number,
                       "title": draft.title, "description": draft.description, "severity": draft.severity,
                       "severity_rank": SEVERITY_RANK[draft.severity], "status": "new", "close_reason": None,
                       "source": draft.source, "rule_name": draft.rule_name, "techniques": list(draft.techniques),
                       "raw_event": draft.raw_event,
                       "fingerprint": fingerprint(draft, ["source", "rule_name", "primary_observable"]),
                       "first_seen": draft.seen_at, "last_seen": draft.seen_at, "occurrences": 1,
                       "assignee_id": None, "acknowledged_at": None, "closed_at": None, "created_at": now,
                       "updated_at": now}
                alerts.append(tuple(p(row[k]) if p and row[k] is not None else row[k]
                                    for k, (p, _memo, _kind) in zip(order, processing, strict=True)))
                observables.append([(str(k), v) for k, v in draft.observables])
            tuples.append((alerts[0][order.index("number")], alerts[-1][order.index("number")], alerts, observables))
        raw_conn = db.engine.raw_connection()  # pysqlite: a transaction opens at the first INSERT
        start = time.perf_counter()
        for first, last, alerts, observables in tuples:
            cursor = raw_conn.cursor()
            cursor.executemany(sql_alerts, alerts)
            ids = [i for (i,) in cursor.execute("SELECT id FROM alerts WHERE tenant_id = ? AND number BETWEEN ? AND ? "
                                                "ORDER BY number", (tenant_id, first, last))]
            cursor.executemany(sql_obs, [(tenant_id, i, k, v) for i, obs in zip(ids, observables, strict=True)
                                         for k, v in obs])
            raw_conn.commit()
        results["DBAPI executemany of pre-serialised tuples"] = time.perf_counter() - start
        raw_conn.close()

        if args.http:
            tenant = tenant_for("bench-http")
            with tenant_context(tenant):
                _key, raw = create_api_key(actor=system_actor(tenant, "bench"), name="bench http",
                                           scopes=["alerts:write"])
            db.session.remove()
            db.engine.dispose()  # the server gets the database to itself
            results[f"API over HTTP (gunicorn gthread {args.workers}×{args.threads}, one client)"] = http_seconds(
                instance, raw, args)

    floor = total / results["raw Core executemany (same rows, pre-mapped)"]
    where = f"into a tenant pre-filled with {args.into_large:,} alerts" if args.into_large else "fresh tenants"
    print(f"{args.batches} batches of {args.size} OCSF 2004 events, {where}, SQLite WAL at {instance}")
    print("| path | events/s | vs raw |")
    print("| --- | ---: | ---: |")
    for name, seconds in results.items():
        print(f"| {name} | {total / seconds:,.0f} | {total / seconds / floor:.0%} |")


if __name__ == "__main__":
    main()
