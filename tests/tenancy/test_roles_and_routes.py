"""Every role sees exactly its permitted pages; every route declares who may use it."""

from __future__ import annotations

import uuid

import pytest

from app.core.permissions import ROLE_PERMISSIONS, Role, required_permission
from tests.conftest import csrf_from

# Routes anyone may open (sign-in flow, health, static assets, password links). Keep this short.
PUBLIC = {
    "static", "health.health", "health.ready", "home.index", "identity.login", "identity.login_post",
    "identity.login_code", "identity.login_code_post", "identity.password_set", "identity.password_set_post",
    "identity.logout",
    "passkeys.login_options", "passkeys.login_post",
    # Single sign-on: the IdP and the signed-out browser reach these; each opens the URL's tenant.
    "sso.start", "sso.oidc_callback", "sso.saml_metadata", "sso.saml_acs", "sso.saml_sls",
}
# Routes for any signed-in member, whatever the role (their own account).
ANY_MEMBER = {
    "identity.switch_tenant", "identity.account_security", "identity.mfa_enrol", "identity.mfa_enrol_post",
    "identity.recovery_codes_post",
    "passkeys.register_options", "passkeys.register_post", "passkeys.add_page", "passkeys.rename_post",
    "passkeys.revoke_confirm", "passkeys.revoke_post", "passkeys.stepup_options",
}

# The pages people navigate to, and who may see them: written out, so a change to the role
# map that opens or closes a page fails here.
EXPECTED_PAGES = {
    "/dashboard": set(Role),
    "/admin/members": {Role.ADMIN, Role.AUDITOR},
    "/admin/api-keys": {Role.ADMIN},
    "/audit/": {Role.ADMIN, Role.AUDITOR},
    "/soc/alerts": {Role.ADMIN, Role.ANALYST, Role.RESPONDER, Role.AUDITOR},
    "/soc/cases": {Role.ADMIN, Role.ANALYST, Role.RESPONDER, Role.AUDITOR},
    "/admin/scim": {Role.ADMIN},
    "/soc/sla": {Role.ADMIN, Role.ANALYST, Role.RESPONDER, Role.AUDITOR},
    "/soc/sla/targets": {Role.ADMIN},
    "/admin/sso/": {Role.ADMIN},
    "/soc/settings": {Role.ADMIN},
    "/compliance/": {Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR},
    "/compliance/controls": {Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR},
    "/compliance/evidence": {Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR},
    "/compliance/renewals": {Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR},
    "/compliance/tasks": {Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR},
    "/compliance/import": {Role.ADMIN, Role.COMPLIANCE},
    "/approvals": set(Role),
    "/approvals?tab=decided": set(Role),
    "/notifications": set(Role),
    "/governance/policies": set(Role),
    "/governance/policies/new": {Role.ADMIN, Role.COMPLIANCE},
    "/governance/ai-systems": {Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR},
    "/governance/ai-systems/new": {Role.ADMIN, Role.COMPLIANCE},
    "/governance/risks": {Role.ADMIN, Role.ANALYST, Role.COMPLIANCE, Role.AUDITOR},
    "/governance/risks/new": {Role.ADMIN, Role.COMPLIANCE},
    "/governance/risks/settings": {Role.ADMIN, Role.COMPLIANCE},
}



def _html_rules(app):
    # /scim/v2 answers bearer tokens only (tests/scim/test_scim_auth.py sweeps it with its own tokens).
    return [r for r in app.url_map.iter_rules() if not r.rule.startswith(("/api/", "/static", "/scim/"))]


def test_every_html_route_declares_a_permission_or_is_listed_public(app):
    undeclared = [
        r.endpoint for r in _html_rules(app)
        if r.endpoint not in PUBLIC | ANY_MEMBER and required_permission(app.view_functions[r.endpoint]) is None
    ]
    assert undeclared == []


def test_every_api_route_declares_a_permission_or_is_public(app):
    from app.core.api import PUBLIC_ENDPOINTS

    undeclared = [
        r.endpoint for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1") and r.endpoint not in PUBLIC_ENDPOINTS
        and r.endpoint != "api.identity_api.users_me"  # every credential may read itself
        and required_permission(app.view_functions[r.endpoint]) is None
    ]
    assert undeclared == []


@pytest.mark.parametrize("role", list(Role))
def test_pages_by_role(login_as, role):
    client = login_as(role.value)
    for path, allowed in EXPECTED_PAGES.items():
        res = client.get(path, status="*")
        expected = 200 if role in allowed else 403
        assert res.status_int == expected, f"{role} {path}: {res.status_int}"
        if expected == 403:
            assert "Not allowed" in res.text and role.value in res.text


@pytest.mark.parametrize("role", list(Role))
def test_every_route_answers_by_the_role_map(app, login_as, role):
    """Sweep all HTML routes: a permission the role lacks is a 403, one it holds is never a 403."""
    client = login_as(role.value)
    token = csrf_from(client.get("/account/security"))
    granted = ROLE_PERMISSIONS[role]
    for rule in _html_rules(app):
        permission = required_permission(app.view_functions[rule.endpoint])
        if permission is None:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", str(uuid.uuid4())).replace(f"<int:{arg}>", "1")
            for conv in ("string", "path", "uuid"):
                path = path.replace(f"<{conv}:{arg}>", str(uuid.uuid4()))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                res = client.get(path, status="*")
            else:
                res = client.post(path, {"csrf_token": token}, status="*")
            where = f"{role} {method} {path} ({permission})"
            assert res.status_int != 500, where
            if permission in granted:
                assert res.status_int != 403, where
            else:
                assert res.status_int == 403, where
