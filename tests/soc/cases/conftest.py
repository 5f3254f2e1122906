"""Case fixtures: an analyst actor in tenant A, and a case opened through the service."""

from __future__ import annotations

import pytest

from app.core.actors import Actor
from app.core.permissions import permissions_for_role
from app.core.tenancy import tenant_context
from tests import factories


@pytest.fixture
def analyst(tenant_a):
    """An analyst of tenant A as a service actor, inside tenant A's context."""
    membership = factories.make_member(tenant_a, role="analyst")
    with tenant_context(tenant_a):
        yield Actor(tenant=tenant_a, permissions=permissions_for_role("analyst"), label=membership.user.email,
                    user=membership.user, role="analyst")


@pytest.fixture
def case(analyst):
    from app.soc.cases.services import create_case

    return create_case(actor=analyst, title="Beaconing from WS-0042", severity="high")
