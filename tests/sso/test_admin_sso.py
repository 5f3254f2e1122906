"""The SSO admin page: test before save, only a passing configuration is stored, settings and enforcement."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
import webtest
from webtest import Upload

from app.core.audit import AuditRecord
from app.core.crypto import decrypt
from app.core.db import db
from app.identity.sso.models import SsoConfig
from app.identity.sso.services import SECRET_PURPOSE
from tests import factories
from tests.conftest import csrf_from, sign_in
from tests.identity.authenticators import enrol_totp, next_code
from tests.sso.conftest import configure_sso, start_sso, through_provider


def _config(tenant) -> SsoConfig | None:
    return db.session.scalar(sa.select(SsoConfig).where(SsoConfig.tenant_id == tenant.id)
                             .execution_options(all_tenants=True))


def _admin(login_as, **kwargs):
    """An admin with an authenticator app, so they can step up (every SSO change needs a fresh one)."""
    admin = login_as("admin", **kwargs)
    return admin, enrol_totp(admin.membership)


def _confirm(stepup_page, totp, status):
    """Answer the step-up page with an authenticator code; it re-posts what the admin had submitted."""
    assert stepup_page.status_int == 401 and "change single sign-on settings" in stepup_page.text
    form = stepup_page.forms["stepup-form"]
    form["_stepup_code"] = next_code(totp)
    return form.submit(status=status)


def _oidc_form(page, provider, secret=None):
    form = page.forms["oidc-form"]
    form["oidc_issuer"], form["oidc_client_id"] = provider.issuer, provider.client_id
    form["oidc_client_secret"] = secret if secret is not None else provider.client_secret
    return form


def test_oidc_test_connection_checks_discovery_and_jwks_and_saves_nothing(login_as, tenant_a, oidc_provider):
    admin = login_as("admin")
    res = _oidc_form(admin.get("/admin/sso/"), oidc_provider).submit("action", value="test")
    assert "OpenID Connect connection test passed" in res.text
    assert "JWKS has 1 key(s): RSA" in res.text
    assert _config(tenant_a) is None


def test_saving_oidc_stores_the_secret_encrypted_and_never_shows_it(login_as, tenant_a, oidc_provider):
    admin, totp = _admin(login_as)
    stepup = _oidc_form(admin.get("/admin/sso/"), oidc_provider).submit("action", value="save", status=401)
    assert _config(tenant_a) is None  # nothing saved before the step-up
    page = _confirm(stepup, totp, status=303).follow()
    assert "OpenID Connect active" in page.text
    assert oidc_provider.client_secret not in page.text
    config = _config(tenant_a)
    assert config.protocol == "oidc" and oidc_provider.client_secret not in config.oidc_client_secret_encrypted
    assert decrypt(config.oidc_client_secret_encrypted, SECRET_PURPOSE) == oidc_provider.client_secret
    change = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "sso.config_changed")).one()
    assert oidc_provider.client_secret not in str(change.after) and change.after["client_secret_changed"]
    proof = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "stepup.verified")).one()
    assert change.after["step_up_proof"] == proof.after["proof"] and proof.after["action"] == "sso:configure"


def test_unreachable_issuer_is_a_form_error_and_the_working_config_stays(login_as, oidc_tenant, oidc_provider):
    admin, totp = _admin(login_as)
    form = _oidc_form(admin.get("/admin/sso/"), oidc_provider, secret="")
    form["oidc_issuer"] = "http://127.0.0.1:9/nowhere"
    res = _confirm(form.submit("action", value="save", status=401), totp, status=422)
    assert "Could not reach the discovery document" in res.text and "Nothing was saved" in res.text
    assert _config(oidc_tenant).oidc_issuer == oidc_provider.issuer
    # ...and sign-in through the working provider still succeeds.
    web = webtest.TestApp(admin.app)
    assert web.get(through_provider(start_sso(web, "ada@example.com")), status=303)


def test_saml_metadata_upload_is_parsed_and_shown(login_as, tenant_a, saml_idp):
    admin, totp = _admin(login_as)
    form = admin.get("/admin/sso/").forms["saml-form"]
    form["saml_metadata_file"] = Upload("idp.xml", saml_idp.metadata_xml().encode(), "text/xml")
    stepup = form.submit("action", value="save", status=401)
    # A browser cannot re-submit a file: the step-up page carries the uploaded XML itself.
    assert stepup.forms["stepup-form"]["_saml_metadata_xml"].value == saml_idp.metadata_xml()
    page = _confirm(stepup, totp, status=303).follow()
    assert "SAML 2.0 active" in page.text and saml_idp.entity_id in page.text
    assert "CN=Test IdP signing" in page.text and "SHA-256" in page.text
    assert "Download SP metadata XML" in page.text


def test_invalid_metadata_is_refused_and_the_previous_saml_config_stays(login_as, tenant_a, saml_idp):
    admin, totp = _admin(login_as)
    form = admin.get("/admin/sso/").forms["saml-form"]
    form["saml_metadata_url"] = f"{saml_idp.base}/metadata"
    _confirm(form.submit("action", value="save", status=401), totp, status=303)
    form = admin.get("/admin/sso/").forms["saml-form"]  # stepped up a moment ago: not asked again
    form["saml_metadata_file"] = Upload("broken.xml", b"<EntityDescriptor><oops", "text/xml")
    res = form.submit("action", value="save", status=422)
    assert "not valid SAML metadata XML" in res.text
    assert _config(tenant_a).saml_idp_entity_id == saml_idp.entity_id


def test_expired_certificate_fails_the_test(login_as, tenant_a):
    from tests.peers.saml_idp import make_key_and_cert

    _key, cert = make_key_and_cert("Old IdP", expired=True)
    admin = login_as("admin")
    form = admin.get("/admin/sso/").forms["saml-form"]
    form["saml_idp_entity_id"], form["saml_idp_sso_url"] = "https://idp.example.com", "https://idp.example.com/sso"
    form["saml_idp_cert"] = cert.decode()
    res = form.submit("action", value="test", status=422)
    assert "SAML connection test failed" in res.text and "has expired" in res.text


def test_a_domain_belongs_to_one_tenant(login_as, tenant_a, tenant_b, oidc_tenant):
    admin_b, totp = _admin(login_as, tenant=tenant_b)
    form = admin_b.get("/admin/sso/").forms["settings-form"]
    form["allowed_domains"] = "example.com"
    res = _confirm(form.submit(status=401), totp, status=409)
    assert "already routed to another tenant" in res.text


def test_bad_group_mapping_line_is_named(login_as, oidc_tenant):
    admin, totp = _admin(login_as)
    form = admin.get("/admin/sso/").forms["settings-form"]
    form["group_roles_text"] = "soc = analyst\nnonsense"
    assert "Line 2" in _confirm(form.submit(status=401), totp, status=422).text


def test_an_admin_without_a_second_factor_is_told_before_typing(login_as, tenant_a):
    note = login_as("admin").get("/admin/sso/").pyquery("#sso-stepup-note").text()
    assert "needs a passkey or an authenticator app" in note and "Account security" in note


def test_sso_changes_need_a_fresh_step_up_and_the_change_is_audited_with_it(login_as, oidc_tenant):
    admin, totp = _admin(login_as)
    page = admin.get("/admin/sso/")
    assert "confirm it’s you with your authenticator code" in page.pyquery("#sso-stepup-note").text()
    form = page.forms["settings-form"]
    form["allowed_domains"] = "example.com, corp.example.net"
    form["enforce_sso"] = True
    stepup = form.submit(status=401)
    assert stepup.pyquery("#stepup-form") and "authenticator app" in stepup.text
    turn_off = admin.post("/admin/sso/off", {"csrf_token": csrf_from(admin.get("/admin/sso/"))}, status=401)
    assert turn_off.pyquery("#stepup-form")
    wrong = stepup.forms["stepup-form"]
    wrong["_stepup_code"] = "000000"
    refused = wrong.submit(status="*")
    assert refused.status_int >= 400 and refused.pyquery("#stepup-form")
    config = _config(oidc_tenant)
    assert config.is_on and not config.enforce_sso and "corp.example.net" not in admin.get("/admin/sso/").text
    assert not db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "sso.settings_changed")
                                  .where(AuditRecord.actor_kind == "user")).all()

    after = _confirm(stepup, totp, status=303).follow()
    assert not after.pyquery("#sso-stepup-note")  # fresh proof: nothing to warn about
    db.session.expire_all()
    assert _config(oidc_tenant).enforce_sso
    change = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "sso.settings_changed")).all()[-1]
    proof = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "stepup.verified")).one()
    assert change.after["step_up_proof"] == proof.after["proof"] and change.after["domains"] == [
        "corp.example.net", "example.com"]


def test_email_domain_routes_to_the_idp_or_the_password_step(web, oidc_tenant):
    form = web.get("/login").forms[0]
    form["email"] = "someone@example.com"
    to_sso = form.submit(status=200)
    assert urlsplit(to_sso.pyquery("#sso-continue").attr("href")).path == "/sso/tenant-a/start"
    assert 'http-equiv="refresh"' in to_sso.text
    form = web.get("/login").forms[0]
    form["email"] = "someone@elsewhere.test"
    step = form.submit(status=200)
    assert "password" in step.forms[0].fields


def test_enforced_sso_refuses_member_passwords_but_admins_keep_break_glass(web, app, oidc_tenant):
    analyst = factories.make_member(oidc_tenant, role="analyst", email="ana@corp.test")
    admin = factories.make_member(oidc_tenant, role="admin", email="root@corp.test")
    configure_sso(oidc_tenant, enforce_sso=True)
    client = webtest.TestApp(app)
    res = sign_in(client, analyst.user.email)
    assert res.status_int == 403 and "signs in through its identity provider" in res.text
    failed = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "auth.login_failed")).all()
    assert failed[-1].after["reason"] == "sso enforced: password refused"
    assert sign_in(webtest.TestApp(app), admin.user.email).status_int == 303


def test_an_sso_session_stays_in_the_tenant_whose_idp_vouched(web, oidc_tenant, tenant_b):
    # Ada is an admin of tenant B and, added by tenant A's admin, an analyst there; tenant A's IdP
    # must not open tenant B for her.
    factories.make_member(tenant_b, role="admin", email="ada@example.com")
    factories.make_member(oidc_tenant, role="analyst", email="ada@example.com")
    web.get(through_provider(start_sso(web, "ada@example.com")), status=303)
    token = csrf_from(web.get("/account/security"))
    res = web.post("/tenant/switch", {"tenant": tenant_b.public_id, "csrf_token": token}, status=404)
    assert "requires signing in through its identity provider" in res.text


def test_sp_metadata_is_served_per_tenant_and_downloadable(web, tenant_a):
    res = web.get("/sso/tenant-a/saml/metadata?download=1")
    assert 'entityID="http://localhost/sso/tenant-a/saml/metadata"' in res.text
    assert "http://localhost/sso/tenant-a/saml/acs" in res.text
    assert "attachment" in res.headers["Content-Disposition"]
    web.get("/sso/no-such-tenant/saml/metadata", status=404)
