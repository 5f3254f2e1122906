"""SOC pages at scale: one tenant with 200,000 alerts and 10,000 cases, beside a bare Flask route.

    .venv/bin/python bench/bench_soc.py [--alerts 200000] [--cases 10000] [--clients 32] [--requests 1000]
                                        [--workers 2] [--threads 4] [--analyze] [--profile]

What it does, on loopback only, and it stops by itself (a fixed number of requests per target and
a time cap per target):

1. builds a throwaway instance folder with a migrated SQLite database and fills one tenant with
   generated alerts (with observables), cases (with timeline entries, tasks, linked alerts) and
   one case whose timeline has 500 entries (see generate_soc_data below); prints the time taken;
2. serves a bare `Flask()` hello route and then the app with gunicorn gthread, the same settings
   for both, each in its own process (the helpers of bench_requests.py);
3. signs in as the tenant's analyst and sends a bounded number of requests from `--clients`
   keep-alive connections (32 by default) to each target: the alert queue unfiltered and with
   each single filter, and the case page with the 500-entry timeline;
4. times the SOC counts (`app.soc.queries.alert_counts`, and a 30-day daily volume statement)
   in-process, one call after another, since no route serves them yet;
5. with `--profile`, profiles every target that misses a target of the issue (in-process, test
   client): time in SQL per request, the slowest statements, the functions that dominate.

The figures and the exact command are kept at the end of bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import http.client
import io
import os
import platform
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_requests import HOST, SECRET_KEY, hammer, sign_in, start_gunicorn  # noqa: E402

EMAIL, PASSWORD = "analyst@bench.test", "bench-analyst-password"
SEARCH_IP = "203.0.113.7"
TARGET_RATIO, TARGET_P99_MS = 0.20, 100.0
CHUNK = 10_000
READY_SECONDS = 180  # a shared, busy machine can take a minute to import the app in two workers


# --- generation ----------------------------------------------------------------------------


def _insert(conn, table, rows: list[dict]) -> None:
    from app.soc.bulk import insert_rows

    for start in range(0, len(rows), CHUNK):
        insert_rows(conn, table, rows[start:start + CHUNK])


def generate_soc_data(instance: Path, *, alerts: int, cases: int, timeline: int, seed: int = 7) -> dict:
    """Migrate a fresh database and fill tenant `bench`; return what the requests need."""
    from flask_migrate import upgrade

    from app import create_app
    from app.core.actors import system_actor
    from app.core.db import db, utcnow
    from app.core.tenancy import tenant_context
    from app.identity.api_keys import create_api_key
    from app.identity.models import User
    from app.identity.services import add_member, create_tenant
    from app.soc import tallies

    app = create_app({"instance_path": str(instance), "secret_key": SECRET_KEY, "jobs_immediate": True})
    with app.app_context():
        upgrade()
        tenant = create_tenant("bench", "Bench Corp", actor_label="bench")
        with tenant_context(tenant):
            actor = system_actor(tenant, "bench")
            add_member(actor=actor, email=EMAIL, name="Ana Bench", role="analyst", password=PASSWORD)
            add_member(actor=actor, email="responder@bench.test", name="Rey Bench", role="responder",
                       password=None)
            users = dict(db.session.execute(sa.select(User.email, User.id)).all())
            _key, api_key = create_api_key(actor=actor, name="bench ingest", scopes=["alerts:write"])
        # Bulk generation writes straight into the tables with Core executemany, tenant_id set
        # explicitly on every row: going through the services would take hours for 200,000 alerts
        # (one audit record each), and the benchmark measures reading, not writing. Core statements
        # bypass core/tenancy.py, which is why each row names its tenant here.
        rng, now = random.Random(seed), utcnow()
        conn = db.session.connection()
        started = time.perf_counter()
        alert_ids = _generate_alerts(conn, tenant.id, users, rng, now, alerts)
        case_info = _generate_cases(conn, tenant.id, users, rng, now, cases, timeline, alert_ids)
        # The rows went in behind the services' back, so the dashboard rollups are computed once here.
        tallies.rebuild(tenant.id)
        db.session.commit()
        took = time.perf_counter() - started
        db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()
    return {"seconds": took, "api_key": api_key, **case_info}


def _alert_status(rng: random.Random, age: timedelta) -> tuple[str, str | None]:
    roll = rng.random()
    closed = 0.9 if age > timedelta(days=2) else 0.4
    if roll < closed:
        return "closed", rng.choice(("benign", "benign", "false_positive", "false_positive", "true_positive",
                                     "duplicate"))
    return rng.choice(("new", "new", "acknowledged", "in_progress")), None


def _generate_alerts(conn, tenant_id: int, users: dict, rng: random.Random, now, count: int) -> list[int]:
    from app.soc import demo
    from app.soc.models import SEVERITY_RANK, Alert, AlertObservable, AlertSettings, AlertSeverity
    from app.soc.observables import normalise
    from app.soc.ocsf import SEVERITY_FROM_ID

    kinds = {"host": "host", "app": "host", "domain": "domain", "ip": "ip", "ext_ip": "ip", "user": "user",
             "email": "email", "url": "url", "hash": "hash"}
    pools, weights = demo.Pools(rng), [r.weight for r in demo.RULES]
    analyst, responder = users[EMAIL], users["responder@bench.test"]
    started = time.perf_counter()
    alerts, observables = [], []
    for number in range(1, count + 1):
        rule = rng.choices(demo.RULES, weights)[0]
        ctx = pools.context(rule)
        if number % 97 == 0:
            ctx["ext_ip"] = SEARCH_IP  # one indicator seen in about 1% of alerts, for the q= filter
        first = now - timedelta(minutes=rng.uniform(1, 90 * 24 * 60))
        last = min(first + timedelta(minutes=rng.expovariate(1 / 90)), now)
        severity = SEVERITY_FROM_ID[rule.severity_id]
        status, reason = _alert_status(rng, now - last)
        ack = first + timedelta(minutes=rng.uniform(2, 240)) if status != "new" else None
        assignee = (analyst if rng.random() < 0.6 else responder) if status in ("acknowledged", "in_progress") \
            else (analyst if rng.random() < 0.1 else None)
        alerts.append({
            "tenant_id": tenant_id, "public_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "number": number, "title": rule.title.format(**ctx), "description": (rule.desc or "").format(**ctx),
            "severity": severity, "severity_rank": SEVERITY_RANK[AlertSeverity(severity)], "status": status,
            "close_reason": reason, "source": demo.PRODUCTS[rule.source][0], "rule_name": rule.name,
            "techniques": list(rule.techniques), "raw_event": demo.ocsf_event(rule, ctx, first, f"bench-{number}"),
            "fingerprint": hashlib.sha256(f"{rule.name}|{ctx['host']}|{number}".encode()).hexdigest(),
            "first_seen": first, "last_seen": last, "occurrences": 1 + int(rng.expovariate(0.5)),
            "assignee_id": assignee, "acknowledged_at": ack,
            "closed_at": max(ack, last) + timedelta(minutes=30) if status == "closed" else None,
            "created_at": first, "updated_at": last,
        })
        for key in demo.SHAPES[rule.shape]:
            kind, value = normalise(kinds[key], ctx[key])
            observables.append((number, kind, value))
    _insert(conn, Alert.__table__, alerts)
    conn.execute(AlertSettings.__table__.insert(), {"tenant_id": tenant_id, "fingerprint_fields":
                                                    ["source", "rule_name", "primary_observable"],
                                                    "dedup_window_minutes": 1440, "last_number": count,
                                                    "updated_at": now})
    table = Alert.__table__
    ids = dict(conn.execute(sa.select(table.c.number, table.c.id).where(table.c.tenant_id == tenant_id)).all())
    _insert(conn, AlertObservable.__table__, [{"tenant_id": tenant_id, "alert_id": ids[n], "kind": k, "value": v}
                                              for n, k, v in observables])
    print(f"  {count:,} alerts and {len(observables):,} observables in {time.perf_counter() - started:.1f} s",
          flush=True)
    return [ids[n] for n in range(1, count + 1)]


CASE_TITLES = ("Phishing: invoice lure to finance", "Ransomware precursor on {host}",
               "Credential stuffing against Okta", "AI abuse: prompt injection in support-copilot",
               "C2 beaconing from {host}", "Crypto-mining in the dev AWS account", "Impossible travel for {user}",
               "Malware blocked on {host}")
CATEGORIES = ("initial_access", "execution", "persistence", "lateral_movement", "exfiltration",
              "containment_action", "communication", "other")
STATUSES = ("new", "triage", "investigating", "contained", "eradicated", "recovered", "closed")


def _generate_cases(conn, tenant_id: int, users: dict, rng: random.Random, now, count: int, timeline: int,
                    alert_ids: list[int]) -> dict:
    from app.soc import demo
    from app.soc.cases.models import Case, CaseAlertLink, CaseCounter, CaseTask, TimelineEntry

    started = time.perf_counter()
    pools, analyst = demo.Pools(rng), users[EMAIL]
    cases, entries, tasks, links = [], [], [], []
    linkable = iter(rng.sample(alert_ids, min(len(alert_ids), count * 3)))

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def entry(case_id: int, kind: str, at, **fields) -> None:
        entries.append({"tenant_id": tenant_id, "public_id": uid(), "case_id": case_id, "kind": kind,
                        "occurred_at": at, "recorded_at": at, "author_id": analyst, "author_label": EMAIL,
                        "category": None, "asset": "", "body": "", "details": None, "attachment_id": None,
                        "edited_at": None, **fields})

    for number in range(1, count + 1):
        ctx = pools.context(demo.RULES[0])
        opened = now - timedelta(hours=rng.uniform(1, 90 * 24))
        status = rng.choices(STATUSES, (5, 5, 10, 5, 3, 3, 69))[0]
        # Explicit ids (the database is new and empty) let entries, tasks and links name their case.
        cases.append({"tenant_id": tenant_id, "id": number, "public_id": uid(), "number": number,
                      "title": rng.choice(CASE_TITLES).format(**ctx), "description": "Generated for the benchmark.",
                      "severity": rng.choice(("low", "medium", "medium", "high", "critical")), "status": status,
                      "assignee_id": analyst if rng.random() < 0.7 else None, "tags": ["bench"],
                      "techniques": ["T1566"], "template": None,
                      "resolution": "Resolved." if status == "closed" else None,
                      "closed_at": opened + timedelta(hours=30) if status == "closed" else None,
                      "merged_into_id": None, "created_at": opened, "updated_at": opened})
        entry(number, "status_change", opened + timedelta(minutes=5), body=f"new → {status}",
              details={"from": "new", "to": status})
        entry(number, "comment", opened + timedelta(minutes=9), body="Looked at the linked alerts; see below.")
        for position in (1, 2):
            tasks.append({"tenant_id": tenant_id, "public_id": uid(), "case_id": number, "title": f"Step {position}",
                          "assignee_id": None, "due_at": None, "done_at": None, "done_by_id": None,
                          "position": position, "created_at": opened})
        for alert_id in [next(linkable, None) for _ in range(2)]:
            if alert_id is not None:
                links.append({"tenant_id": tenant_id, "alert_id": alert_id, "case_id": number, "linked_at": opened,
                              "linked_by_id": analyst, "linked_by_label": EMAIL})
    big = count  # the newest case carries the long timeline
    opened = now - timedelta(days=20)
    for n in range(timeline - 2):
        at = opened + timedelta(minutes=40 * n)
        kind = ("event", "event", "event", "comment", "alert_link", "task_done", "status_change")[n % 7]
        if kind == "event":
            entry(big, kind, at, category=CATEGORIES[n % len(CATEGORIES)], asset=f"ws-{n % 300:04d}.corp.acme.example",
                  body=f"Observed step {n}: `cmd.exe /c whoami` from the beacon, then a share listing.",
                  recorded_at=at + timedelta(hours=2))
        elif kind == "comment":
            entry(big, kind, at, body=f"**Update {n}**\n\n- scope unchanged\n- next: check `{SEARCH_IP}` in proxy logs")
        elif kind == "alert_link":
            entry(big, kind, at, body=f"ALR-{n} linked", details={"alert": str(uuid.UUID(int=n, version=4)),
                                                                  "reference": f"ALR-{n}"})
        elif kind == "task_done":
            entry(big, kind, at, body="Collected memory image")
        else:
            entry(big, kind, at, body="investigating → contained", details={"from": "investigating",
                                                                           "to": "contained"})
    _insert(conn, Case.__table__, cases)
    conn.execute(CaseCounter.__table__.insert(), {"tenant_id": tenant_id, "last_number": count})
    for table, rows in ((TimelineEntry.__table__, entries), (CaseTask.__table__, tasks),
                        (CaseAlertLink.__table__, links)):
        _insert(conn, table, rows)
    print(f"  {count:,} cases, {len(entries):,} timeline entries, {len(tasks):,} tasks, {len(links):,} alert links "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return {"big_case": cases[big - 1]["public_id"]}


# --- measuring -----------------------------------------------------------------------------


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (values or [0.0])[0]


def row(name: str, result, bare_rate: float | None) -> tuple[str, float, float]:
    if not result.latencies:  # the time cap ran out during the warm-up: nothing was timed
        print(f"| {name} | 0 | — | — | — | — | — | no: nothing answered within the time cap |", flush=True)
        return name, 0.0, float("inf")
    rate = len(result.latencies) / result.wall if result.wall else 0.0
    p50, p99 = quantile(result.latencies, 50) * 1000, quantile(result.latencies, 99) * 1000
    ratio = f"{rate / bare_rate:.0%}" if bare_rate else "—"
    verdict = ""
    if bare_rate:
        why = [text for text, missed in ((f"ratio {rate / bare_rate:.0%}", rate < TARGET_RATIO * bare_rate),
                                         (f"p99 {p99:.0f} ms", p99 > TARGET_P99_MS)) if missed]
        verdict = "no: " + ", ".join(why) if why else "yes"
    other = {s: n for s, n in result.statuses.items() if s != 200}
    problems = f"{other or ''}{' errors=' + str(result.errors) if result.errors else ''}"
    print(f"| {name} | {len(result.latencies)} | {rate:,.0f} | {ratio} | {p50:.1f} | {p99:.1f} | "
          f"{max(result.latencies) * 1000:.0f} | {verdict} {problems}|", flush=True)
    return name, rate, p99


def time_counts(instance: Path, repeat: int) -> list[tuple[str, list[float]]]:
    """The dashboard's SOC figures, in-process, one call after another (no HTTP, no template)."""
    from app import create_app
    from app.core.db import db
    from app.core.tenancy import Tenant, tenant_context
    from app.home.queries import soc_overview
    from app.soc.queries import alert_counts

    app = create_app({"instance_path": str(instance), "secret_key": SECRET_KEY})
    out = []
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "bench"))
        with tenant_context(tenant):
            for name, fn in (("`soc_overview()`: severity, status, sources, 30-day volume, open cases", soc_overview),
                             ("`alert_counts()`: severity, status, source", alert_counts)):
                fn()
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - started)
                    db.session.rollback()
                out.append((name, times))
        db.engine.dispose()
    return out


def _api_key(instance: Path) -> str:
    """A fresh alerts:write key for tenant bench (for --reuse runs)."""
    from app import create_app
    from app.core.actors import system_actor
    from app.core.db import db
    from app.core.tenancy import Tenant, tenant_context
    from app.identity.api_keys import create_api_key

    app = create_app({"instance_path": str(instance), "secret_key": SECRET_KEY})
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "bench"))
        with tenant_context(tenant):
            _key, raw = create_api_key(actor=system_actor(tenant, "bench"), name="bench ingest",
                                       scopes=["alerts:write"])
        db.engine.dispose()
    return raw


def ingest(port: int, api_key: str, *, batches: int, size: int, clients: int, salt: int, timeout: float):
    """POST /api/v1/alerts/submit: `batches` batches of `size` new events from `clients` connections.

    Every event has its own source IP, so each one becomes a new alert (the expensive path), in
    the tenant that already holds the generated alerts. Returns (events, seconds, batch latencies).
    """
    import json

    from bench.bench_ingest import make_batches

    bodies = [json.dumps({"events": b}).encode() for b in make_batches(batches, size, salt)]
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    latencies, failures, lock = [], [], threading.Lock()

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        for body in mine:
            started = time.perf_counter()
            conn.request("POST", "/api/v1/alerts/submit", body=body, headers=headers)
            res = conn.getresponse()
            answer = res.read()
            took = time.perf_counter() - started
            created = json.loads(answer).get("data", {}).get("created") if res.status == 200 else None
            with lock:
                latencies.append(took)
                if created != size:
                    failures.append(f"{res.status} created={created}: {answer[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"ingest: {len(failures)} batches not fully created, first: {failures[0]}")
    return batches * size, wall, latencies


def profile_paths(instance: Path, paths: list[str], repeat: int) -> None:
    """Per missed target: SQL time per request, the slowest statements, and the dominant functions."""
    import re

    from app import create_app
    from app.core.db import db

    app = create_app({"instance_path": str(instance), "secret_key": SECRET_KEY, "base_url": "http://127.0.0.1"})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    res = client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD})
    assert res.status_code == 303, res.status_code
    with app.app_context():
        engine = db.engine
    for path in paths:
        statements: dict[str, list[float]] = {}

        def before(conn, _cursor, _statement, _params, context, _many):
            context._bench_started = time.perf_counter()

        def after(conn, _cursor, statement, _params, context, _many, statements=statements):
            statements.setdefault(" ".join(statement.split())[:160], []).append(
                time.perf_counter() - context._bench_started)

        client.get(path)
        sa.event.listen(engine, "before_cursor_execute", before)
        sa.event.listen(engine, "after_cursor_execute", after)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(repeat):
            assert client.get(path).status_code == 200
        profiler.disable()
        total = (time.perf_counter() - started) / repeat * 1000
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
        sql = sum(sum(v) for v in statements.values()) / repeat * 1000
        print(f"\n### profile of `GET {path}` ({repeat} requests in-process, under cProfile)\n")
        # SQLite computes rows while they are fetched, so a slow scan shows in the function that
        # fetches (the cProfile lines) more than in cursor.execute (the statement lines).
        print(f"{total:.1f} ms per request; {sql:.1f} ms in cursor.execute "
              f"({sum(len(v) for v in statements.values()) / repeat:.0f} statements)\n")
        for statement, times in sorted(statements.items(), key=lambda kv: -sum(kv[1]))[:4]:
            print(f"- {sum(times) / repeat * 1000:.1f} ms/request × {len(times) // repeat}: `{statement}`")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"app/|jinja2/environment", 12)
        print("\n```\n" + "\n".join(line for line in out.getvalue().splitlines()[-14:] if line.strip()) + "\n```")


def _big_case(instance: Path) -> str:
    """The public id of the case with the most timeline entries in a kept instance."""
    import sqlite3

    with sqlite3.connect(instance / "vigil.db") as conn:
        return conn.execute("SELECT c.public_id FROM cases c JOIN case_timeline_entries e ON e.case_id = c.id "
                            "GROUP BY c.id ORDER BY count(*) DESC LIMIT 1").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--timeline", type=int, default=500, help="entries on the big case's timeline")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per target")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per connection first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--max-seconds", type=float, default=60, help="time cap per target")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a client waits for one answer")
    parser.add_argument("--counts", type=int, default=200, help="timed in-process calls of the count queries")
    parser.add_argument("--ingest-batches", type=int, default=40, help="batches of --batch-size for ingest")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--ingest-clients", default="1,2", help="concurrent submitters, one run each")
    parser.add_argument("--only", help="measure only the page targets whose path contains one of these "
                                       "comma-separated strings")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after generating (the app never does)")
    parser.add_argument("--profile", action="store_true", help="profile the targets that miss, in-process")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder and print its path")
    parser.add_argument("--reuse", type=Path, help="measure an instance kept by an earlier --keep run")
    args = parser.parse_args()

    instance = args.reuse or Path(tempfile.mkdtemp(prefix="vigil-bench-soc-"))
    keep = args.keep or args.reuse is not None
    servers = []
    begun = time.monotonic()
    try:
        if args.reuse:
            info = {"big_case": _big_case(instance), "api_key": _api_key(instance)}
            print(f"reusing {instance}", flush=True)
        else:
            print(f"generating {args.alerts:,} alerts and {args.cases:,} cases in {instance} …", flush=True)
            info = generate_soc_data(instance, alerts=args.alerts, cases=args.cases, timeline=args.timeline)
            print(f"generated in {info['seconds']:.1f} s", flush=True)
        if args.analyze:
            import sqlite3

            with sqlite3.connect(instance / "vigil.db") as conn:
                conn.execute("ANALYZE")

        print(f"\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}, gunicorn gthread {args.workers} worker(s) × {args.threads} "
              f"threads, {args.clients} keep-alive connections, {args.requests} timed requests per target, "
              f"SQLite{' (ANALYZE run)' if args.analyze else ''}\n")

        def bare_run(label: str) -> float:
            bare = start_gunicorn("bare", "bench.bench_requests:bare_app", {}, args, "/bare", READY_SECONDS)
            servers.append(bare)
            _name, rate, _p99 = row(f"bare Flask `GET /bare` ({label})", hammer("bare", bare.port, "/bare", {}, "ok",
                                                                              args), None)
            bare.stop()
            return rate

        print("| target | requests | req/s | vs bare | p50 ms | p99 ms | max ms | target met |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        bare_rate = bare_run("before")

        env = {"VIGIL_INSTANCE_PATH": str(instance), "VIGIL_SECRET_KEY": SECRET_KEY,
               "VIGIL_BASE_URL": "http://127.0.0.1", "VIGIL_API_KEY_RATE": "1000000 per minute"}
        cookie = None
        # The first target is the floor of any signed-in request: the queue's "N new alerts" poll
        # (HTMX), i.e. session, membership and tenant checks, one indexed count (nothing new) and a 300-byte fragment.
        targets = [("/soc/alerts/new-count?after=999999999", 'id="new-alerts"'), ("/soc/alerts", "ALR-"),
                   ("/soc/alerts?status=new", "ALR-"),
                   ("/soc/alerts?severity=critical", "ALR-"), ("/soc/alerts?source=Okta", "ALR-"),
                   ("/soc/alerts?assignee=me", "ALR-"), ("/soc/alerts?window=24h", "ALR-"),
                   (f"/soc/alerts?q={SEARCH_IP}", "ALR-"), (f"/soc/cases/{info['big_case']}", "CASE-"),
                   ("/dashboard", "open alerts")]
        wanted = [w for w in (args.only or "").split(",") if w]
        targets = [t for t in targets if not wanted or any(w in t[0] for w in wanted)]
        results, missed = [], []
        for path, expect in targets:
            # A fresh server per target: requests a slow target left queued must not slow the next one.
            vigil = start_gunicorn("vigil", "app:create_app()", env, args, "/health", READY_SECONDS)
            servers.append(vigil)
            cookie = cookie or {"Cookie": sign_in(vigil.port, EMAIL, PASSWORD)}
            headers = {**cookie, **({"HX-Request": "true"} if "new-count" in path else {})}
            results.append((path, hammer(path, vigil.port, path, headers, expect, args)))
            vigil.stop()
        bare_after = bare_run("after")
        floor = (bare_rate + bare_after) / 2
        print(f"\nVigil's targets against the mean of the two bare runs ({floor:,.0f} req/s):\n")
        print("| target | requests | req/s | vs bare | p50 ms | p99 ms | max ms | target met (≥ 20%, p99 ≤ 100 ms) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for path, result in results:
            _name, rate, p99 = row(f"`GET {path}`", result, floor)
            if rate < TARGET_RATIO * floor or p99 > TARGET_P99_MS:
                missed.append(path)

        print("\n| SOC counts, in-process | calls | p50 ms | p99 ms | max ms |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, times in time_counts(instance, args.counts):
            print(f"| {name} | {len(times)} | {quantile(times, 50) * 1000:.2f} | {quantile(times, 99) * 1000:.2f} "
                  f"| {max(times) * 1000:.2f} |", flush=True)

        print(f"\n| ingest `POST /api/v1/alerts/submit`, batches of {args.batch_size} | events | events/s "
              f"| batch p50 ms | batch p99 ms | target met (≥ 10,000/s) |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        # A fresh second octet per run, so a --reuse run's events are new alerts, not duplicates of the last run's.
        first_salt = random.SystemRandom().randrange(100, 250)
        for salt, clients in enumerate(int(c) for c in args.ingest_clients.split(",") if c):
            vigil = start_gunicorn("vigil", "app:create_app()", env, args, "/health", READY_SECONDS)
            servers.append(vigil)
            events, seconds, lat = ingest(vigil.port, info["api_key"], batches=args.ingest_batches,
                                          size=args.batch_size, clients=clients, salt=(first_salt + salt) % 256,
                                          timeout=args.timeout)
            vigil.stop()
            rate = events / seconds
            print(f"| {clients} submitter(s) | {events:,} | {rate:,.0f} | {quantile(lat, 50) * 1000:.0f} | "
                  f"{quantile(lat, 99) * 1000:.0f} | {'yes' if rate >= 10_000 else f'no: {rate / 10_000:.0%}'} |",
                  flush=True)

        print(f"\nmissed (ratio < {TARGET_RATIO:.0%} of bare or p99 > {TARGET_P99_MS:.0f} ms): {missed or 'none'}")
        print(f"whole run: {time.monotonic() - begun:.0f} s, load average now {os.getloadavg()[0]:.1f}")
        if args.profile and missed:
            profile_paths(instance, missed, repeat=30)
        if keep:
            print(f"\ninstance kept in {instance}")
        return 0
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        if not keep:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
