"""Passkeys end to end through the real endpoints, with a software authenticator signing real assertions."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
import webtest

from app.core.audit import AuditRecord
from app.core.db import db
from app.identity.passkey_models import Passkey
from tests.conftest import csrf_from, sign_in
from tests.identity.authenticators import SoftAuthenticator, enrol_totp, next_code

HX = {"HX-Request": "true"}


def _json(client, url: str, body: dict, token: str, status="*"):
    return client.post_json(url, body, headers={"X-CSRFToken": token}, status=status)


def _token(client, path: str = "/account/security") -> str:
    # Every page carries the token for HTMX on <body>; a page without a form has no hidden field.
    match = re.search(r'"X-CSRFToken": "([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def register(client, authenticator: SoftAuthenticator, name: str = "Work laptop"):
    token = _token(client)
    options = _json(client, "/account/passkeys/options", {}, token, status=200).json
    return _json(client, "/account/passkeys", {"name": name, "credential": authenticator.create(options)}, token)


def passkey_sign_in(client, authenticator: SoftAuthenticator, *, mode: str = "login", origin: str | None = None):
    token = _token(client, "/login" if mode == "login" else "/login/code")
    options = _json(client, "/login/passkey/options", {"mode": mode}, token, status=200).json
    kwargs = {"origin": origin} if origin else {}
    credential = authenticator.get(options, **kwargs)
    return _json(client, "/login/passkey", {"mode": mode, "credential": credential}, token), options, credential


def _audit(action: str) -> list[AuditRecord]:
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == action)))


def _passkey(credential_id: str) -> Passkey:
    db.session.expire_all()
    return db.session.scalar(sa.select(Passkey).where(Passkey.credential_id == credential_id))


def test_register_stores_the_key_flags_and_name_and_lists_it(login_as):
    client = login_as("analyst")
    device = SoftAuthenticator(backed_up=True)
    res = register(client, device, "  MacBook   Touch ID ")
    assert res.status_int == 200 and res.json["redirect"] == "/account/security"
    stored = _passkey(device.id)
    assert stored.name == "MacBook Touch ID" and stored.user_id == client.membership.user_id
    assert (stored.backup_eligible, stored.backed_up, stored.sign_count) == (True, True, 0)
    assert stored.user_handle == device.user_handle  # the opaque handle, not the email
    page = client.get("/account/security")
    row = page.pyquery(f"#passkey-{stored.public_id}")
    assert "MacBook Touch ID" in row.text() and "Synced" in row.text() and "never used yet" in row.text()
    assert "Passkey “MacBook Touch ID” added" in page.text
    [record] = _audit("passkey.registered")
    assert record.after["name"] == "MacBook Touch ID" and record.tenant_id == client.membership.tenant_id


def test_a_device_bound_passkey_is_labelled_as_such(login_as):
    client = login_as("analyst")
    device = SoftAuthenticator(backup_eligible=False, backed_up=False)
    register(client, device)
    row = client.get("/account/security").pyquery(f"#passkey-{_passkey(device.id).public_id}")
    assert "This device only" in row.text()


def test_registration_without_user_verification_is_refused_and_audited(login_as):
    client = login_as("analyst")
    res = register(client, SoftAuthenticator(user_verified=False))
    assert res.status_int == 401 and "could not be verified" in res.json["error"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Passkey)) == 0
    [record] = _audit("passkey.register_failed")
    assert "verification" in record.after["reason"].lower()


def test_a_registration_challenge_works_once(login_as):
    client = login_as("analyst")
    token = _token(client)
    options = _json(client, "/account/passkeys/options", {}, token, status=200).json
    first = SoftAuthenticator().create(options)
    assert _json(client, "/account/passkeys", {"name": "One", "credential": first}, token).status_int == 200
    second = SoftAuthenticator().create(options)
    again = _json(client, "/account/passkeys", {"name": "Two", "credential": second}, token)
    assert again.status_int == 401 and "expired" in again.json["error"]


def test_a_name_is_required(login_as):
    client = login_as("analyst")
    res = register(client, SoftAuthenticator(), "   ")
    assert res.status_int == 422 and "name" in res.json["error"]


def test_sign_in_with_a_passkey_alone_then_the_usual_tenant_choice(app, login_as, tenant_a):
    client = login_as("analyst")
    member = client.membership
    device = SoftAuthenticator()
    register(client, device)
    browser = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    res, options, _ = passkey_sign_in(browser, device)
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"  # discoverable
    assert res.status_int == 200 and res.json["redirect"] == "/dashboard"
    dashboard = browser.get("/dashboard")
    assert tenant_a.name in dashboard.text
    stored = _passkey(device.id)
    assert stored.sign_count == 1 and stored.last_used_at is not None
    logins = [r for r in _audit("auth.login") if r.after == {"method": "passkey"}]
    assert len(logins) == 1 and logins[0].actor_label == member.user.email


def test_a_sign_counter_regression_is_refused_and_audited(app, login_as):
    client = login_as("analyst")
    device = SoftAuthenticator()
    register(client, device)
    assert passkey_sign_in(webtest.TestApp(app), device)[0].status_int == 200
    assert passkey_sign_in(webtest.TestApp(app), device)[0].status_int == 200  # counter 2
    device.sign_count = 1  # a clone that lags behind
    res, _, _ = passkey_sign_in(webtest.TestApp(app), device)
    assert res.status_int == 401 and "copied" in res.json["error"]
    [record] = _audit("passkey.counter_regression")
    assert record.after["reason"] == "sign counter regression: 2 after 2"
    assert _passkey(device.id).sign_count == 2


def test_an_unknown_passkey_is_refused_and_audited(app, login_as):
    register(login_as("analyst"), SoftAuthenticator())
    stranger = SoftAuthenticator(user_handle=b"x" * 16)
    res, _, _ = passkey_sign_in(webtest.TestApp(app), stranger)
    assert res.status_int == 401 and "not registered" in res.json["error"]
    [record] = _audit("auth.passkey_failed")
    assert record.after["reason"] == "unknown credential" and record.tenant_id is None  # the system chain


def test_a_login_assertion_cannot_be_replayed(app, login_as):
    client = login_as("analyst")
    device = SoftAuthenticator()
    register(client, device)
    browser = webtest.TestApp(app)
    token = _token(browser, "/login")
    options = _json(browser, "/login/passkey/options", {"mode": "login"}, token, status=200).json
    captured = browser.cookies["vigil_session"]  # the cookie that still names the challenge
    credential = device.get(options)
    assert _json(browser, "/login/passkey", {"mode": "login", "credential": credential}, token).status_int == 200
    attacker = webtest.TestApp(app)
    attacker.set_cookie("vigil_session", captured)
    replay = _json(attacker, "/login/passkey", {"mode": "login", "credential": credential}, token)
    assert replay.status_int == 401 and "expired" in replay.json["error"]
    assert _audit("auth.passkey_failed")[-1].after["reason"] == "unknown or used challenge"


def test_an_assertion_for_another_origin_or_without_verification_is_refused(app, login_as):
    client = login_as("analyst")
    device = SoftAuthenticator()
    register(client, device)
    browser = webtest.TestApp(app)
    res, _, _ = passkey_sign_in(browser, device, origin="https://vigil.evil.test")
    assert res.status_int == 401
    device.user_verified = False
    res, _, _ = passkey_sign_in(browser, device)
    assert res.status_int == 401
    reasons = [r.after["reason"] for r in _audit("auth.passkey_failed")]
    assert any("origin" in r for r in reasons) and any("verif" in r for r in reasons)
    assert "/dashboard" not in browser.get("/login").text  # still signed out


def test_a_revoked_passkey_no_longer_signs_in(app, login_as):
    client = login_as("analyst")
    device = SoftAuthenticator()
    register(client, device)
    stored = _passkey(device.id)
    stepped = client.post(f"/account/passkeys/{stored.public_id}/revoke",
                          {"csrf_token": _token(client)}, status=401)  # step-up first, with this passkey
    step_up_with_passkey(client, stepped, device).follow()
    assert _passkey(device.id).revoked_at is not None
    res, _, _ = passkey_sign_in(webtest.TestApp(app), device)
    assert res.status_int == 401
    assert _audit("auth.passkey_failed")[-1].after["reason"] == "revoked passkey"
    assert [r.action for r in _audit("passkey.revoked")] == ["passkey.revoked"]


def step_up_with_passkey(client, stepup_page, device: SoftAuthenticator, status=303):
    form = stepup_page.forms["stepup-form"]
    action = stepup_page.pyquery("#stepup-form").attr("data-action")
    options = _json(client, "/account/step-up/options", {"action": action}, csrf_from(stepup_page), status=200).json
    form["_stepup_assertion"] = json.dumps(device.get(options))
    return form.submit(status=status)


def test_a_password_user_with_a_passkey_uses_it_as_the_second_factor(app, login_as):
    client = login_as("analyst")
    member = client.membership
    device = SoftAuthenticator()
    register(client, device)
    browser = webtest.TestApp(app)
    res = sign_in(browser, member.user.email)
    assert res.status_int == 303 and res.location.endswith("/login/code")  # the password alone is not enough
    code_page = res.follow()
    assert "Use your passkey" in code_page.text and not code_page.pyquery("#code")  # no TOTP: no code field
    done, options, _ = passkey_sign_in(browser, device, mode="second_factor")
    assert [c["id"] for c in options["allowCredentials"]] == [device.id]
    assert done.status_int == 200 and done.json["redirect"] == "/dashboard"
    assert [r.after for r in _audit("auth.login")][-1] == {"method": "password+passkey"}


def test_another_users_passkey_is_refused_as_second_factor(app, login_as):
    mine, theirs = login_as("analyst"), login_as("analyst")
    their_device = SoftAuthenticator()
    register(mine, SoftAuthenticator())
    register(theirs, their_device)
    browser = webtest.TestApp(app)
    sign_in(browser, mine.membership.user.email)
    res, _, _ = passkey_sign_in(browser, their_device, mode="second_factor")
    assert res.status_int == 401
    assert browser.get("/dashboard", status="*").status_int == 302  # not signed in


def test_rename_plain_and_with_htmx_and_bad_names(login_as):
    client = login_as("analyst")
    device = SoftAuthenticator()
    register(client, device)
    pk = _passkey(device.id)
    token = _token(client)
    res = client.post(f"/account/passkeys/{pk.public_id}/rename", {"csrf_token": token, "name": "Desk key"},
                      status=303)
    assert "Passkey renamed to “Desk key”" in res.follow().text
    res = client.post(f"/account/passkeys/{pk.public_id}/rename", {"csrf_token": token, "name": "YubiKey 5"},
                      headers=HX, status=200)
    assert "<html" not in res.text and "YubiKey 5" in res.pyquery(f"#passkey-{pk.public_id}").text()
    bad = client.post(f"/account/passkeys/{pk.public_id}/rename", {"csrf_token": token, "name": "x" * 81},
                      headers=HX, status=422)
    assert "under 80 characters" in bad.text and _passkey(device.id).name == "YubiKey 5"
    plain = client.post(f"/account/passkeys/{pk.public_id}/rename", {"csrf_token": token, "name": ""}, status=422)
    assert "Give the passkey a name" in plain.pyquery(f"#rename-error-{pk.public_id}").text()
    assert plain.pyquery(f"#passkey-{pk.public_id} details").attr("open") is not None
    assert [r.after["name"] for r in _audit("passkey.renamed")] == ["Desk key", "YubiKey 5"]


def test_another_users_passkey_is_404(login_as):
    owner, other = login_as("analyst"), login_as("admin")
    device = SoftAuthenticator()
    register(owner, device)
    pk = _passkey(device.id)
    token = _token(other)
    other.get(f"/account/passkeys/{pk.public_id}/revoke", status=404)
    other.post(f"/account/passkeys/{pk.public_id}/revoke", {"csrf_token": token}, status=404)
    other.post(f"/account/passkeys/{pk.public_id}/rename", {"csrf_token": token, "name": "mine"}, status=404)
    assert _passkey(device.id).name == "Work laptop" and _passkey(device.id).revoked_at is None


def test_the_first_passkey_needs_no_step_up_even_without_javascript(login_as):
    client = login_as("analyst")
    page = client.post("/account/passkeys/new", {"csrf_token": _token(client), "name": "Laptop"}, status=200)
    assert page.pyquery("#passkey-name").attr("value") == "Laptop" and not page.pyquery("#stepup-form")


def test_adding_a_second_factor_needs_a_step_up_when_one_exists(login_as):
    client = login_as("analyst")
    totp = enrol_totp(client.membership)
    res = _json(client, "/account/passkeys/options", {}, _token(client))
    assert res.status_int == 401 and res.json["stepup"] is True
    page = client.post("/account/passkeys/new", {"csrf_token": _token(client), "name": "Phone"}, status=401)
    form = page.forms["stepup-form"]
    assert form["name"].value == "Phone"  # kept through the step-up
    form["_stepup_code"] = next_code(totp)
    add_page = form.submit(status=200)
    assert add_page.pyquery("#passkey-name").attr("value") == "Phone"
    assert register(client, SoftAuthenticator(), "Phone").status_int == 200


def test_admin_reset_of_sign_in_methods_revokes_passkeys(app, login_as, tenant_a):
    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context
    from app.identity import services

    client = login_as("analyst")
    device = SoftAuthenticator()
    register(client, device)
    with tenant_context(tenant_a):
        services.reset_member_mfa(client.membership, actor=system_actor(tenant_a, "test"))
    assert _passkey(device.id).revoked_at is not None
    assert sign_in(webtest.TestApp(app), client.membership.user.email).location.endswith("/dashboard")
