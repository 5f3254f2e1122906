"""Requests per second and latency of Vigil's main pages, beside a bare Flask route.

    .venv/bin/python bench/bench_requests.py [--requests 3000] [--clients 4] [--workers 1] [--threads 4]

What it does, all on loopback, and it stops by itself (a fixed number of requests per target,
and a time cap):

1. builds a throwaway instance folder with a SQLite database, migrated and seeded with the demo,
   and an API key for tenant `acme`;
2. serves the app's WSGI callable (`app:create_app()`) with gunicorn (gthread), as production
   does, in a separate process; then, the same way, a bare `Flask()` app with one route;
3. signs in as the demo admin over HTTP (CSRF token, session cookie), then from a few client
   threads, each on its own keep-alive connection, sends the same request N times and times each.

The bare route is the floor: what gunicorn, Flask and this Python client cost with no
application work. The difference is what Vigil's own code (session, tenancy, database, templates,
CSP headers) costs per request. The API key's rate limit is raised for the run (the limiter
still counts every request), or it would answer 429 after 1000 requests a minute.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"

bare_app = Flask("bare")


@bare_app.get("/bare")
def bare() -> str:
    return "ok"


# --- set-up -------------------------------------------------------------------------------


def prepare_instance(instance: Path) -> str:
    """Migrate and seed a fresh SQLite database; return a raw API key for tenant acme."""
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from app import create_app
    from app.core.actors import system_actor
    from app.core.db import db
    from app.core.tenancy import Tenant, tenant_context
    from app.demo import seed
    from app.identity.api_keys import create_api_key

    app = create_app({"instance_path": str(instance), "secret_key": SECRET_KEY, "jobs_immediate": True})
    with app.app_context():
        upgrade()
        seed()
        acme = db.session.scalar(db.select(Tenant).where(Tenant.slug == "acme"))
        with tenant_context(acme):
            _key, raw = create_api_key(actor=system_actor(acme, "bench"), name="bench", scopes=["users:read"])
        db.engine.dispose()
    return raw


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_gunicorn(name: str, target: str, env: dict[str, str], args, ready_path: str,
                   ready_seconds: float = 30) -> Server:
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn) if gunicorn.exists() else "gunicorn", "--bind", f"{HOST}:{port}",
               "--worker-class", "gthread", "--workers", str(args.workers), "--threads", str(args.threads),
               "--log-level", "warning", "--chdir", str(ROOT), target]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    server = Server(name, process, port)
    deadline = time.monotonic() + ready_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name}: gunicorn exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", ready_path)
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name}: not ready on port {port} after {ready_seconds:.0f} s")


# --- the client ---------------------------------------------------------------------------


def _cookie(response: http.client.HTTPResponse, name: str) -> str | None:
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0]
    return None


def sign_in(port: int, email: str, password: str) -> str:
    """Sign in through the real form; return the session cookie ("vigil_session=...")."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request("GET", "/login")
    res = conn.getresponse()
    html = res.read().decode()
    cookie = _cookie(res, "vigil_session")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not (cookie and token):
        raise SystemExit("sign-in page gave no session cookie or CSRF token")
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email, "password": password})
    conn.request("POST", "/login", body=body, headers={"Cookie": cookie,
                                                       "Content-Type": "application/x-www-form-urlencoded"})
    res = conn.getresponse()
    res.read()
    signed_in = _cookie(res, "vigil_session")
    if res.status != 303 or not signed_in or not res.getheader("Location", "").endswith("/dashboard"):
        raise SystemExit(f"sign-in failed: {res.status} {res.getheader('Location')}")
    conn.close()
    return signed_in


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    wall: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def row(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100) if len(self.latencies) > 1 else [0.0] * 99
        done = len(self.latencies)
        other = {s: n for s, n in self.statuses.items() if s != 200}
        problems = f"{other or ''}{' errors=' + str(self.errors) if self.errors else ''}"
        return (f"| {self.name} | {done} | {done / self.wall:,.0f} | {cuts[49] * 1000:.2f} | {cuts[94] * 1000:.2f} "
                f"| {max(self.latencies) * 1000:.1f} | {problems} |")


def hammer(name: str, port: int, path: str, headers: dict[str, str], expect: str, args) -> Result:
    """`args.requests` requests from `args.clients` keep-alive connections; bounded by `args.max_seconds`.

    `args.timeout` (10 s when absent) is how long a client waits for one answer: at 32 connections
    a slow page queues for seconds, and a client that gives up early leaves its request running on
    the server, so the run turns into a retry storm that measures nothing (bench_soc sets 60 s).
    """
    result = Result(name)
    lock = threading.Lock()
    per_client = args.requests // args.clients
    deadline = time.monotonic() + args.max_seconds
    timeout = getattr(args, "timeout", 10)

    def check_once() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        body = res.read().decode(errors="replace")
        conn.close()
        if res.status != 200 or expect not in body:
            raise SystemExit(f"{name}: GET {path} answered {res.status} without {expect!r}: {body[:300]}")

    def client(count: int, record: bool) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        latencies, statuses, errors = [], {}, 0
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                res = conn.getresponse()
                res.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
                continue
            latencies.append(time.perf_counter() - started)
            statuses[res.status] = statuses.get(res.status, 0) + 1
            if res.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.close()
        if record:
            with lock:
                result.latencies.extend(latencies)
                result.errors += errors
                for status, n in statuses.items():
                    result.statuses[status] = result.statuses.get(status, 0) + n

    check_once()
    warm = [threading.Thread(target=client, args=(args.warmup, False)) for _ in range(args.clients)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    threads = [threading.Thread(target=client, args=(per_client, True)) for _ in range(args.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall = time.perf_counter() - started
    return result


# --- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per target (default 3000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads, one keep-alive connection each")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per client first")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--max-seconds", type=float, default=120, help="time cap per target")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    servers: list[Server] = []
    try:
        api_key = prepare_instance(instance)
        results = []

        bare_server = start_gunicorn("bare", "bench.bench_requests:bare_app", {}, args, "/bare")
        servers.append(bare_server)
        results.append(hammer("bare Flask `GET /bare`", bare_server.port, "/bare", {}, "ok", args))
        bare_server.stop()

        env = {"VIGIL_INSTANCE_PATH": str(instance), "VIGIL_SECRET_KEY": SECRET_KEY,
               "VIGIL_API_KEY_RATE": "1000000 per minute", "VIGIL_BASE_URL": "http://127.0.0.1"}
        vigil = start_gunicorn("vigil", "app:create_app()", env, args, "/health")
        servers.append(vigil)
        from app.demo import DEMO_PASSWORD

        session = sign_in(vigil.port, "admin@acme.test", DEMO_PASSWORD)
        results.append(hammer("`GET /login` (signed out)", vigil.port, "/login", {}, "Sign in", args))
        results.append(hammer("`GET /dashboard` (signed in)", vigil.port, "/dashboard", {"Cookie": session},
                              "Recent activity", args))
        results.append(hammer("`GET /api/v1/users/me` (API key)", vigil.port, "/api/v1/users/me",
                              {"Authorization": f"Bearer {api_key}"}, '"success":true', args))

        print(f"\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
              f"gunicorn gthread {args.workers} worker(s) x {args.threads} threads, {args.clients} client threads "
              f"(keep-alive), {args.requests} timed requests per target, SQLite\n")
        print("| target | requests | req/s | p50 ms | p95 ms | max ms | non-200 |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in results:
            print(r.row())
        failed = [r.name for r in results if r.ok != len(r.latencies) or r.errors]
        if failed:
            print(f"\nnon-200 answers or connection errors: {failed}", file=sys.stderr)
            return 1
        return 0
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
