"""A small subject kind registered the way any domain registers one, and helpers to act as members."""

from __future__ import annotations

import pytest

from app.approvals.subjects import Subject, SubjectKind, register
from app.identity.auth import member_actor
from tests import factories

CALLS: list[tuple[str, str, str]] = []  # (event, subject id, outcome) — what the "domain" saw


def _describe(subject_id: str) -> Subject | None:
    return Subject(title=f"Change {subject_id}", link=f"/changes/{subject_id}") if subject_id.startswith("chg-") \
        else None


register(SubjectKind(name="test_change", label="test change", describe=_describe,
                     on_approved=lambda sid, req, actor: CALLS.append(("approved", sid, "approved")),
                     on_rejected=lambda sid, req, actor, outcome: CALLS.append(("rejected", sid, outcome))))


@pytest.fixture
def calls():
    CALLS.clear()
    yield CALLS
    CALLS.clear()


@pytest.fixture
def members(tenant_a, in_tenant):
    """members("admin", "admin", "compliance") → one actor per role, freshly made in tenant A."""

    def _make(*roles: str):
        made = []
        for role in roles:
            membership = factories.make_member(tenant_a, role=role)
            with in_tenant(tenant_a):
                made.append(member_actor(membership))
        return made

    return _make
