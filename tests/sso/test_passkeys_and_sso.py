"""Passkeys meet SSO: a passkey does not get around enforced single sign-on; a passkey-only member can be reset."""

from __future__ import annotations

import sqlalchemy as sa
import webtest

from app.core.audit import AuditRecord
from app.core.db import db
from app.identity.passkey_models import Passkey
from app.identity.sso.signin import ENFORCED_MESSAGE
from tests.identity.authenticators import SoftAuthenticator
from tests.identity.test_passkeys import passkey_sign_in, register
from tests.sso.conftest import configure_sso


def _failed_logins() -> list[AuditRecord]:
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "auth.login_failed")))


def test_a_passkey_does_not_bypass_enforced_sso_but_admins_keep_it(app, login_as, oidc_tenant):
    analyst, admin = login_as("analyst"), login_as("admin")
    analyst_key, admin_key = SoftAuthenticator(), SoftAuthenticator()
    assert register(analyst, analyst_key).status_int == 200 and register(admin, admin_key).status_int == 200
    configure_sso(oidc_tenant, enforce_sso=True)

    browser = webtest.TestApp(app)
    res, _options, _credential = passkey_sign_in(browser, analyst_key)
    assert res.status_int == 403 and res.json == {"error": ENFORCED_MESSAGE}
    assert browser.get("/account/security", status="*").status_int in (302, 303)  # no session was opened
    assert _failed_logins()[-1].after["reason"] == "sso enforced: passkey refused"

    res, _options, _credential = passkey_sign_in(webtest.TestApp(app), admin_key)  # break-glass stays
    assert res.status_int == 200 and res.json["redirect"]


def test_a_passkey_only_member_can_have_it_reset(login_as, tenant_a):
    member = login_as("responder")
    device = SoftAuthenticator()
    register(member, device)
    admin = login_as("admin")
    row = admin.get("/admin/members").pyquery(f"#member-{member.membership.public_id}")
    assert "Passkey" in row.find("td").eq(2).text()
    confirm = admin.get(row.find('a[href$="/reset-mfa"]').attr("href"))
    assert "Remove the passkeys of" in confirm.text and "has no authenticator" not in confirm.text
    confirm.forms["confirm-form"].submit(status=303)
    db.session.expire_all()
    stored = db.session.scalar(sa.select(Passkey).where(Passkey.credential_id == device.id))
    assert stored.revoked_at is not None
    assert "has no authenticator app or passkey to reset" in admin.get(
        f"/admin/members/{member.membership.public_id}/reset-mfa").text
