"""What each alert and observable index costs an ingest batch: pure sqlite3, one index dropped at a time.

    .venv/bin/python bench/bench_ingest_indexes.py [--batches 10] [--prefill 0] [--pragma "cache_size=-65536"]

Takes the schema of `alerts` and `alert_observables` from a freshly migrated database, then for
each variant (all indexes; each one dropped; none) makes a scratch database with that schema
(foreign keys off: no tenant rows), optionally fills it with `--prefill` alerts first (4
observables each, random fingerprints and uuid4 public ids, as a big tenant has), and times
batches of 500 alerts + 2,000 observables as the service writes them: one executemany per table,
the ids read back, one commit per batch (WAL, synchronous=NORMAL). No SQLAlchemy, no mapping:
only the database.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RAW = ('{"class_uid":2004,"category_uid":2,"activity_id":1,"type_uid":200401,"time":1764000000000,"severity_id":4,'
       '"message":"PowerShell downloaded and ran a script","metadata":{"version":"1.3.0","product":{"name":"Falcon",'
       '"vendor_name":"CrowdStrike"}},"finding_info":{"uid":"f-1","title":"Encoded PowerShell download cradle",'
       '"desc":"powershell.exe -enc fetched a remote script","analytic":{"name":"PS-Download-Cradle","type_id":1},'
       '"attacks":[{"technique":{"uid":"T1059"},"sub_technique":{"uid":"T1059.001"}}]},"device":{"hostname":'
       '"WS-0042.corp.example","ip":"10.0.4.42"},"actor":{"user":{"name":"jdoe"}},"observables":[{"name":'
       '"src_endpoint.ip","type_id":2,"value":"10.1.0.0"}]}')
COLUMNS = ("tenant_id", "public_id", "number", "title", "description", "severity", "severity_rank", "status",
           "close_reason", "source", "rule_name", "techniques", "raw_event", "fingerprint", "first_seen",
           "last_seen", "occurrences", "assignee_id", "acknowledged_at", "closed_at", "created_at", "updated_at")
INSERT_ALERT = f"INSERT INTO alerts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
INSERT_OBSERVABLE = "INSERT INTO alert_observables (tenant_id, alert_id, kind, value) VALUES (?, ?, ?, ?)"


def schema() -> tuple[list[str], dict[str, str]]:
    """CREATE TABLE and CREATE INDEX statements of the two tables, from a migrated database."""
    from flask_migrate import upgrade

    from app import create_app

    instance = Path(tempfile.mkdtemp(prefix="vigil-bench-indexes-"))
    app = create_app({"instance_path": str(instance), "secret_key": "bench-indexes-secret-key-0123456789abcdef"})
    with app.app_context():
        upgrade()
    conn = sqlite3.connect(instance / "vigil.db")
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ('alerts', 'alert_observables') "
                        "AND sql IS NOT NULL ORDER BY type DESC").fetchall()
    conn.close()
    return [sql for kind, _name, sql in rows if kind == "table"], {name: sql for kind, name, sql in rows
                                                                   if kind == "index"}


def rows(start: int, count: int, *, ordered_ids: bool) -> tuple[list[tuple], list[list[tuple[str, str]]]]:
    alerts, observables = [], []
    for n in range(start, start + count):
        at = f"2026-11-{1 + n // 86_400_000 % 28:02d} {n // 3_600_000 % 24:02d}:{n // 60_000 % 60:02d}:" \
             f"{n // 1000 % 60:02d}.{n % 1000:03d}000"
        public_id = f"{n:012x}-{uuid.uuid4()}"[:36] if ordered_ids else str(uuid.uuid4())
        alerts.append((1, public_id, n, "Encoded PowerShell download cradle", "powershell.exe -enc fetched a script",
                       "high", 4, "new", None, "Falcon", "PS-Download-Cradle", '["T1059", "T1059.001"]', RAW,
                       hashlib.sha256(str(n).encode()).hexdigest(), at, at, 1, None, None, None, at, at))
        observables.append([("ip", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"), ("host", "ws-0042.corp.example"),
                            ("ip", "10.0.4.42"), ("user", "jdoe")])
    return alerts, observables


def write(conn: sqlite3.Connection, alerts: list[tuple], observables: list[list[tuple[str, str]]]) -> None:
    conn.executemany(INSERT_ALERT, alerts)
    ids = [i for (i,) in conn.execute("SELECT id FROM alerts WHERE tenant_id = 1 AND number BETWEEN ? AND ? "
                                      "ORDER BY number", (alerts[0][2], alerts[-1][2]))]
    conn.executemany(INSERT_OBSERVABLE, [(1, i, k, v) for i, obs in zip(ids, observables, strict=True)
                                         for k, v in obs])


def measure(label: str, tables: list[str], indexes: dict[str, str], args) -> None:
    path = Path(tempfile.gettempdir()) / "vigil-bench-indexes-scratch.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for sql in (*tables, *indexes.values()):
        conn.execute(sql)
    for start in range(10_000_000, 10_000_000 + args.prefill, 5000):  # numbers apart from the timed ones
        conn.execute("BEGIN")
        write(conn, *rows(start, min(5000, 10_000_000 + args.prefill - start), ordered_ids=False))
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA synchronous=NORMAL")
    for pragma in args.pragma:
        conn.execute(f"PRAGMA {pragma}")
    batches = [rows(b * 500, 500, ordered_ids=args.ordered_ids) for b in range(args.batches)]
    inserting = committing = 0.0
    for alerts, observables in batches:
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        write(conn, alerts, observables)
        written = time.perf_counter()
        conn.execute("COMMIT")
        inserting += written - started
        committing += time.perf_counter() - written
    conn.close()
    total = args.batches * 500
    print(f"| {label} | {total / (inserting + committing):,.0f} | {inserting / args.batches * 1000:.1f} "
          f"| {committing / args.batches * 1000:.1f} |", flush=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--prefill", type=int, default=0, help="alerts written (untimed) before the batches")
    parser.add_argument("--pragma", action="append", default=[], help="e.g. cache_size=-65536 (repeatable)")
    parser.add_argument("--ordered-ids", action="store_true", help="time-ordered public ids in the timed batches")
    parser.add_argument("--only", help="comma-separated variants: all, none, or index names to drop")
    args = parser.parse_args()
    tables, indexes = schema()
    variants = [("all indexes", {})] + [(f"without {name}", {name}) for name in indexes] + \
               [("no secondary indexes", set(indexes))]
    if args.only:
        wanted = args.only.split(",")
        variants = [v for v in variants if any(w in v[0] for w in wanted)]
    print(f"{args.batches} batches of 500 alerts + 2,000 observables, pure sqlite3 {sqlite3.sqlite_version}, "
          f"prefill {args.prefill:,}, pragmas {args.pragma or 'default'}, pid {os.getpid()}\n")
    print("| variant | alerts/s | insert ms/batch | commit ms/batch |")
    print("| --- | ---: | ---: | ---: |")
    for label, dropped in variants:
        measure(label, tables, {n: s for n, s in indexes.items() if n not in dropped}, args)


if __name__ == "__main__":
    main()
