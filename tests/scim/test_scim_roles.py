"""Group membership drives roles through the shared group → role mapping (identity.group_roles)."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity import group_roles
from app.identity.models import Membership, User
from tests import factories
from tests.scim.conftest import okta_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _map(tenant, mapping: dict[str, str]) -> None:
    with tenant_context(tenant):
        group_roles.replace_mappings(mapping, actor=system_actor(tenant, "test"))


def _role(tenant, email: str) -> str:
    db.session.expire_all()
    with tenant_context(tenant):
        return db.session.scalar(sa.select(Membership.role).join(User).where(User.email == email)).value


def _members(scim, gid: str, op: str, uid: str) -> None:
    path = "members" if op == "add" else f'members[value eq "{uid}"]'
    operation = {"op": op, "path": path} | ({"value": [{"value": uid}]} if op == "add" else {})
    res = scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [operation]})
    assert res.status_code == 200, res.json


def test_roles_follow_groups_and_fall_back_to_the_default(tenant_a, scim_token, raw_scim):
    _map(tenant_a, {"SOC Analysts": "analyst", "Vigil Admins": "admin"})
    factories.make_member(tenant_a, role="admin")  # so the SCIM user is never the last admin
    scim = raw_scim(scim_token(tenant_a))
    uid = scim("POST", "/Users", okta_user("role@corp.example")).json["id"]
    assert _role(tenant_a, "role@corp.example") == "auditor"  # new and in no group: read-only

    soc = scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "SOC Analysts",
                                   "members": [{"value": uid}]}).json["id"]
    assert _role(tenant_a, "role@corp.example") == "analyst"
    admins = scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "Vigil Admins"}).json["id"]
    _members(scim, admins, "add", uid)
    assert _role(tenant_a, "role@corp.example") == "admin"  # the broadest mapped role wins
    _members(scim, admins, "remove", uid)
    assert _role(tenant_a, "role@corp.example") == "analyst"
    _members(scim, soc, "remove", uid)
    assert _role(tenant_a, "role@corp.example") == "auditor"  # in no mapped group: the default role

    changes = list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "member.role_changed")
                                      .order_by(AuditRecord.seq)))
    assert [c.after["role"] for c in changes] == ["analyst", "admin", "analyst", "auditor"]
    assert {c.actor_kind for c in changes} == {"scim_token"}


def test_renaming_or_deleting_a_group_recomputes_its_members(tenant_a, scim_token, raw_scim):
    _map(tenant_a, {"responders": "responder"})
    scim = raw_scim(scim_token(tenant_a))
    uid = scim("POST", "/Users", okta_user("oncall@corp.example")).json["id"]
    gid = scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "on-call",
                                   "members": [{"value": uid}]}).json["id"]
    assert _role(tenant_a, "oncall@corp.example") == "auditor"
    scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH],
                                     "Operations": [{"op": "replace", "path": "displayName", "value": "responders"}]})
    assert _role(tenant_a, "oncall@corp.example") == "responder"
    assert scim("DELETE", f"/Groups/{gid}").status_code == 204
    assert _role(tenant_a, "oncall@corp.example") == "auditor"


def test_without_any_mapping_groups_leave_roles_alone(tenant_a, scim_token, raw_scim):
    analyst = factories.make_member(tenant_a, role="analyst")
    scim = raw_scim(scim_token(tenant_a))
    uid = scim("POST", "/Users", okta_user(analyst.user.email)).json["id"]  # linked, role kept
    scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "Everyone", "members": [{"value": uid}]})
    assert _role(tenant_a, analyst.user.email) == "analyst"


def test_mappings_are_per_tenant(tenant_a, tenant_b, scim_token, raw_scim):
    _map(tenant_a, {"Security": "analyst"})
    scim_b = raw_scim(scim_token(tenant_b))
    _map(tenant_b, {"Other": "responder"})
    uid = scim_b("POST", "/Users", okta_user("b.person@corp.example")).json["id"]
    scim_b("POST", "/Groups", {"schemas": [GROUP], "displayName": "Security", "members": [{"value": uid}]})
    assert _role(tenant_b, "b.person@corp.example") == "auditor"  # tenant A's mapping does not apply in B
