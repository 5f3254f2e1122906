"""SSO fixtures: a real OpenID provider and a real SAML IdP (pysaml2), and tenants connected to them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from app.core.actors import system_actor
from app.core.tenancy import tenant_context
from app.identity.sso import services
from tests.peers.oidc_provider import OidcProvider

ADMIN_SETTINGS = {"enforce_sso": False, "jit_enabled": True, "default_role": "analyst",
                  "allow_idp_initiated": False, "allowed_domains": "example.com", "group_roles_text": ""}


@pytest.fixture(scope="session")
def _provider():
    provider = OidcProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc_provider(_provider):
    """The provider, its knobs reset for each test."""
    _provider.redirect_uris = ["http://localhost/sso/tenant-a/oidc/callback"]
    _provider.user = {"sub": "u-1", "email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace",
                      "groups": []}
    _provider.signing_key, _provider.audience, _provider.issuer_claim = _provider.key, None, None
    _provider.lifetime = 600
    _provider.token_requests.clear()
    return _provider


def configure_sso(tenant, **settings):
    with tenant_context(tenant):
        services.save_settings(actor=system_actor(tenant, "test"), **{**ADMIN_SETTINGS, **settings})


@pytest.fixture
def oidc_tenant(tenant_a, oidc_provider):
    with tenant_context(tenant_a):
        services.save_oidc(actor=system_actor(tenant_a, "test"), issuer=oidc_provider.issuer,
                           client_id=oidc_provider.client_id, client_secret=oidc_provider.client_secret,
                           scopes="openid email profile groups", email_claim="email", groups_claim="groups")
    configure_sso(tenant_a)
    return tenant_a


def start_sso(web, email: str):
    """The email step: returns the response that sends the browser to the IdP."""
    form = web.get("/login").forms[0]
    form["email"] = email
    res = form.submit(status=200)
    start = res.pyquery("#sso-continue").attr("href")
    assert start and start.startswith("/sso/"), res.text[:500]
    return web.get(start, status=303)


def through_provider(idp_redirect) -> str:
    """Let the provider answer its authorization URL; returns our callback path with code and state."""
    answer = requests.get(idp_redirect.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


# --- SAML ----------------------------------------------------------------------------------

SP_ENTITY = "http://localhost/sso/tenant-a/saml/metadata"
ACS = "http://localhost/sso/tenant-a/saml/acs"


@pytest.fixture(scope="session")
def _idp():
    from tests.peers.saml_idp import SamlIdp

    idp = SamlIdp().start()
    yield idp
    idp.stop()


@pytest.fixture
def saml_idp(_idp):
    _idp.user = {"email": "grace@example.org", "name": "Grace Hopper", "groups": ["soc-analysts"]}
    return _idp


@pytest.fixture
def saml_tenant(tenant_a, saml_idp, web):
    saml_idp.trust_sp(web.get("/sso/tenant-a/saml/metadata").text)
    with tenant_context(tenant_a):
        services.save_saml(actor=system_actor(tenant_a, "test"), want_response_signed=False, email_attr="email",
                           name_attr="displayName", groups_attr="groups", slo_enabled=False,
                           metadata_xml=saml_idp.metadata_xml(), metadata_url="", entity_id="", sso_url="",
                           slo_url="", cert_pem="")
    configure_sso(tenant_a, allowed_domains="example.org", group_roles_text="soc-analysts = analyst")
    return tenant_a


def sp_initiated(web, saml_idp, email: str = "grace@example.org") -> tuple[str, str]:
    """Start sign-in at Vigil; returns the AuthnRequest id the IdP received and the RelayState."""
    from saml2 import BINDING_HTTP_REDIRECT

    to_idp = start_sso(web, email)
    query = {k: v[0] for k, v in __import__("urllib.parse").parse.parse_qs(
        urlsplit(to_idp.headers["Location"]).query).items()}
    assert to_idp.headers["Location"].startswith(saml_idp.base + "/sso")
    parsed = saml_idp.server().parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
    return parsed.message.id, query["RelayState"]


def post_acs(web, saml_response: str, relay: str | None, status="*"):
    data = {"SAMLResponse": saml_response}
    if relay is not None:
        data["RelayState"] = relay
    return web.post("/sso/tenant-a/saml/acs", data, status=status)
