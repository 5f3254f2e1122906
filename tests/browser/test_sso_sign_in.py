"""New people sign in through their organisation's IdP in Chromium: one by OIDC, one by SAML.

The IdPs are real peers on 127.0.0.1 (another site than http://localhost:PORT), so the SAML
POST to our ACS is cross-site and arrives without the Lax session cookie, as in production.
"""

from __future__ import annotations

import re

import pytest

from app.core.actors import system_actor
from app.core.tenancy import tenant_context
from app.identity.services import tenant_by_slug
from app.identity.sso import services

SETTINGS = {"enforce_sso": False, "jit_enabled": True, "default_role": "analyst", "allow_idp_initiated": False}


@pytest.fixture
def oidc_provider():
    from tests.peers.oidc_provider import OidcProvider

    provider = OidcProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def saml_idp():
    from tests.peers.saml_idp import SamlIdp

    idp = SamlIdp().start()
    yield idp
    idp.stop()


def _connect(live_server, save, domains: str, mapping: str):
    with live_server.app.app_context():
        acme = tenant_by_slug("acme")
        with tenant_context(acme):
            actor = system_actor(acme, "browser test")
            save(actor)
            services.save_settings(actor=actor, allowed_domains=domains, group_roles_text=mapping, **SETTINGS)


def _sign_in_with_email(page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()


def test_new_user_signs_in_through_oidc(page, live_server, oidc_provider, screenshot):
    oidc_provider.redirect_uris = [f"{live_server.url}/sso/acme/oidc/callback"]
    oidc_provider.user = {"sub": "u-ada", "email": "ada@example.com", "email_verified": True,
                          "name": "Ada Oidc", "groups": ["soc-leads"]}
    _connect(live_server, lambda actor: services.save_oidc(
        actor=actor, issuer=oidc_provider.issuer, client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret, scopes="openid email profile groups", email_claim="email",
        groups_claim="groups"), "example.com", "soc-leads = responder")

    _sign_in_with_email(page, live_server.url, "ada@example.com")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert "Acme Corp" in page.locator("main").inner_text()
    assert page.page_errors == []


def test_new_user_signs_in_through_saml_after_a_refused_response(page, live_server, saml_idp, screenshot):
    saml_idp.trust_sp(page.request.get(f"{live_server.url}/sso/acme/saml/metadata").text())
    _connect(live_server, lambda actor: services.save_saml(
        actor=actor, want_response_signed=False, email_attr="email", name_attr="displayName",
        groups_attr="groups", slo_enabled=False, metadata_xml="", metadata_url=f"{saml_idp.base}/metadata",
        entity_id="", sso_url="", slo_url="", cert_pem=""), "example.org", "soc-analysts = analyst")

    # First the IdP vouches for an address outside the tenant's domains: refused, with the reason.
    saml_idp.user = {"email": "mallory@elsewhere.test", "name": "Mallory", "groups": []}
    _sign_in_with_email(page, live_server.url, "grace@example.org")
    page.get_by_text("Single sign-on did not complete.").wait_for()
    assert "allowed email domains" in page.locator(".sso-refused").inner_text()
    screenshot(page, "sso-refused", reload=False)
    assert page.goto(f"{live_server.url}/dashboard").url.split("?")[0].endswith("/login")

    saml_idp.user = {"email": "grace@example.org", "name": "Grace Saml", "groups": ["soc-analysts"]}
    _sign_in_with_email(page, live_server.url, "grace@example.org")
    # The IdP's page posts the signed response to our ACS across sites; we land signed in.
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.get_by_role("link", name="Alerts", exact=True).is_visible()  # analyst, from the mapped group
    assert page.page_errors == []
