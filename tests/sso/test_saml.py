"""SAML sign-in against a real pysaml2 IdP: a valid login, and every tampered or misdirected response refused."""

from __future__ import annotations

import base64
import copy
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from lxml import etree

from app.core.audit import AuditRecord
from app.core.db import db
from app.identity.models import Membership, User, UserSession
from tests.peers.saml_idp import OTHER_SP
from tests.sso.conftest import ACS, SP_ENTITY, configure_sso, post_acs, sp_initiated

NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}


def _sessions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(UserSession))


def _last_failure() -> dict:
    row = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "auth.sso_failed")
                             .order_by(AuditRecord.id.desc())).first()
    return row.after if row else {}


def _refused(web, response: str, relay: str | None, words: str):
    before = _sessions()
    page = post_acs(web, response, relay, status=400)
    assert "Single sign-on did not complete" in page.text
    assert words in page.text, page.text[page.text.find("sso-refused"):][:600]
    assert _sessions() == before
    assert _last_failure()["protocol"] == "saml"
    assert web.get("/dashboard", status="*").status_int in (302, 303)
    return page


def test_sp_initiated_login_provisions_the_member_with_the_mapped_role(web, saml_tenant, saml_idp):
    request_id, relay = sp_initiated(web, saml_idp)
    res = post_acs(web, saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id), relay,
                   status=303)
    assert urlsplit(res.headers["Location"]).path == "/dashboard"
    assert "Grace Hopper" in web.get("/dashboard").text or web.get("/dashboard").status_int == 200
    user = db.session.scalar(sa.select(User).where(User.email == "grace@example.org"))
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id)
                                   .execution_options(all_tenants=True))
    assert membership.role.value == "analyst"
    login = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "auth.login")).all()[-1]
    assert login.after == {"method": "sso:saml"}


def test_unsigned_assertion_is_refused(web, saml_tenant, saml_idp):
    request_id, relay = sp_initiated(web, saml_idp)
    unsigned = saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id, sign_assertion=False)
    _refused(web, unsigned, relay, "unsigned assertion")


def _xml(response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(response))


def _b64(root) -> str:
    return base64.b64encode(etree.tostring(root)).decode()


def test_assertion_altered_after_signing_is_refused(web, saml_tenant, saml_idp):
    request_id, relay = sp_initiated(web, saml_idp)
    root = _xml(saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id))
    for value in root.iterfind(".//saml:AttributeValue", NS):
        if value.text == "grace@example.org":
            value.text = "mallory@example.org"
    _refused(web, _b64(root), relay, "does not trust, or changed after")
    assert db.session.scalar(sa.select(User).where(User.email == "mallory@example.org")) is None


def test_assertion_signed_by_an_untrusted_certificate_is_refused(web, saml_tenant, saml_idp, tmp_path):
    from tests.peers.saml_idp import make_key_and_cert

    key, cert = make_key_and_cert("Rogue IdP")
    (tmp_path / "k.pem").write_bytes(key)
    (tmp_path / "c.pem").write_bytes(cert)
    rogue = saml_idp.server()
    rogue_conf = saml_idp.config(key_file=str(tmp_path / "k.pem"), cert_file=str(tmp_path / "c.pem"))
    rogue = type(rogue)(config=rogue_conf)
    request_id, relay = sp_initiated(web, saml_idp)
    forged = saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id, server=rogue)
    page = _refused(web, forged, relay, "signed by a certificate this tenant does not trust")
    assert "Compare the IdP" in page.text


@pytest.mark.parametrize("placement", ["sibling", "wrapped"])
def test_signature_wrapping_is_refused(web, saml_tenant, saml_idp, placement):
    request_id, relay = sp_initiated(web, saml_idp)
    root = _xml(saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id))
    signed = root.find("saml:Assertion", NS)
    evil = copy.deepcopy(signed)
    evil.set("ID", "_evil" + signed.get("ID"))
    evil.remove(evil.find("ds:Signature", NS))
    for node in evil.iter():
        if node.text == "grace@example.org":
            node.text = "mallory@example.org"
    if placement == "sibling":  # XSW: an unsigned assertion before the signed one
        signed.addprevious(evil)
    else:  # XSW: the signed assertion hidden inside the forged one, which takes its place
        root.replace(signed, evil)
        evil.append(signed)
    _refused(web, _b64(root), relay, "possible signature wrapping")
    assert db.session.scalar(sa.select(User).where(User.email == "mallory@example.org")) is None


def test_wrong_audience_is_refused(web, saml_tenant, saml_idp):
    request_id, relay = sp_initiated(web, saml_idp)
    other = saml_idp.response(acs=ACS, audience=OTHER_SP, in_response_to=request_id)
    _refused(web, other, relay, "meant for another service provider")


def test_expired_assertion_is_refused(web, saml_tenant, saml_idp):
    request_id, relay = sp_initiated(web, saml_idp)
    old = saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id, lifetime_minutes=-10)
    _refused(web, old, relay, "expired")


def test_wrong_recipient_is_refused(web, saml_tenant, saml_idp):
    request_id, relay = sp_initiated(web, saml_idp)
    elsewhere = saml_idp.response(acs="http://localhost/sso/tenant-b/saml/acs", audience=SP_ENTITY,
                                  in_response_to=request_id)
    _refused(web, elsewhere, relay, "addressed to another URL")


def test_response_to_another_request_is_refused(web, saml_tenant, saml_idp):
    _request_id, relay = sp_initiated(web, saml_idp)
    stray = saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to="_not-our-request")
    _refused(web, stray, relay, "InResponseTo")


def test_idp_initiated_is_refused_unless_allowed(web, saml_tenant, saml_idp):
    unsolicited = saml_idp.response(acs=ACS, audience=SP_ENTITY)
    _refused(web, unsolicited, None, "IdP-initiated")
    configure_sso(saml_tenant, allowed_domains="example.org", allow_idp_initiated=True)
    post_acs(web, unsolicited, None, status=303)


def test_replayed_assertion_is_refused(web, saml_tenant, saml_idp, app):
    import webtest

    configure_sso(saml_tenant, allowed_domains="example.org", allow_idp_initiated=True)
    captured = saml_idp.response(acs=ACS, audience=SP_ENTITY)
    post_acs(web, captured, None, status=303)
    attacker = webtest.TestApp(app)
    _refused(attacker, captured, None, "already used to sign in")
    assert _last_failure()["reason"] == "assertion replayed"


def test_a_relay_state_is_good_for_one_response_only(web, saml_tenant, saml_idp, app):
    import webtest

    request_id, relay = sp_initiated(web, saml_idp)
    post_acs(web, saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id), relay, status=303)
    fresh = saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id)
    _refused(webtest.TestApp(app), fresh, relay, "already used")


def test_sign_out_continues_to_the_idp_with_a_logout_request(web, saml_tenant, saml_idp):
    from urllib.parse import parse_qs

    from saml2 import BINDING_HTTP_REDIRECT

    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context
    from app.identity.sso import services
    from tests.conftest import csrf_from

    with tenant_context(saml_tenant):
        services.save_saml(actor=system_actor(saml_tenant, "test"), want_response_signed=False, email_attr="email",
                           name_attr="displayName", groups_attr="groups", slo_enabled=True,
                           metadata_xml=saml_idp.metadata_xml(), metadata_url="", entity_id="", sso_url="",
                           slo_url="", cert_pem="")
    request_id, relay = sp_initiated(web, saml_idp)
    post_acs(web, saml_idp.response(acs=ACS, audience=SP_ENTITY, in_response_to=request_id), relay, status=303)

    page = web.post("/logout", {"csrf_token": csrf_from(web.get("/account/security"))}, status=200)
    url = page.pyquery("#sso-continue").attr("href")
    assert url.startswith(f"{saml_idp.base}/slo?")
    logout = saml_idp.server().parse_logout_request(parse_qs(urlsplit(url).query)["SAMLRequest"][0],
                                                    BINDING_HTTP_REDIRECT)
    assert logout.message.name_id.text == "grace@example.org"
    assert logout.message.issuer.text == SP_ENTITY
    assert web.get("/dashboard", status="*").status_int in (302, 303)  # Vigil's own session is over
