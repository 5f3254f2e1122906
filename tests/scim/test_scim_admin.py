"""Administration → SCIM provisioning: create a token (shown once, works), revoke it, what the page shows."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.scim.models import ScimToken
from tests.conftest import csrf_from
from tests.scim.conftest import make_scim_token, okta_user

HX = {"HX-Request": "true"}


def _token(public_id: str | None = None) -> ScimToken:
    db.session.expire_all()
    stmt = sa.select(ScimToken).execution_options(all_tenants=True)
    return db.session.scalar(stmt.where(ScimToken.public_id == public_id) if public_id else stmt)


def test_created_token_is_shown_once_and_provisions(login_as, tenant_a, raw_scim):
    admin = login_as("admin")
    page = admin.get("/admin/scim")
    assert "http://localhost/scim/v2" in page.pyquery("#scim-base-url").text()
    assert "No SCIM tokens yet" in page.text
    form = page.forms["new-token-form"]
    form["name"] = "Okta production"
    res = form.submit(status=200)
    raw = res.pyquery("#new-scim-token").text()
    assert raw.startswith("vsc_") and "shown only once" in res.text

    scim = raw_scim(raw)
    assert scim("POST", "/Users", okta_user("first@corp.example")).status_code == 201

    page = admin.get("/admin/scim")
    assert raw not in page.text
    token = _token()
    row = page.pyquery(f"#scim-token-{token.public_id}")
    assert raw[:12] in row.text() and "Okta production" in row.text() and "Active" in row.text()
    assert "Never" not in row.text()  # last used is shown once the IdP has called
    assert "1" in page.pyquery(".cards .stat").eq(0).text()
    audit = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "scim.token_created"))
    assert audit.tenant_id == tenant_a.id and audit.actor_label == admin.membership.user.email


def test_a_token_without_a_name_is_422_with_the_message_by_the_field(login_as):
    admin = login_as("admin")
    form = admin.get("/admin/scim").forms["new-token-form"]
    form["name"] = "  "
    res = form.submit(status=422)
    assert "Check the fields marked below." in res.text and _token() is None


def test_revoke_after_a_confirmation_page_then_the_idp_gets_401(login_as, tenant_a, raw_scim):
    raw = make_scim_token(tenant_a, "Entra")
    token = _token()
    admin = login_as("admin")
    confirm = admin.get(f"/admin/scim/tokens/{token.public_id}/revoke")
    assert "Revoke the SCIM token" in confirm.text and "Entra" in confirm.text
    res = confirm.forms["confirm-form"].submit(status=303).follow()
    assert "is revoked" in res.text
    assert _token(token.public_id).revoked_at is not None
    assert raw_scim(raw)("GET", "/Users").status_code == 401
    again = admin.post(f"/admin/scim/tokens/{token.public_id}/revoke", {"csrf_token": csrf_from(res)}, status=409)
    assert "already revoked" in again.text


def test_revoke_with_htmx_swaps_the_row(login_as, tenant_a):
    make_scim_token(tenant_a)
    token = _token()
    admin = login_as("admin")
    page = admin.get("/admin/scim")
    res = admin.post(f"/admin/scim/tokens/{token.public_id}/revoke", {"csrf_token": csrf_from(page)},
                     headers=HX, status=200)
    assert "<html" not in res.text and f'id="scim-token-{token.public_id}"' in res.text
    assert "Revoked" in res.text and "scim-token-revoked" in res.headers["HX-Trigger"]


def test_another_tenants_token_is_404(login_as, tenant_a, tenant_b):
    make_scim_token(tenant_a)
    token = _token()
    admin_b = login_as("admin", tenant=tenant_b)
    admin_b.get(f"/admin/scim/tokens/{token.public_id}/revoke", status=404)
    page = admin_b.get("/admin/scim")
    admin_b.post(f"/admin/scim/tokens/{token.public_id}/revoke", {"csrf_token": csrf_from(page)}, status=404)
    assert _token(token.public_id).revoked_at is None


def test_groups_show_the_role_they_give(login_as, tenant_a, raw_scim):
    from app.core.actors import system_actor
    from app.identity import group_roles

    with tenant_context(tenant_a):
        group_roles.replace_mappings({"SOC": "analyst"}, actor=system_actor(tenant_a, "test"))
    scim = raw_scim(make_scim_token(tenant_a))
    for name in ("SOC", "Finance"):
        scim("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
    text = login_as("admin").get("/admin/scim").pyquery(".scim-groups-table").text()
    assert "SOC" in text and "analyst" in text and "Finance" in text and "not mapped" in text
