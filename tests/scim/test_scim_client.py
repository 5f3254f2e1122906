"""A real SCIM client (scim2-client's WSGI engine) and a conformance checker (scim2-tester) drive the service."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from scim2_models import Email, Error, Group, GroupMember, ListResponse, Name, PatchOp, PatchOperation, User
from scim2_tester import Status, check_server

from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity.models import Membership
from app.identity.models import User as Account


def _audit_actions(tenant) -> list[str]:
    return list(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.tenant_id == tenant.id)
                                   .order_by(AuditRecord.seq)))


def test_client_provisions_reads_filters_patches_and_deprovisions(tenant_a, scim_token, scim_client):
    scim = scim_client(scim_token(tenant_a, "Okta production"))

    created = scim.create(User(user_name="grace@corp.example", external_id="00u-grace", active=True,
                               name=Name(given_name="Grace", family_name="Hopper"),
                               emails=[Email(value="grace@corp.example", primary=True, type="work")]))
    assert created.id and created.user_name == "grace@corp.example" and created.active is True
    with tenant_context(tenant_a):
        member = db.session.scalar(sa.select(Membership).join(Account).where(Account.email == "grace@corp.example"))
        assert member is not None and member.is_active and member.role == "auditor"
        assert member.user.name == "Grace Hopper" and member.user.password_hash is None

    fetched = scim.query(User, created.id)
    assert fetched.external_id == "00u-grace" and fetched.name.family_name == "Hopper"

    by_name = scim.query(User, query_parameters={"filter": 'userName eq "GRACE@corp.example"'})
    assert isinstance(by_name, ListResponse) and by_name.total_results == 1
    assert by_name.resources[0].id == created.id
    by_external = scim.query(User, query_parameters={"filter": 'externalId eq "00u-grace"'})
    assert [u.id for u in by_external.resources] == [created.id]
    by_email = scim.query(User, query_parameters={"filter": 'emails.value eq "grace@corp.example"'})
    assert by_email.total_results == 1
    assert scim.query(User, query_parameters={"filter": 'userName eq "nobody@corp.example"'}).total_results == 0

    patched = scim.modify(User, created.id, PatchOp[User](operations=[
        PatchOperation(op="replace", path="name.familyName", value="Hopper-Murray")]))
    assert patched.name.family_name == "Hopper-Murray"

    deactivated = scim.modify(User, created.id, PatchOp[User](operations=[
        PatchOperation(op="replace", path="active", value=False)]))
    assert deactivated.active is False
    with tenant_context(tenant_a):
        db.session.expire_all()
        assert db.session.get(Membership, member.id).is_active is False

    scim.delete(User, created.id)
    gone = scim.query(User, created.id, raise_scim_errors=False)
    assert isinstance(gone, Error) and gone.status == 404
    with tenant_context(tenant_a):
        db.session.expire_all()
        assert db.session.get(Membership, member.id).is_active is False  # history kept, access gone
    actions = _audit_actions(tenant_a)
    for expected in ("scim.user_created", "scim.user_updated", "member.deactivated", "scim.user_deleted"):
        assert expected in actions


def test_client_manages_groups_and_members(tenant_a, scim_token, scim_client):
    scim = scim_client(scim_token(tenant_a))
    ada = scim.create(User(user_name="ada@corp.example"))
    alan = scim.create(User(user_name="alan@corp.example"))

    group = scim.create(Group(display_name="SOC Analysts", members=[GroupMember(value=ada.id)]))
    assert [m.value for m in group.members] == [ada.id]
    found = scim.query(Group, query_parameters={"filter": 'displayName eq "soc analysts"'})
    assert [g.id for g in found.resources] == [group.id]

    scim.modify(Group, group.id, PatchOp[Group](operations=[
        PatchOperation(op="add", path="members", value=[{"value": alan.id}])]))
    assert {m.value for m in scim.query(Group, group.id).members} == {ada.id, alan.id}
    assert [g.value for g in scim.query(User, alan.id).groups] == [group.id]

    scim.modify(Group, group.id, PatchOp[Group](operations=[
        PatchOperation(op="remove", path=f'members[value eq "{ada.id}"]')]))
    assert [m.value for m in scim.query(Group, group.id).members] == [alan.id]

    scim.delete(Group, group.id)
    assert isinstance(scim.query(Group, group.id, raise_scim_errors=False), Error)
    assert "scim.group_deleted" in _audit_actions(tenant_a)


def test_duplicate_user_name_is_409_uniqueness(tenant_a, scim_token, scim_client):
    scim = scim_client(scim_token(tenant_a))
    scim.create(User(user_name="dup@corp.example"))
    error = scim.create(User(user_name="DUP@corp.example"), raise_scim_errors=False)
    assert isinstance(error, Error) and error.status == 409 and error.scim_type == "uniqueness"


def test_pagination_with_start_index_and_count(tenant_a, scim_token, scim_client):
    scim = scim_client(scim_token(tenant_a))
    ids = [scim.create(User(user_name=f"user{n}@corp.example")).id for n in range(5)]
    page = scim.query(User, query_parameters={"start_index": 2, "count": 2})
    assert page.total_results == 5 and page.start_index == 2 and page.items_per_page == 2
    assert [u.id for u in page.resources] == ids[1:3]
    last = scim.query(User, query_parameters={"start_index": 5, "count": 2})
    assert [u.id for u in last.resources] == ids[4:]


# scim2-tester's "crud" checks fill only required attributes with random strings, so their Users
# have no email address, which Vigil needs to sign anyone in; the tests above cover CRUD instead.
@pytest.mark.parametrize("tags", [{"discovery"}, {"misc"}])
def test_scim2_tester_finds_no_failure(tenant_a, scim_token, scim_client, tags):
    """The python-scim conformance checker: discovery documents and their methods, unknown URLs."""
    results = check_server(scim_client(scim_token(tenant_a)), include_tags=tags)
    failures = [(r.title, r.description, r.reason) for r in results if r.status == Status.ERROR]
    assert results and failures == []
