"""API credentials: the token exchange, JWTs, and API keys; every refusal says why."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pyotp
import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.tenancy import tenant_context
from app.identity.models import ApiKey
from app.identity.services import begin_totp_enrolment, confirm_totp_enrolment, set_member_active
from app.identity.tokens import ALGORITHM, AUDIENCE
from tests import factories
from tests.api.conftest import assert_error, audit_actions, bearer, get_token


def _token_request(client, email, tenant_slug, password=factories.PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password, "tenant": tenant_slug})


def _jwt(app, membership, **claims) -> str:
    now = utcnow()
    payload = {"sub": membership.user.public_id, "tid": membership.tenant.public_id, "aud": AUDIENCE,
               "iat": now, "exp": now + timedelta(minutes=5), "typ": "access", **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, app.config["SECRET_KEY"], algorithm=ALGORITHM)


# --- token exchange ------------------------------------------------------------------------


def test_token_exchange_needs_no_csrf_token(app, tenant_a):
    member = factories.make_member(tenant_a)
    res = _token_request(app.test_client(), member.user.email, "tenant-a")
    assert res.status_code == 200, res.json


def test_token_exchange_then_the_token_works(client, tenant_a):
    member = factories.make_member(tenant_a, role="analyst")
    res = _token_request(client, member.user.email.upper(), "Tenant-A")
    assert res.status_code == 200
    data = res.json["data"]
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 60 * 60
    me = client.get("/api/v1/users/me", headers=bearer(data["access_token"]))
    assert me.status_code == 200
    assert me.json["data"]["kind"] == "user"
    assert me.json["data"]["user"]["email"] == member.user.email
    assert me.json["data"]["user"]["role"] == "analyst"
    assert me.json["data"]["tenant"]["slug"] == "tenant-a"
    assert "case:write" in me.json["data"]["permissions"]
    assert len(audit_actions("auth.token_issued")) == 1


def test_wrong_password_is_401_and_audited(client, tenant_a):
    member = factories.make_member(tenant_a)
    res = _token_request(client, member.user.email, "tenant-a", password="not-the-password")
    error = assert_error(res, 401, "unauthorized")
    assert error["message"] == "Incorrect email or password."
    [record] = audit_actions("auth.login_failed")
    assert record.tenant_id == tenant_a.id
    assert record.after["reason"] == "bad password"
    assert "access_token" not in res.get_data(as_text=True)


def test_unknown_email_gets_the_same_401(client, tenant_a):
    error = assert_error(_token_request(client, "nobody@nowhere.test", "tenant-a"), 401, "unauthorized")
    assert error["message"] == "Incorrect email or password."


def test_account_with_mfa_is_refused_with_a_pointer_to_api_keys(client, tenant_a):
    member = factories.make_member(tenant_a)
    with tenant_context(tenant_a):
        secret = begin_totp_enrolment(member.user)
        confirm_totp_enrolment(member.user, pyotp.TOTP(secret).now(), actor=system_actor(tenant_a, "test"))
    error = assert_error(_token_request(client, member.user.email, "tenant-a"), 403, "forbidden")
    assert "two-step sign-in" in error["message"]
    assert "API key" in error["message"]


def test_tenant_the_user_is_not_a_member_of_is_403(client, tenant_a, tenant_b):
    member = factories.make_member(tenant_a)
    for slug in ("tenant-b", "no-such-tenant"):
        error = assert_error(_token_request(client, member.user.email, slug), 403, "forbidden")
        assert "not a member of that tenant" in error["message"]


# --- JWTs ----------------------------------------------------------------------------------


def test_expired_token_is_401_saying_expired(app, client, tenant_a):
    member = factories.make_member(tenant_a)
    past = utcnow() - timedelta(hours=2)
    token = _jwt(app, member, iat=past, exp=past + timedelta(minutes=60))
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(token)), 401, "unauthorized")
    assert "expired" in error["message"]
    assert 'error="invalid_token"' in client.get("/api/v1/users/me", headers=bearer(token)).headers[
        "WWW-Authenticate"]


def test_tampered_token_is_401(client, tenant_a, tenant_b):
    member = factories.make_member(tenant_a)
    token = get_token(client, member.user.email, tenant_a)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(f"{header}.{payload}.{flipped}")),
                         401, "unauthorized")
    assert "signature" in error["message"]


def test_token_signed_with_another_key_is_401(client, tenant_a):
    member = factories.make_member(tenant_a)
    forged = jwt.encode({"sub": member.user.public_id, "tid": tenant_a.public_id, "aud": AUDIENCE,
                         "iat": utcnow(), "exp": utcnow() + timedelta(minutes=5), "typ": "access"},
                        "guessed-secret-guessed-secret-guessed-secret", algorithm=ALGORITHM)
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(forged)), 401, "unauthorized")
    assert "signature" in error["message"]


@pytest.mark.parametrize("garbage", ["not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_malformed_token_is_401(client, garbage):
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(garbage)), 401, "unauthorized")
    assert "malformed" in error["message"]


@pytest.mark.parametrize(("claims", "words"), [
    ({"aud": "someone-else"}, "not issued for this API"),
    ({"tid": None}, "“tid” claim"),
    ({"typ": "refresh"}, "not an access token"),
])
def test_token_with_wrong_claims_is_401(app, client, tenant_a, claims, words):
    member = factories.make_member(tenant_a)
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(_jwt(app, member, **claims))),
                         401, "unauthorized")
    assert words in error["message"]


def test_token_of_a_deactivated_member_stops_working(client, tenant_a):
    admin = factories.make_member(tenant_a, role="admin")
    member = factories.make_member(tenant_a)
    token = get_token(client, member.user.email, tenant_a)
    assert client.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
    with tenant_context(tenant_a):
        from app.identity.auth import member_actor

        set_member_active(member, False, actor=member_actor(admin))
    error = assert_error(client.get("/api/v1/users/me", headers=bearer(token)), 401, "unauthorized")
    assert "no longer has access" in error["message"]


def test_role_without_the_permission_is_403(client, member_token, tenant_a):
    _member, token = member_token(tenant_a, role="responder")
    error = assert_error(client.get("/api/v1/users", headers=bearer(token)), 403, "forbidden")
    assert "member:read" in error["message"]


# --- API keys ------------------------------------------------------------------------------


def _key(key_id):
    return db.session.scalar(sa.select(ApiKey).where(ApiKey.id == key_id).execution_options(all_tenants=True))


def test_api_key_works_and_records_last_use(client, tenant_a):
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"], name="siem export")
    assert key.last_used_at is None
    res = client.get("/api/v1/users", headers=bearer(raw))
    assert res.status_code == 200
    me = client.get("/api/v1/users/me", headers=bearer(raw)).json["data"]
    assert me["kind"] == "api_key"
    assert me["api_key"] == {"id": key.public_id, "name": "siem export", "scopes": ["users:read"]}
    assert me["permissions"] == ["member:read"]
    assert "user" not in me
    db.session.expire_all()
    used = _key(key.id).last_used_at
    assert used is not None and utcnow() - used < timedelta(minutes=1)


def test_api_key_lacking_the_scope_is_403_naming_the_permission(client, tenant_a):
    _key_row, raw = factories.make_api_key(tenant_a, scopes=["audit:read", "alerts:read"])
    error = assert_error(client.get("/api/v1/users", headers=bearer(raw)), 403, "forbidden")
    assert "member:read" in error["message"]


def test_revoked_api_key_is_401_and_audited(client, tenant_a):
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    assert client.get("/api/v1/users", headers=bearer(raw)).status_code == 200
    with tenant_context(tenant_a):
        from app.identity.api_keys import revoke_api_key

        revoke_api_key(_key(key.id), actor=system_actor(tenant_a, "test"))
    error = assert_error(client.get("/api/v1/users", headers=bearer(raw)), 401, "unauthorized")
    assert "revoked" in error["message"]
    [record] = audit_actions("apikey.rejected")
    assert record.tenant_id == tenant_a.id
    assert record.target_id == key.public_id
    assert record.after == {"reason": "revoked"}


def test_expired_api_key_is_401_and_audited(client, tenant_a):
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"], expires_at=utcnow() + timedelta(days=1))
    assert client.get("/api/v1/users", headers=bearer(raw)).status_code == 200
    with tenant_context(tenant_a):
        _key(key.id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    error = assert_error(client.get("/api/v1/users", headers=bearer(raw)), 401, "unauthorized")
    assert "expired" in error["message"]
    assert [r.after for r in audit_actions("apikey.rejected")] == [{"reason": "expired"}]


def test_unknown_api_key_is_401(client, tenant_a):
    _key_row, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    error = assert_error(client.get("/api/v1/users", headers=bearer(raw[:-4] + "abcd")), 401, "unauthorized")
    assert "API key is not valid" in error["message"]


def test_other_authorization_schemes_are_401(client, tenant_a):
    _key_row, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    for header in (f"Basic {raw}", raw, "Bearer ", "Bearer"):
        assert_error(client.get("/api/v1/users", headers={"Authorization": header}), 401, "unauthorized")
