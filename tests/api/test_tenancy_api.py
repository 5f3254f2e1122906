"""The credential decides the tenant: another tenant's rows never show, and X-Tenant-ID cannot change it."""

from __future__ import annotations

from app.core.actors import system_actor
from app.core.tenancy import tenant_context
from app.identity.services import add_member
from tests import factories
from tests.api.conftest import assert_error, audit_actions, bearer, get_token


def _emails(res) -> set[str]:
    assert res.status_code == 200, res.json
    return {m["email"] for m in res.json["data"]}


def _populate(tenant_a, tenant_b):
    a = {factories.make_member(tenant_a, role=r).user.email for r in ("admin", "analyst", "auditor")}
    b = {factories.make_member(tenant_b, role=r).user.email for r in ("admin", "responder")}
    return a, b


def test_api_keys_see_only_their_tenants_members(client, tenant_a, tenant_b):
    a, b = _populate(tenant_a, tenant_b)
    _ka, raw_a = factories.make_api_key(tenant_a, scopes=["users:read"])
    _kb, raw_b = factories.make_api_key(tenant_b, scopes=["users:read"])
    assert _emails(client.get("/api/v1/users", headers=bearer(raw_a))) == a
    assert _emails(client.get("/api/v1/users", headers=bearer(raw_b))) == b


def test_user_tokens_see_only_their_tenants_members(client, tenant_a, tenant_b):
    a, b = _populate(tenant_a, tenant_b)
    admin_a = next(e for e in a if e.startswith("admin"))
    token = get_token(client, admin_a, tenant_a)
    assert _emails(client.get("/api/v1/users", headers=bearer(token))) == a


def test_a_member_of_both_tenants_sees_the_tenant_the_token_names(client, tenant_a, tenant_b):
    a, b = _populate(tenant_a, tenant_b)
    both = factories.make_member(tenant_a, role="auditor")
    with tenant_context(tenant_b):
        add_member(actor=system_actor(tenant_b, "test"), email=both.user.email, role="auditor")
    token_a = get_token(client, both.user.email, tenant_a)
    token_b = get_token(client, both.user.email, tenant_b)
    assert _emails(client.get("/api/v1/users", headers=bearer(token_a))) == a | {both.user.email}
    assert _emails(client.get("/api/v1/users", headers=bearer(token_b))) == b | {both.user.email}
    # The token for A cannot be pointed at B, although the user is a member there.
    res = client.get("/api/v1/users", headers=bearer(token_a, **{"X-Tenant-ID": tenant_b.slug}))
    assert_error(res, 403, "forbidden")


def test_another_tenants_member_is_404(client, tenant_a, tenant_b):
    member_b = factories.make_member(tenant_b)
    member_a = factories.make_member(tenant_a)
    _ka, raw_a = factories.make_api_key(tenant_a, scopes=["users:read"])
    assert client.get(f"/api/v1/users/{member_a.user.public_id}", headers=bearer(raw_a)).json["data"]["email"] \
        == member_a.user.email
    for object_id in (member_b.user.public_id, member_b.public_id):
        res = client.get(f"/api/v1/users/{object_id}", headers=bearer(raw_a))
        error = assert_error(res, 404, "not_found")
        assert member_b.user.email not in res.get_data(as_text=True)
        assert "no such member" in error["message"]


def test_x_tenant_id_of_another_tenant_is_403_and_audited(client, tenant_a, tenant_b):
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    for asked in (tenant_b.slug, tenant_b.public_id, "no-such-tenant"):
        res = client.get("/api/v1/users", headers=bearer(raw, **{"X-Tenant-ID": asked}))
        error = assert_error(res, 403, "forbidden")
        assert "X-Tenant-ID" in error["message"]
        assert "data" not in res.json or res.json["data"] is None
    records = audit_actions("api.tenant_mismatch")
    assert [r.after["asked"] for r in records] == [tenant_b.slug, tenant_b.public_id, "no-such-tenant"]
    assert {r.tenant_id for r in records} == {tenant_a.id}
    assert {r.actor_id for r in records} == {key.public_id}


def test_x_tenant_id_naming_the_credentials_own_tenant_is_fine(client, tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    for asked in (tenant_a.slug, tenant_a.public_id):
        assert client.get("/api/v1/users", headers=bearer(raw, **{"X-Tenant-ID": asked})).status_code == 200
    assert audit_actions("api.tenant_mismatch") == []
