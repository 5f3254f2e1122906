"""CPU time per request, in process, against a bare Flask route in the same process.

    .venv/bin/python bench/bench_cpu.py --instance DIR --email E --password P PATH [PATH ...]
                                        [--requests 100] [--profile] [--sort tottime]

The gunicorn benches (bench_requests, bench_soc, bench_compliance) measure what a user sees,
but on a shared 2-core machine their absolute figures move with every other process. This one
measures what a request costs: CPU seconds (`time.process_time`, so waiting for the scheduler is
not counted) per request through the Flask test client, signed in through the real form, for a
bare `Flask()` hello route and for each path, in the same process. Under gunicorn the server's
HTTP handling and the load generator add a cost to every request, so the gunicorn ratio comes out
higher than bare/page (about 2× for small answers here). `--profile` prints a cProfile of each
path; a path written `hx:/…` is sent with HX-Request, as HTMX sends fragment requests.

The instance is one kept by `bench_soc.py --keep` (analyst@bench.test / bench-analyst-password)
or built by `bench_compliance.prepare` (officer@bench.test / bench-password-0123456789).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import sys
import time
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_requests import SECRET_KEY  # noqa: E402


def cpu_ms(call, count: int) -> float:
    for _ in range(5):
        call()
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--instance", required=True, type=Path)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--filter", default=r"app/|jinja2/environment|html", help="cProfile file filter (regex)")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative or tottime")
    args = parser.parse_args()

    from app import create_app

    bare = Flask("bare")
    bare.get("/bare")(lambda: "ok")
    bare_client = bare.test_client()
    bare_ms = cpu_ms(lambda: bare_client.get("/bare"), 2000)

    app = create_app({"instance_path": str(args.instance), "secret_key": SECRET_KEY,
                      "base_url": "http://127.0.0.1"})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    res = client.post("/login", data={"csrf_token": token, "email": args.email, "password": args.password})
    if res.status_code != 303:
        raise SystemExit(f"sign-in failed: {res.status_code}")

    print("| path | CPU ms per request | KB | bare / page |\n| --- | ---: | ---: | ---: |")
    print(f"| bare Flask `GET /bare` | {bare_ms:.2f} | 0 | 100% |")
    for path in args.paths:
        # "hx:" before a path sends it as HTMX does (HX-Request), for fragment endpoints such as polls.
        headers = {"HX-Request": "true"} if path.startswith("hx:") else {}
        path = path.removeprefix("hx:")
        res = client.get(path, headers=headers)
        if res.status_code != 200:
            raise SystemExit(f"GET {path} answered {res.status_code}")
        ms = cpu_ms(lambda path=path, headers=headers: client.get(path, headers=headers), args.requests)
        print(f"| `GET {path}` | {ms:.2f} | {len(res.data) // 1024} | {bare_ms / ms:.1%} |", flush=True)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                client.get(path, headers=headers)
            profiler.disable()
            out = io.StringIO()
            restrictions = [args.filter, 25] if args.filter else [25]
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(*restrictions)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
