"""Directory groups mapped to Vigil roles, one table per tenant shared by SSO and SCIM.

An SSO sign-in (OIDC groups claim, SAML groups attribute) and a SCIM group membership both
ask `role_for_groups()`, so an admin maps "soc-analysts → analyst" once and every way a user
arrives ends in the same role.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core import audit
from app.core.actors import Actor
from app.core.db import Base, atomic
from app.core.errors import ValidationFailed
from app.core.permissions import Role
from app.core.tenancy import TenantScoped
from app.extensions import db

# When a user is in several mapped groups the broadest role wins, so adding someone to an
# extra read-only group never takes rights away.
ROLE_PRECEDENCE = [Role.ADMIN, Role.ANALYST, Role.COMPLIANCE, Role.RESPONDER, Role.AUDITOR]


class GroupRoleMapping(TenantScoped, Base):
    __tablename__ = "group_role_mappings"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "group_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))


def list_mappings() -> list[GroupRoleMapping]:
    return list(db.session.scalars(sa.select(GroupRoleMapping).order_by(GroupRoleMapping.group_name)))


def as_dict() -> dict[str, str]:
    return {m.group_name: m.role for m in list_mappings()}


def parse_lines(text: str) -> dict[str, str]:
    """Parse the admin form's "group = role" lines; raise ValidationFailed naming the bad line."""
    mapping: dict[str, str] = {}
    allowed = ", ".join(r.value for r in Role)
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        group, sep, role = (part.strip() for part in line.rpartition("="))
        if not sep or not group or not role:
            raise ValidationFailed({"group_roles": [f"Line {number}: write “group = role”."]})
        if role not in {r.value for r in Role}:
            raise ValidationFailed(
                {"group_roles": [f"Line {number}: “{role}” is not a role (use one of {allowed})."]})
        mapping[group] = role
    return mapping


@atomic
def replace_mappings(mapping: dict[str, str], *, actor: Actor) -> None:
    """Make the tenant's mapping exactly `mapping` (group name → role value), audited."""
    for role in mapping.values():
        Role(role)  # ValueError for an unknown role: callers validate with parse_lines first
    before = as_dict()
    if before == mapping:
        return
    for existing in list_mappings():
        db.session.delete(existing)
    db.session.flush()
    for group, role in sorted(mapping.items()):
        db.session.add(GroupRoleMapping(group_name=group, role=role))
    audit.record("sso.group_roles_changed", actor=actor, before=before, after=mapping)


def role_for_groups(groups: list[str] | None) -> Role | None:
    """The broadest role any of the user's groups maps to, or None when none is mapped."""
    if not groups:
        return None
    roles = {Role(m.role) for m in list_mappings() if m.group_name in set(groups)}
    for role in ROLE_PRECEDENCE:
        if role in roles:
            return role
    return None
