"""Step-up before sensitive actions: passkey or TOTP, the form kept, proofs stored and re-verifiable."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity.models import ApiKey
from app.identity.passkey_models import StepUpProof
from app.identity.stepup import reverify
from tests.conftest import csrf_from
from tests.identity.authenticators import SoftAuthenticator, enrol_totp, next_code
from tests.identity.test_passkeys import HX, _json, _token, register, step_up_with_passkey


def _key_form(client, name: str = "SIEM forwarder"):
    form = client.get("/admin/api-keys").forms["new-key-form"]
    form["name"] = name
    for box in form.fields["scopes"]:
        box.checked = box._value in ("alerts:read", "users:read")
    return form


def _proofs(tenant) -> list[StepUpProof]:
    db.session.expire_all()
    with tenant_context(tenant):
        return list(db.session.scalars(sa.select(StepUpProof).order_by(StepUpProof.id)))


def _keys(tenant) -> list[ApiKey]:
    with tenant_context(tenant):
        return list(db.session.scalars(sa.select(ApiKey)))


def test_creating_an_api_key_steps_up_with_a_passkey_and_keeps_the_form(login_as, tenant_a):
    admin = login_as("admin")
    device = SoftAuthenticator()
    register(admin, device)
    page = _key_form(admin).submit(status=401)
    assert "You are about to create an API key" in page.text and _keys(tenant_a) == []
    form = page.forms["stepup-form"]
    assert form["name"].value == "SIEM forwarder"
    assert sorted(f.value for f in form.fields["scopes"]) == ["alerts:read", "users:read"]
    assert "_stepup_code" not in form.fields  # a passkey user steps up with the passkey
    created = step_up_with_passkey(admin, page, device, status=200)
    assert created.pyquery("#new-api-key").text().startswith("vgl_")
    [key] = _keys(tenant_a)
    assert key.name == "SIEM forwarder" and key.scopes == ["alerts:read", "users:read"]
    [proof] = _proofs(tenant_a)
    assert (proof.action, proof.method, proof.credential_id) == ("apikey:create", "passkey", device.id)
    assert proof.user_id == admin.membership.user_id and proof.signature and proof.client_data_json
    verified = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "stepup.verified")).all()
    assert [r.after["proof"] for r in verified] == [proof.public_id]
    # Within the window the next key needs no new confirmation.
    assert _key_form(admin, "Second").submit(status=200).pyquery("#new-api-key")


def test_a_stored_proof_reverifies_and_any_change_breaks_it(login_as, tenant_a):
    admin = login_as("admin")
    device = SoftAuthenticator()
    register(admin, device)
    step_up_with_passkey(admin, _key_form(admin).submit(status=401), device, status=200)
    [proof] = _proofs(tenant_a)
    with tenant_context(tenant_a):
        assert reverify(proof) is True
        proof.action = "approval:decide"  # a proof cannot be moved to another action
        assert reverify(proof) is False
        proof.action = "apikey:create"
        signature = proof.signature
        proof.signature = signature[:-1] + bytes([signature[-1] ^ 1])
        assert reverify(proof) is False
        proof.signature = signature
        data = json.loads(proof.client_data_json)
        proof.client_data_json = json.dumps({**data, "origin": "https://evil.test"}).encode()
        assert reverify(proof) is False
        db.session.rollback()
        assert reverify(db.session.get(StepUpProof, proof.id)) is True


def test_a_step_up_for_one_action_does_not_cover_another_or_outlive_the_window(login_as, tenant_a):
    admin = login_as("admin")
    device = SoftAuthenticator()
    register(admin, device)
    # An assertion over a challenge issued for revoking a passkey is refused for creating a key.
    page = _key_form(admin).submit(status=401)
    options = _json(admin, "/account/step-up/options", {"action": "passkey:revoke"}, csrf_from(page), status=200).json
    form = page.forms["stepup-form"]
    form["_stepup_assertion"] = json.dumps(device.get(options))
    refused = form.submit(status=401)
    assert refused.pyquery(".form-error").text() and _keys(tenant_a) == []
    failed = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "stepup.failed")).all()
    assert failed[-1].after["reason"] == "challenge issued for another action"
    # A real step-up, then the clock moves past the window: the next key asks again.
    step_up_with_passkey(admin, _key_form(admin).submit(status=401), device, status=200)
    with tenant_context(tenant_a):
        for proof in db.session.scalars(sa.select(StepUpProof)):
            proof.verified_at -= timedelta(minutes=11)
        db.session.commit()
    assert "Confirm it’s you" in _key_form(admin, "Later").submit(status=401).text


def test_without_a_passkey_a_totp_code_steps_up_and_a_wrong_one_is_audited(login_as, tenant_a):
    admin = login_as("admin")
    totp = enrol_totp(admin.membership)
    page = _key_form(admin).submit(status=401)
    form = page.forms["stepup-form"]
    form["_stepup_code"] = "000000"
    wrong = form.submit(status=401)
    assert "not valid" in wrong.pyquery(".form-error").text()
    assert wrong.forms["stepup-form"]["name"].value == "SIEM forwarder"  # still kept
    again = wrong.forms["stepup-form"]
    again["_stepup_code"] = next_code(totp)
    assert again.submit(status=200).pyquery("#new-api-key")
    [proof] = _proofs(tenant_a)
    assert proof.method == "totp" and reverify(proof) is False  # nothing signed to re-check
    failed = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "stepup.failed")).all()
    assert failed and failed[0].after["step_up_for"] == "apikey:create"


def test_a_user_with_no_second_factor_is_told_to_set_one_up(login_as, tenant_a):
    admin = login_as("admin")
    page = _key_form(admin).submit(status=401)
    assert "you have neither yet" in page.text and page.pyquery('a[href="/account/security"]')
    assert _keys(tenant_a) == []


def test_htmx_gets_the_step_up_fragment_into_main(login_as):
    admin = login_as("admin")
    register(admin, SoftAuthenticator())
    res = admin.post("/admin/api-keys", {"csrf_token": _token(admin), "name": "x"}, headers=HX, status=200)
    assert "<html" not in res.text and res.pyquery("#stepup-form")
    assert res.headers["HX-Retarget"] == "#main"


def test_step_up_options_only_for_known_actions(login_as):
    admin = login_as("admin")
    register(admin, SoftAuthenticator())
    res = _json(admin, "/account/step-up/options", {"action": "anything:else"}, _token(admin))
    assert res.status_int == 404
