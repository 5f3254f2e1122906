"""OIDC sign-in through a real OpenID provider: the full code + PKCE flow and every refusal."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db
from app.identity.models import Membership, User, UserSession
from tests.sso.conftest import configure_sso, start_sso, through_provider


def _sessions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(UserSession))


def _failures() -> list[dict]:
    rows = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "auth.sso_failed")).all()
    return [r.after for r in rows]


def test_new_user_signs_in_with_code_pkce_and_is_provisioned(web, oidc_tenant, oidc_provider):
    oidc_provider.user["groups"] = ["soc-leads"]
    configure_sso(oidc_tenant, group_roles_text="soc-leads = responder")
    to_idp = start_sso(web, "ada@example.com")
    query = parse_qs(urlsplit(to_idp.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["login_hint"] == ["ada@example.com"]

    done = web.get(through_provider(to_idp), status=303)

    assert urlsplit(done.headers["Location"]).path == "/dashboard"
    assert web.get("/dashboard").status_int == 200
    # The code was exchanged with the PKCE verifier the provider checked against the challenge.
    assert oidc_provider.token_requests[-1]["code_verifier"]
    user = db.session.scalar(sa.select(User).where(User.email == "ada@example.com"))
    assert user.name == "Ada Lovelace" and user.password_hash is None
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id)
                                   .execution_options(all_tenants=True))
    assert membership.role.value == "responder"  # mapped from the group, not the default
    actions = set(db.session.scalars(sa.select(AuditRecord.action)))
    assert {"member.added", "auth.login"} <= actions


def _refused(web, path: str, words: str):
    before = _sessions()
    page = web.get(path, status=400)
    assert words in page.text, page.text[:2000]
    assert "Single sign-on did not complete" in page.text
    assert _sessions() == before
    assert web.get("/dashboard", status="*").status_int in (302, 303)
    return page


def test_id_token_signed_by_a_key_not_in_the_jwks_is_refused(web, oidc_tenant, oidc_provider):
    from joserfc.jwk import RSAKey

    oidc_provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "signature does not match any key")
    assert _failures()[-1]["reason"] == "bad signature"


def test_wrong_audience_is_refused(web, oidc_tenant, oidc_provider):
    oidc_provider.audience = "some-other-client"
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "meant for another client")


def test_wrong_issuer_is_refused(web, oidc_tenant, oidc_provider):
    oidc_provider.issuer_claim = "https://evil.example"
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "issued by another issuer")


def test_expired_id_token_is_refused(web, oidc_tenant, oidc_provider):
    oidc_provider.lifetime = -600
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "expired")


def test_unverified_email_is_refused(web, oidc_tenant, oidc_provider):
    oidc_provider.user["email_verified"] = False
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "not verified")
    assert db.session.scalar(sa.select(User).where(User.email == "ada@example.com")) is None


def test_state_from_elsewhere_and_reused_state_are_refused(web, oidc_tenant, oidc_provider):
    callback = through_provider(start_sso(web, "ada@example.com"))
    forged = callback.replace("state=", "state=x")
    _refused(web, forged, "not started here")
    web.get(callback, status=303)  # the genuine one still works once
    other = __import__("webtest").TestApp(web.app)
    _refused(other, callback, "already used")


def test_email_outside_the_allowed_domains_is_refused(web, oidc_tenant, oidc_provider):
    oidc_provider.user["email"] = "mallory@elsewhere.test"
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "allowed email domains")


def test_no_jit_refuses_unknown_users(web, oidc_tenant, oidc_provider):
    configure_sso(oidc_tenant, jit_enabled=False)
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "just-in-time provisioning is off")


def test_jit_does_not_attach_an_account_that_belongs_to_another_tenant(web, oidc_tenant, oidc_provider, tenant_b):
    from tests import factories

    factories.make_member(tenant_b, role="admin", email="ada@example.com")
    _refused(web, through_provider(start_sso(web, "ada@example.com")), "already has a Vigil account")


def test_an_idp_without_claimed_domains_vouches_for_no_one(web, oidc_tenant, oidc_provider):
    start = start_sso(web, "ada@example.com")  # routed while the domain was claimed
    configure_sso(oidc_tenant, allowed_domains="")
    _refused(web, through_provider(start), "no email domains routed")
