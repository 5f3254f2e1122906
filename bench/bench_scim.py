"""SCIM provisioning speed: what an IdP's first full push and its daily lookups cost.

    .venv/bin/python bench/bench_scim.py [--users 1000]

On a throwaway SQLite instance (WAL), through the Flask test client with a real SCIM token
(auth, JSON, the services, audit records; no network hop), it times:

1. POST /Users for N new people (each creates the account, the membership, the SCIM record
   and two audit records);
2. GET /Users?filter=userName eq "…" (Okta and Entra look every user up before pushing);
3. GET /Users?startIndex=…&count=100 (a page of the full list);
4. PATCH /Groups/{id} adding one member to a group that already has N-1 (Okta's group push);
5. PATCH /Users/{id} active=false (deprovisioning: sessions and API keys revoked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def _row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return (f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {ms[int(len(ms) * 0.95) - 1]:.1f} | "
            f"{1000 / statistics.mean(ms):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    from flask_migrate import upgrade

    from app import create_app
    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context
    from app.identity.services import create_tenant
    from app.scim.tokens import create_scim_token

    instance = Path(tempfile.mkdtemp(prefix="vigil-bench-scim-"))
    app = create_app({"instance_path": str(instance), "database_url": f"sqlite:///{instance / 'bench.db'}",
                      "secret_key": SECRET_KEY, "base_url": "http://localhost"})
    with app.app_context():
        upgrade()
        tenant = create_tenant("bench", "Bench", actor_label="bench")
        with tenant_context(tenant):
            _token, raw = create_scim_token(actor=system_actor(tenant, "bench"), name="bench IdP")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {raw}", "Content-Type": "application/scim+json"}

    def call(method: str, path: str, body=None, expect: int = 200):
        res = client.open(f"/scim/v2{path}", method=method, headers=headers,
                          data=None if body is None else json.dumps(body))
        assert res.status_code == expect, (method, path, res.status_code, res.get_data(as_text=True)[:300])
        return res.get_json(silent=True)

    ids: list[str] = []

    def create(i: int) -> None:
        ids.append(call("POST", "/Users", {"userName": f"person{i}@bench.example", "externalId": f"ext{i}",
                                           "name": {"givenName": "Person", "familyName": str(i)}}, 201)["id"])

    rows = [_row("POST /Users (new person)", _timed(create, args.users))]
    rows.append(_row(f"GET /Users?filter=userName eq (of {args.users})",
                     _timed(lambda i: call("GET", f'/Users?filter=userName eq "person{i * 7 % args.users}'
                                                  f'@bench.example"'), 200)))
    rows.append(_row("GET /Users page of 100",
                     _timed(lambda i: call("GET", f"/Users?startIndex={1 + i * 100 % args.users}&count=100"), 20)))
    gid = call("POST", "/Groups", {"displayName": "Everyone", "members": [{"value": v} for v in ids[:-50]]},
               201)["id"]
    rows.append(_row(f"PATCH /Groups add 1 member (group of ~{args.users - 50})",
                     _timed(lambda i: call("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
                         {"op": "add", "path": "members", "value": [{"value": ids[-50 + i]}]}]}), 50)))
    rows.append(_row("PATCH /Users active=false",
                     _timed(lambda i: call("PATCH", f"/Users/{ids[i]}", {"schemas": [PATCH], "Operations": [
                         {"op": "replace", "path": "active", "value": False}]}), 100)))
    print("| operation | n | median ms | p95 ms | per second |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
