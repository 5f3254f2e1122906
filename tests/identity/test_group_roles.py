"""Directory groups → roles: parsing the admin's lines, replacing the mapping, broadest role wins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import ValidationFailed
from app.core.permissions import Role
from app.core.tenancy import tenant_context
from app.identity import group_roles


def test_parse_lines_names_the_bad_line():
    assert group_roles.parse_lines("# comment\nsoc = analyst\n\nit-admins=admin") == {
        "soc": "analyst", "it-admins": "admin"}
    with pytest.raises(ValidationFailed) as err:
        group_roles.parse_lines("soc = analyst\nauditors = superuser")
    assert "Line 2" in str(err.value.field_errors) and "superuser" in str(err.value.field_errors)
    with pytest.raises(ValidationFailed):
        group_roles.parse_lines("just-a-group")


def test_broadest_role_wins_and_mapping_is_per_tenant(app, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        group_roles.replace_mappings({"readers": "auditor", "soc": "analyst"},
                                     actor=system_actor(tenant_a, "test"))
        assert group_roles.role_for_groups(["readers", "soc", "unknown"]) is Role.ANALYST
        assert group_roles.role_for_groups(["readers"]) is Role.AUDITOR
        assert group_roles.role_for_groups(["nobody"]) is None
        assert group_roles.role_for_groups([]) is None
        group_roles.replace_mappings({"soc": "responder"}, actor=system_actor(tenant_a, "test"))
        assert group_roles.as_dict() == {"soc": "responder"}
        changes = db.session.scalars(sa.select(AuditRecord).where(
            AuditRecord.action == "sso.group_roles_changed")).all()
        assert [c.after for c in changes][-1] == {"soc": "responder"}
    with tenant_context(tenant_b):
        assert group_roles.role_for_groups(["soc"]) is None
