"""The API keys page: create (shown once, works), revoke after a confirmation page, who may see it."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.tenancy import tenant_context
from app.identity.models import ApiKey
from tests import factories
from tests.conftest import csrf_from
from tests.identity.authenticators import enrol_totp, next_code

HX = {"HX-Request": "true"}


def _stepped_up_admin(login_as):
    """An admin with an authenticator who has just stepped up for creating keys (an empty form, refused)."""
    admin = login_as("admin")
    totp = enrol_totp(admin.membership)
    page = admin.post("/admin/api-keys", {"csrf_token": csrf_from(admin.get("/admin/api-keys"))}, status=401)
    form = page.forms["stepup-form"]
    form["_stepup_code"] = next_code(totp)
    form.submit(status=422)
    return admin


def _create_form(page):
    return page.forms["new-key-form"]


def _check_scopes(form, *scopes: str) -> None:
    for box in form.fields["scopes"]:
        box.checked = box._value in scopes


def _me(web, raw: str, status: int = 200):
    return web.get("/api/v1/users/me", headers={"Authorization": f"Bearer {raw}"}, status=status)


def _key(public_id: str) -> ApiKey:
    db.session.expire_all()
    return db.session.scalar(sa.select(ApiKey).where(ApiKey.public_id == public_id)
                             .execution_options(all_tenants=True))


def test_created_key_is_shown_once_and_works(login_as, tenant_a, web):
    admin = login_as("admin")
    totp = enrol_totp(admin.membership)
    form = _create_form(admin.get("/admin/api-keys"))
    form["name"] = "SIEM forwarder"
    _check_scopes(form, "users:read", "alerts:read")
    stepup = form.submit(status=401)  # creating a key needs a fresh confirmation first
    stepup_form = stepup.forms["stepup-form"]
    stepup_form["_stepup_code"] = next_code(totp)
    res = stepup_form.submit(status=200)  # the step-up re-posts what was typed: nothing is lost
    raw = res.pyquery("#new-api-key").text()
    assert raw.startswith("vgl_")
    assert "shown only once" in res.text
    assert res.pyquery('button[data-copy="new-api-key"]')

    me = _me(web, raw).json["data"]
    assert me["kind"] == "api_key" and me["tenant"]["slug"] == tenant_a.slug
    assert me["api_key"]["name"] == "SIEM forwarder"
    assert me["api_key"]["scopes"] == ["alerts:read", "users:read"]

    page = admin.get("/admin/api-keys")
    assert raw not in page.text
    row = page.pyquery(f"#api-key-{me['api_key']['id']}")
    assert raw[:12] in row.text() and "SIEM forwarder" in row.text()
    assert "users:read" in row.text() and "Active" in row.text()
    assert admin.membership.user.email in row.text()  # created by (no name: the email)
    assert db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "apikey.created"))


def test_create_without_scopes_is_422_and_keeps_the_name(login_as):
    admin = _stepped_up_admin(login_as)
    form = _create_form(admin.get("/admin/api-keys"))
    form["name"] = "Ticketing bridge"
    res = form.submit(status=422)
    assert "Choose at least one scope." in res.pyquery("#scopes-error").text()
    assert _create_form(res)["name"].value == "Ticketing bridge"
    with tenant_context(admin.membership.tenant):
        assert db.session.scalars(sa.select(ApiKey)).all() == []


def test_create_with_a_past_expiry_is_422(login_as):
    admin = _stepped_up_admin(login_as)
    form = _create_form(admin.get("/admin/api-keys"))
    form["name"], form["expires_at"] = "Old script", (date.today() - timedelta(days=2)).isoformat()
    _check_scopes(form, "cases:read")
    res = form.submit(status=422)
    assert "The expiry must be in the future." in res.pyquery("#expires_at-error").text()
    again = _create_form(res)
    assert [b._value for b in again.fields["scopes"] if b.checked] == ["cases:read"]


def test_a_key_with_an_expiry_stops_as_that_day_begins(login_as, web):
    admin = _stepped_up_admin(login_as)
    form = _create_form(admin.get("/admin/api-keys"))
    day = date.today() + timedelta(days=30)
    form["name"], form["expires_at"] = "Quarterly export", day.isoformat()
    _check_scopes(form, "audit:read")
    raw = form.submit(status=200).pyquery("#new-api-key").text()
    key_id = _me(web, raw).json["data"]["api_key"]["id"]
    key = _key(key_id)
    # The admin's zone is UTC: the key stops at the midnight that starts the chosen day.
    assert key.expires_at.date() == day and key.expires_at.hour == 0
    assert day.strftime("%d %b %Y 00:00") in admin.get("/admin/api-keys").pyquery(f"#api-key-{key_id}").text()


def test_expired_key_shows_expired(login_as, tenant_a):
    admin = login_as("admin")
    key, _raw = factories.make_api_key(tenant_a, scopes=["users:read"], name="Lapsed",
                                       expires_at=utcnow() + timedelta(hours=1))
    with tenant_context(tenant_a):
        db.session.execute(sa.update(ApiKey).values(expires_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert "Expired" in admin.get("/admin/api-keys").pyquery(f"#api-key-{key.public_id}").text()


def test_revoke_after_a_confirmation_page(login_as, tenant_a, web):
    admin = login_as("admin")
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"], name="Old bridge")
    _me(web, raw)
    confirm = admin.get("/admin/api-keys").click(href=f"/admin/api-keys/{key.public_id}/revoke$")
    assert "Old bridge" in confirm.text and "401" in confirm.text
    res = confirm.forms["confirm-form"].submit(status=303)
    page = res.follow()
    assert "is revoked" in page.pyquery("#flash").text()
    row = page.pyquery(f"#api-key-{key.public_id}")
    assert "Revoked" in row.text() and not row.find("a")
    err = _me(web, raw, status=401).json["error"]
    assert "revoked" in err["message"]
    assert _key(key.public_id).revoked_at is not None


def test_revoke_with_htmx_returns_the_row(login_as, tenant_a, web):
    admin = login_as("admin")
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"], name="Old bridge")
    res = admin.get(f"/admin/api-keys/{key.public_id}/revoke").forms["confirm-form"].submit(headers=HX)
    assert res.status_int == 200 and "<html" not in res.text
    assert res.text.lstrip().startswith(f'<tr id="api-key-{key.public_id}"')
    trigger = json.loads(res.headers["HX-Trigger"])
    assert trigger["flash"]["category"] == "success" and "api-key-revoked" in trigger
    assert "Revoked" in res.text
    _me(web, raw, status=401)


def test_revoking_twice_is_409(login_as, tenant_a):
    admin = login_as("admin")
    key, _raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    form = admin.get(f"/admin/api-keys/{key.public_id}/revoke").forms["confirm-form"]
    form.submit(status=303)
    res = form.submit(status=409)
    assert "This key is already revoked." in res.pyquery(".form-error").text()
    res = form.submit(headers=HX, status=409)
    assert json.loads(res.headers["HX-Trigger"])["flash"]["category"] == "error"


def test_another_tenants_key_is_404(login_as, tenant_a, tenant_b, web):
    key, raw = factories.make_api_key(tenant_a, scopes=["users:read"], name="Tenant A key")
    admin = login_as("admin", tenant=tenant_b)
    page = admin.get("/admin/api-keys")
    assert "Tenant A key" not in page.text
    admin.get(f"/admin/api-keys/{key.public_id}/revoke", status=404)
    token = _create_form(page)["csrf_token"].value
    admin.post(f"/admin/api-keys/{key.public_id}/revoke", {"csrf_token": token}, status=404)
    _me(web, raw)
    assert _key(key.public_id).revoked_at is None


@pytest.mark.parametrize("role", ["analyst", "auditor", "responder", "compliance"])
def test_only_admins_manage_keys(login_as, tenant_a, role):
    key, _raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    client = login_as(role)
    assert "Not allowed" in client.get("/admin/api-keys", status=403).text
    client.get(f"/admin/api-keys/{key.public_id}/revoke", status=403)
