"""The cross-tenant sweep: tenant B never reaches tenant A's objects, through HTML or the API."""

from __future__ import annotations

import dataclasses

from app.core.permissions import SCOPES
from tests import factories
from tests.compliance.builders import make_compliance_objects
from tests.conftest import csrf_from

# Routes whose argument is not an object id.
# The signed-in user's own objects (passkeys are global, per user): no tenant's admin reaches them,
# so the control below cannot get a 200; tests/identity/test_passkeys.py covers another user's id.
USER_OWNED_ROUTES = {"passkeys.revoke_confirm"}
NOT_OBJECT_ROUTES = {"identity.password_set", "identity.password_set_post", "static",
                     # The IdP-facing SSO routes take a tenant's public slug and serve anyone signed out.
                     "sso.start", "sso.oidc_callback", "sso.saml_metadata", "sso.saml_acs", "sso.saml_sls"}


def _tenant_a_object_ids(tenant_a) -> list[str]:
    member = factories.make_member(tenant_a, role="analyst")
    key, _raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    case = factories.make_case(tenant_a, template="phishing")  # comes with tasks
    alert = factories.make_alert(tenant_a)
    scim_token = factories.make_scim_token(tenant_a)
    evidence = factories.make_attachment(tenant_a, case)
    policy, approval = factories.make_policy_in_review(tenant_a)
    risk = factories.make_risk(tenant_a)
    return [member.public_id, member.user.public_id, key.public_id, case.public_id, case.tasks[0].public_id,
            alert.public_id, scim_token.public_id, evidence.public_id, policy.public_id,
            approval.public_id, factories.make_ai_system(tenant_a).public_id,
            risk.public_id] + make_compliance_objects(tenant_a)


def _object_rules(app, api: bool):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_OBJECT_ROUTES or not rule.arguments:
            continue
        if rule.rule.startswith("/scim/"):
            continue  # bearer-token protocol: swept with SCIM tokens in tests/scim/test_scim_auth.py
        if rule.rule.startswith("/api/") == api:
            yield rule


def _fill(rule, object_id: str) -> str:
    path = rule.rule
    for arg in rule.arguments:
        for pattern in (f"<{arg}>", f"<string:{arg}>", f"<uuid:{arg}>"):
            path = path.replace(pattern, object_id)
        path = path.replace(f"<int:{arg}>", "1")  # a number within its object (a policy's version 1)
    return path


def test_html_routes_answer_404_for_another_tenants_objects(app, login_as, tenant_a, tenant_b):
    ids = _tenant_a_object_ids(tenant_a)
    client = login_as("admin", tenant=tenant_b)  # admin holds every permission: only tenancy can stop it
    token = csrf_from(client.get("/account/security"))
    checked = 0
    for rule in _object_rules(app, api=False):
        for object_id in ids:
            path = _fill(rule, object_id)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                res = (client.get(path, status="*") if method == "GET"
                       else client.post(path, {"csrf_token": token}, status="*"))
                assert res.status_int == 404, f"{method} {path} as tenant B: {res.status_int}"
                checked += 1
    assert checked >= 3, "the sweep found no object routes: is the url_map empty?"


def test_api_routes_answer_404_for_another_tenants_objects(app, tenant_a, tenant_b, monkeypatch):
    # The sweep sends more requests than one key may per minute; the rate limit is not under test here.
    relaxed = dataclasses.replace(app.extensions["vigil_settings"], api_key_rate="100000 per minute")
    monkeypatch.setitem(app.extensions, "vigil_settings", relaxed)
    ids = _tenant_a_object_ids(tenant_a)
    _key, raw = factories.make_api_key(tenant_b, scopes=list(SCOPES))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    for rule in _object_rules(app, api=True):
        for object_id in ids:
            path = _fill(rule, object_id)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                res = client.open(path, method=method, headers=headers, json={})
                assert res.status_code == 404, f"{method} {path} as tenant B: {res.status_code}"
                assert res.json["error"]["code"] == "not_found"


def test_the_same_routes_answer_for_the_owning_tenant(app, login_as, tenant_a):
    """The control for the sweeps above: their 404s come from tenancy, not from wrong URLs."""
    ids = _tenant_a_object_ids(tenant_a)
    client = login_as("admin", tenant=tenant_a)
    for rule in _object_rules(app, api=False):
        if "GET" not in rule.methods or rule.endpoint in USER_OWNED_ROUTES:
            continue
        statuses = {client.get(_fill(rule, object_id), status="*").status_int for object_id in ids}
        assert 200 in statuses, f"GET {rule.rule} never answered 200 for tenant A's own objects: {statuses}"
    # Every read scope, so a 403 cannot hide a route; only GET rules can answer a GET.
    _key, raw = factories.make_api_key(tenant_a, scopes=[s for s in SCOPES if s.endswith(":read")])
    api = app.test_client()
    for rule in _object_rules(app, api=True):
        if "GET" not in rule.methods:
            continue
        statuses = {api.get(_fill(rule, object_id), headers={"Authorization": f"Bearer {raw}"}).status_code
                    for object_id in ids}
        assert 200 in statuses, f"GET {rule.rule}: {statuses}"
