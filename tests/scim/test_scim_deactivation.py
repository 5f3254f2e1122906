"""Deactivation through SCIM ends access at once: web sessions, API keys and API tokens; nothing else changes."""

from __future__ import annotations

from urllib.parse import urlparse

import sqlalchemy as sa

from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity.api_keys import create_api_key
from app.identity.auth import member_actor
from app.identity.models import Membership, User
from tests import factories
from tests.conftest import csrf_from
from tests.scim.conftest import okta_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEACTIVATE = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}


def _their_api_key(membership: Membership) -> str:
    with tenant_context(membership.tenant):
        _key, raw = create_api_key(actor=member_actor(membership), name="their automation", scopes=["users:read"])
        return raw


def _jwt(client, email: str, tenant) -> str:
    res = client.post("/api/v1/auth/token", json={"email": email, "password": factories.PASSWORD,
                                                 "tenant": tenant.slug})
    assert res.status_code == 200, res.json
    return res.json["data"]["access_token"]


def _me(client, credential: str) -> int:
    return client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {credential}"}).status_code


def _signed_in_admin(login_as, tenant):
    factories.make_member(tenant, role="admin")  # a second admin, so this one may be deactivated
    return login_as("admin", tenant=tenant)


def test_deactivation_kills_the_session_api_key_and_token_at_once(client, login_as, tenant_a, scim_token, raw_scim):
    browser = _signed_in_admin(login_as, tenant_a)
    email = browser.membership.user.email
    api_key, jwt = _their_api_key(browser.membership), _jwt(client, email, tenant_a)
    assert browser.get("/dashboard").status_int == 200
    assert _me(client, api_key) == 200 and _me(client, jwt) == 200

    scim = raw_scim(scim_token(tenant_a))
    linked = scim("POST", "/Users", okta_user(email))  # the IdP takes over the existing member
    assert linked.status_code == 201
    assert scim("PATCH", f"/Users/{linked.json['id']}", DEACTIVATE).json["active"] is False

    res = browser.get("/dashboard", status=302)
    assert urlparse(res.headers["Location"]).path == "/login"
    assert _me(client, api_key) == 401
    assert _me(client, jwt) == 401


def test_delete_deactivates_too(client, login_as, tenant_a, scim_token, raw_scim):
    browser = _signed_in_admin(login_as, tenant_a)
    api_key = _their_api_key(browser.membership)
    scim = raw_scim(scim_token(tenant_a))
    uid = scim("POST", "/Users", okta_user(browser.membership.user.email)).json["id"]
    assert scim("DELETE", f"/Users/{uid}").status_code == 204
    assert browser.get("/dashboard", status=302)
    assert _me(client, api_key) == 401
    db.session.expire_all()
    with tenant_context(tenant_a):
        assert db.session.get(Membership, browser.membership.id).is_active is False


def test_someone_in_two_tenants_keeps_the_other_tenant_and_their_account(
        client, login_as, tenant_a, tenant_b, scim_token, raw_scim):
    browser = _signed_in_admin(login_as, tenant_a)
    person = browser.membership.user
    in_b = factories.make_member(tenant_b, role="analyst", email=person.email)
    password_hash = db.session.get(User, person.id).password_hash
    key_in_a = _their_api_key(browser.membership)
    jwt_in_b = _jwt(client, person.email, tenant_b)

    scim = raw_scim(scim_token(tenant_a))
    body = okta_user(person.email) | {"name": {"givenName": "Renamed", "familyName": "ByTenantA"},
                                      "password": "Tenant-A-sets-this-1!"}
    uid = scim("POST", "/Users", body).json["id"]
    assert scim("PATCH", f"/Users/{uid}", DEACTIVATE).status_code == 200

    # Tenant A is gone for them at once: its API key, and the session no longer lands in A.
    assert _me(client, key_in_a) == 401
    page = browser.get("/dashboard")
    assert tenant_b.name in page.text and page.status_int == 200
    switch = browser.post("/tenant/switch", {"tenant": tenant_a.public_id, "csrf_token": csrf_from(page)},
                          status="*")
    assert switch.status_int == 404
    # Tenant B and the global account are untouched: membership, token, password, name.
    assert _me(client, jwt_in_b) == 200
    db.session.expire_all()
    account = db.session.get(User, person.id)
    assert account.password_hash == password_hash and account.name != "Renamed ByTenantA"
    with tenant_context(tenant_b):
        assert db.session.scalar(sa.select(Membership.is_active).where(Membership.id == in_b.id)) is True


def test_the_last_active_admin_cannot_be_deprovisioned(login_as, tenant_a, scim_token, raw_scim):
    only_admin = login_as("admin", tenant=tenant_a)
    scim = raw_scim(scim_token(tenant_a))
    uid = scim("POST", "/Users", okta_user(only_admin.membership.user.email)).json["id"]
    res = scim("PATCH", f"/Users/{uid}", DEACTIVATE)
    assert res.status_code == 409 and "last active admin" in res.json["detail"]
    assert only_admin.get("/dashboard").status_int == 200
