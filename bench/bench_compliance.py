"""The compliance framework page at SP 800-53 size, beside bare Flask; and the score recompute time.

    .venv/bin/python bench/bench_compliance.py [--requests 2000] [--clients 4] [--workers 1] [--threads 4]

1. builds a throwaway instance (SQLite), migrates it, loads the framework library, and adds a
   synthetic catalog of 1,000 requirements (20 families of 50 controls and enhancements) with
   500 controls (each mapped to 2–4 requirements, most implemented) and 5,000 evidence items
   (accepted, pending, rejected and expired), all in one workspace that adopts every framework;
2. times `scores.scores()` for all adopted frameworks (in process, 20 runs) and the gap list;
3. serves bare Flask and Vigil with gunicorn gthread (as bench_requests.py does) and hammers
   `GET /bare` and `GET /compliance/frameworks/bench-catalog` as the signed-in compliance officer.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_requests import SECRET_KEY, Server, hammer, sign_in, start_gunicorn  # noqa: E402

FAMILIES, PER_FAMILY, CONTROLS, EVIDENCE = 20, 50, 500, 5000
EMAIL, PASSWORD = "officer@bench.test", "bench-password-0123456789"
FRAMEWORK_KEY = "bench-catalog"


def _catalog_doc():
    from app.compliance.loader import FrameworkDoc, NodeDoc

    families = []
    for f in range(FAMILIES):
        code = f"F{f + 1:02d}"
        leaves = [NodeDoc(ref=f"{code}-{n + 1}", title=f"Control {n + 1} of family {code}: keep it working",
                          kind="control", description="", children=[]) for n in range(PER_FAMILY)]
        families.append(NodeDoc(ref=code, title=f"Family {code}", kind="family", description="", children=leaves))
    return FrameworkDoc(file="(bench)", content_hash="bench", key=FRAMEWORK_KEY, name="Bench catalog (SP 800-53 size)",
                        short_name="Bench 1000", version="1", published=None, source="synthetic", licence="CC0",
                        description="", requirements=families)


def prepare(instance: Path) -> dict:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.compliance import scores, services
    from app.compliance.loader import load_library, sync_framework
    from app.compliance.models import (
        Control,
        ControlMapping,
        Evidence,
        EvidenceLink,
        Framework,
        Requirement,
    )
    from app.core.actors import system_actor
    from app.core.db import db, utcnow
    from app.core.tenancy import tenant_context
    from app.identity.services import add_member, create_tenant

    app = create_app({"instance_path": str(instance), "secret_key": SECRET_KEY, "jobs_immediate": True})
    figures = {}
    with app.app_context():
        upgrade()
        load_library()
        sync_framework(_catalog_doc())
        db.session.commit()
        tenant = create_tenant("bench", "Bench Ltd", actor_label="bench")
        with tenant_context(tenant):
            add_member(actor=system_actor(tenant), email=EMAIL, name="Bench Officer", role="compliance",
                       password=PASSWORD)
            actor = system_actor(tenant, "bench")
            for fw in db.session.scalars(sa.select(Framework)).all():
                services.adopt_framework(fw, actor=actor)
            fw = db.session.scalar(sa.select(Framework).where(Framework.key == FRAMEWORK_KEY))
            leaves = list(db.session.scalars(sa.select(Requirement.id).where(Requirement.framework_id == fw.id,
                                                                             Requirement.is_leaf)))
            rng = random.Random(53)
            # Bulk rows with the tenant set explicitly: the bench needs volume, not the services' audit trail.
            statuses = ["implemented"] * 7 + ["in_progress", "not_started", "not_applicable"]
            rows = []
            for n in range(CONTROLS):
                status = rng.choice(statuses)
                rows.append({"tenant_id": tenant.id, "public_id": f"00000000-0000-4000-8000-{n:012d}",
                             "key": f"BC-{n + 1:03d}", "name": f"Bench control {n + 1}", "description": "",
                             "status": status, "justification": "Not used" if status == "not_applicable" else "",
                             "created_at": utcnow(), "updated_at": utcnow()})
            db.session.execute(sa.insert(Control), rows)
            control_ids = list(db.session.scalars(sa.select(Control.id).where(Control.key.like("BC-%"))))
            mappings = set()
            for index, cid in enumerate(control_ids):
                mappings.add((cid, leaves[index * 2 % len(leaves)]))
                for _ in range(rng.randint(1, 3)):
                    mappings.add((cid, rng.choice(leaves)))
            db.session.execute(sa.insert(ControlMapping), [
                {"tenant_id": tenant.id, "control_id": c, "requirement_id": r, "created_at": utcnow()}
                for c, r in mappings])
            today = utcnow().date()
            ev_rows = []
            for n in range(EVIDENCE):
                review = rng.choice(["accepted"] * 6 + ["pending", "rejected"])
                until = today + timedelta(days=rng.choice([-30, 20, 200, 400]))
                ev_rows.append({"tenant_id": tenant.id, "public_id": f"00000000-0000-4000-9000-{n:012d}",
                                "title": f"Evidence {n + 1}", "kind": "link", "url": f"https://wiki.example/{n}",
                                "description": "", "valid_from": today - timedelta(days=300), "valid_until": until,
                                "review_status": review, "review_comment": "", "uploaded_by_label": "bench",
                                "created_at": utcnow()})
            db.session.execute(sa.insert(Evidence), ev_rows)
            ev_ids = list(db.session.scalars(sa.select(Evidence.id)))
            db.session.execute(sa.insert(EvidenceLink), [
                {"tenant_id": tenant.id, "evidence_id": e, "control_id": control_ids[i % len(control_ids)]}
                for i, e in enumerate(ev_ids)])
            db.session.commit()

            ids = scores.adopted_framework_ids()
            timings = []
            for _ in range(20):
                started = time.perf_counter()
                result = scores.scores(ids)
                timings.append(time.perf_counter() - started)
            figures["score_frameworks"] = len(ids)
            figures["score_median_ms"] = statistics.median(timings) * 1000
            figures["score_max_ms"] = max(timings) * 1000
            figures["bench_score"] = result[fw.id]
            started = time.perf_counter()
            gaps = scores.gaps(fw)
            figures["gaps_ms"] = (time.perf_counter() - started) * 1000
            figures["gaps"] = len(gaps)
            figures["rows"] = {"requirements": len(leaves), "controls": len(control_ids), "mappings": len(mappings),
                               "evidence": len(ev_ids)}
        db.engine.dispose()
    return figures


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--keep", action="store_true", help="keep the instance folder and print its path")
    parser.add_argument("--reuse", type=Path, help="serve an instance kept by an earlier --keep run")
    args = parser.parse_args()
    instance = args.reuse or Path(tempfile.mkdtemp(prefix="vigil-bench-compliance-"))
    servers: list[Server] = []
    try:
        if not args.reuse:
            figures = prepare(instance)
            print(f"data: {figures['rows']}; bench catalog score {figures['bench_score']}")
            print(f"scores for all {figures['score_frameworks']} adopted frameworks: median "
                  f"{figures['score_median_ms']:.1f} ms, max {figures['score_max_ms']:.1f} ms (20 runs); gap list of "
                  f"the 1,000-requirement catalog ({figures['gaps']} gaps): {figures['gaps_ms']:.1f} ms")
        bare = start_gunicorn("bare", "bench.bench_requests:bare_app", {}, args, "/bare")
        servers.append(bare)
        results = [hammer("bare Flask `GET /bare`", bare.port, "/bare", {}, "ok", args)]
        bare.stop()
        env = {"VIGIL_INSTANCE_PATH": str(instance), "VIGIL_SECRET_KEY": SECRET_KEY,
               "VIGIL_BASE_URL": "http://127.0.0.1"}
        vigil = start_gunicorn("vigil", "app:create_app()", env, args, "/health")
        servers.append(vigil)
        session = sign_in_officer(vigil.port)
        results.append(hammer(f"`GET /compliance/frameworks/{FRAMEWORK_KEY}`", vigil.port,
                              f"/compliance/frameworks/{FRAMEWORK_KEY}", {"Cookie": session}, "Bench 1000", args))
        results.append(hammer(f"`GET /compliance/frameworks/{FRAMEWORK_KEY}?gaps=1`", vigil.port,
                              f"/compliance/frameworks/{FRAMEWORK_KEY}?gaps=1", {"Cookie": session}, "Bench 1000",
                              args))
        print(f"\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, gunicorn "
              f"gthread {args.workers} worker(s) x {args.threads} threads, {args.clients} client threads, SQLite\n")
        print("| target | requests | req/s | p50 ms | p95 ms | max ms | non-200 |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in results:
            print(r.row())
        base = len(results[0].latencies) / results[0].wall
        for r in results[1:]:
            rate = len(r.latencies) / r.wall
            print(f"{r.name}: {100 * rate / base:.1f}% of bare Flask, p99 {p99(r.latencies):.1f} ms")
        return 0 if all(r.ok == len(r.latencies) and not r.errors for r in results) else 1
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        if args.keep or args.reuse:
            print(f"instance kept: {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


def sign_in_officer(port: int) -> str:
    """The sign-in of bench_requests.py, whose success check expects the dashboard."""
    return sign_in(port, EMAIL, PASSWORD)


if __name__ == "__main__":
    sys.exit(main())
