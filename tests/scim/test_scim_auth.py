"""Who may call /scim/v2: only a live SCIM token, and only for its own tenant's resources."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.scim.models import ScimToken
from app.scim.tokens import revoke_scim_token
from tests import factories
from tests.scim.conftest import okta_user


def test_missing_malformed_and_unknown_tokens_are_401(tenant_a, raw_scim):
    scim = raw_scim(None)
    res = scim("GET", "/Users")
    assert res.status_code == 401 and res.json["status"] == "401"
    assert res.headers["WWW-Authenticate"] == 'Bearer realm="vigil-scim"'
    res = scim("GET", "/Users", token="vsc_not-a-real-token")
    assert res.status_code == 401 and 'error="invalid_token"' in res.headers["WWW-Authenticate"]
    res = scim.http.get("/scim/v2/Users", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert res.status_code == 401


def test_a_revoked_token_is_401_at_once_and_audited(tenant_a, scim_token, raw_scim):
    raw = scim_token(tenant_a, "Entra")
    scim = raw_scim(raw)
    assert scim("GET", "/Users").status_code == 200
    with tenant_context(tenant_a):
        token = db.session.scalar(sa.select(ScimToken))
        assert token.last_used_at is not None  # shown on the admin page
        revoke_scim_token(token, actor=system_actor(tenant_a, "test"))
    res = scim("POST", "/Users", okta_user("late@corp.example"))
    assert res.status_code == 401 and "revoked" in res.json["detail"]
    rejected = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "scim.token_rejected"))
    assert rejected.tenant_id == tenant_a.id and rejected.actor_label == "SCIM token Entra"


def test_api_keys_and_scim_tokens_are_not_interchangeable(app, tenant_a, scim_token, raw_scim):
    _key, api_key = factories.make_api_key(tenant_a, scopes=["users:read"])
    assert raw_scim(api_key)("GET", "/Users").status_code == 401
    raw = scim_token(tenant_a)
    assert app.test_client().get("/api/v1/users/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_another_tenants_token_sees_nothing_of_this_tenant(tenant_a, tenant_b, scim_token, raw_scim):
    scim_a, scim_b = raw_scim(scim_token(tenant_a)), raw_scim(scim_token(tenant_b))
    uid = scim_a("POST", "/Users", okta_user("only.a@corp.example")).json["id"]
    gid = scim_a("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                     "displayName": "A team", "members": [{"value": uid}]}).json["id"]

    assert scim_b("GET", "/Users").json["totalResults"] == 0
    assert scim_b("GET", '/Users?filter=userName eq "only.a@corp.example"').json["totalResults"] == 0
    assert scim_b("GET", "/Groups").json["totalResults"] == 0
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "active", "value": False}]}
    for method, path, body in [
        ("GET", f"/Users/{uid}", None), ("PUT", f"/Users/{uid}", okta_user("only.a@corp.example")),
        ("PATCH", f"/Users/{uid}", patch), ("DELETE", f"/Users/{uid}", None),
        ("GET", f"/Groups/{gid}", None), ("PATCH", f"/Groups/{gid}", patch), ("DELETE", f"/Groups/{gid}", None),
    ]:
        res = scim_b(method, path, body)
        assert res.status_code == 404, f"{method} {path}: {res.status_code}"
    # Tenant B cannot put tenant A's user into one of its own groups either.
    res = scim_b("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                     "displayName": "B team", "members": [{"value": uid}]})
    assert res.status_code == 400 and res.json["scimType"] == "invalidValue"
    assert scim_a("GET", f"/Users/{uid}").json["active"] is True


def test_every_scim_route_with_an_id_is_404_across_tenants(app, tenant_a, tenant_b, scim_token, raw_scim):
    """The sweep of tests/tenancy/test_cross_tenant.py, for the bearer-token SCIM routes."""
    scim_a, scim_b = raw_scim(scim_token(tenant_a)), raw_scim(scim_token(tenant_b))
    uid = scim_a("POST", "/Users", okta_user("swept@corp.example")).json["id"]
    gid = scim_a("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                     "displayName": "Swept"}).json["id"]
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/scim/v2/") or "public_id" not in rule.arguments:
            continue
        for object_id in (uid, gid):
            path = rule.rule.removeprefix("/scim/v2").replace("<public_id>", object_id)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert scim_b(method, path, {}).status_code == 404, f"{method} {path}"
                checked += 1
    assert checked >= 8


def test_scim_changes_are_audited_in_the_tenant_as_the_token(tenant_a, tenant_b, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a, "Okta production"))
    uid = scim("POST", "/Users", okta_user("audited@corp.example")).json["id"]
    scim("PATCH", f"/Users/{uid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                    "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})
    records = list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action.like("scim.user%"))))
    assert [r.action for r in records] == ["scim.user_created", "scim.user_updated"]
    with tenant_context(tenant_a):
        token_id = db.session.scalar(sa.select(ScimToken.public_id))
    for record in records:
        assert record.tenant_id == tenant_a.id
        assert (record.actor_kind, record.actor_label, record.actor_id) == (
            "scim_token", "SCIM token Okta production", token_id)
    assert records[0].after["userName"] == "audited@corp.example"
