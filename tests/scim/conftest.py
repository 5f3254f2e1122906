"""SCIM fixtures: a tenant's token made through the service, a scim2-client bound to the app, raw calls."""

from __future__ import annotations

import json

import pytest
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import EnterpriseUser, Group, ScimProvider, User

from app.core.actors import system_actor
from app.core.tenancy import tenant_context
from app.scim.tokens import create_scim_token

SCIM_JSON = "application/scim+json"
_OWN = object()  # "use this client's own token"


def make_scim_token(tenant, name: str = "Okta") -> str:
    with tenant_context(tenant):
        _token, raw = create_scim_token(actor=system_actor(tenant, "test"), name=name)
        return raw


@pytest.fixture
def scim_token():
    return make_scim_token


@pytest.fixture
def scim_client(app):
    """scim_client(raw_token) → scim2-client's WSGI engine, calling the Flask app in-process."""

    def _make(raw: str) -> WSGISCIMClient:
        return WSGISCIMClient(app, base_url="http://localhost/scim/v2",
                              headers={"Authorization": f"Bearer {raw}"},
                              provider=ScimProvider(models=[User, EnterpriseUser, Group]))

    return _make


class RawScim:
    """Plain HTTP with SCIM JSON, for the exact payloads Okta and Entra send."""

    def __init__(self, app, raw_token: str | None):
        self.http = app.test_client()
        self.token = raw_token

    def __call__(self, method: str, path: str, body: object = None, *, token: str | None | object = _OWN, **kw):
        token = self.token if token is _OWN else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None if body is None else json.dumps(body)
        return self.http.open(f"/scim/v2{path}", method=method, headers=headers, data=data,
                              content_type=SCIM_JSON if data else None, **kw)


@pytest.fixture
def raw_scim(app):
    """raw_scim(token)(method, path, body) → a Flask test response."""
    return lambda token: RawScim(app, token)


def okta_user(email: str, external_id: str = "00u1", **extra) -> dict:
    """A POST /Users body as Okta sends it."""
    given, _, rest = email.partition("@")
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email, "name": {"givenName": given.capitalize(), "familyName": "Tester"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{given.capitalize()} Tester", "locale": "en-US", "externalId": external_id,
        "groups": [], "password": "Okta-sent-Passw0rd!", "active": True, **extra,
    }
