"""The hash chain: real actions verify, and any change made behind the ORM's back is found by number."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core import audit
from app.core.actors import system_actor
from app.core.audit import AuditRecord, AuditTamperError
from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity import services
from tests import factories
from tests.conftest import sign_in

# A value for each hashed field that differs from anything record() writes.
TAMPERED = {
    "chain": "tampered-chain",
    "seq": 90_000,
    "at": datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC),
    "actor_kind": "api_key",
    "actor_id": "00000000-0000-4000-8000-000000000000",
    "actor_label": "someone else",
    "action": "member.removed",
    "target_type": "apikey",
    "target_id": "11111111-1111-4111-8111-111111111111",
    "target_label": "a different target",
    "before": {"role": "admin"},
    "after": {"role": "auditor"},
    "ip": "203.0.113.99",
    "request_id": "forged-request",
    "prev_hash": "f" * 64,
}


def _with_actions(tenant, count: int = 3) -> list[AuditRecord]:
    """Add members and change a role, through the real services; return the tenant's chain."""
    memberships = [factories.make_member(tenant, role="analyst", password=None) for _ in range(count)]
    with tenant_context(tenant):
        services.change_role(memberships[0], actor=system_actor(tenant, "test"), role="responder")
    return _chain(tenant)


def _chain(tenant) -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(AuditRecord).where(AuditRecord.chain == str(tenant.id)).order_by(AuditRecord.seq)))


def _raw_update(rec_id: int, column: str, value) -> None:
    # Typed bind, so dates and JSON are written exactly as each backend stores them.
    stmt = sa.text(f"UPDATE audit_records SET {column} = :value WHERE id = :id").bindparams(  # noqa: S608
        sa.bindparam("value", type_=AuditRecord.__table__.c[column].type))
    db.session.execute(stmt, {"value": value, "id": rec_id})
    db.session.commit()


def _raw_delete(rec_id: int) -> None:
    db.session.execute(sa.text("DELETE FROM audit_records WHERE id = :id"), {"id": rec_id})
    db.session.commit()


def test_tampered_values_cover_every_hashed_field():
    assert set(TAMPERED) == set(AuditRecord.HASHED_FIELDS)


def test_chain_verifies_after_real_actions(web, login_as, tenant_a):
    _with_actions(tenant_a)
    login_as("auditor")
    member = factories.make_member(tenant_a, role="admin")
    assert sign_in(web, member.user.email, password="wrong password").status_int != 303
    factories.make_api_key(tenant_a, scopes=["audit:read"])
    chain = _chain(tenant_a)
    actions = [r.action for r in chain]
    assert {"tenant.created", "member.added", "member.role_changed", "auth.login", "auth.login_failed",
            "apikey.created"} <= set(actions)
    assert [r.seq for r in chain] == list(range(1, len(chain) + 1))
    assert audit.verify(tenant_a) == audit.VerifyResult(True, len(chain))


def test_an_empty_chain_verifies(tenant_a):
    db.session.execute(sa.text("DELETE FROM audit_records"))
    db.session.execute(sa.text("DELETE FROM audit_chain_heads"))
    db.session.commit()
    assert audit.verify(tenant_a) == audit.VerifyResult(True, 0)


@pytest.mark.parametrize("field", AuditRecord.HASHED_FIELDS)
def test_changing_any_hashed_field_in_the_database_names_that_record(tenant_a, field):
    chain = _with_actions(tenant_a)
    victim = chain[2]
    seq = victim.seq
    assert getattr(victim, field) != TAMPERED[field]
    _raw_update(victim.id, field, TAMPERED[field])

    result = audit.verify(tenant_a)

    assert not result.ok
    assert result.broken_seq == seq
    assert result.checked == seq - 1
    assert f"#{seq}" in result.reason


def test_changing_the_stored_hash_names_that_record(tenant_a):
    victim = _with_actions(tenant_a)[3]
    seq = victim.seq
    _raw_update(victim.id, "hash", "0" * 64)
    result = audit.verify(tenant_a)
    assert (result.ok, result.broken_seq) == (False, seq)


def test_a_recomputed_hash_still_breaks_the_next_link(tenant_a):
    # A careful forger rewrites a row and its hash; the next row no longer links to it.
    chain = _with_actions(tenant_a)
    victim = chain[2]
    seq = victim.seq
    _raw_update(victim.id, "actor_label", "someone else")
    db.session.expire_all()
    forged = db.session.get(AuditRecord, victim.id)
    new_hash = forged.compute_hash()
    _raw_update(victim.id, "hash", new_hash)
    result = audit.verify(tenant_a)
    assert (result.ok, result.broken_seq) == (False, seq + 1)
    assert "does not link" in result.reason


def test_deleting_a_middle_record_reports_it_missing(tenant_a):
    chain = _with_actions(tenant_a)
    victim_id, seq = chain[len(chain) // 2].id, chain[len(chain) // 2].seq
    _raw_delete(victim_id)
    result = audit.verify(tenant_a)
    assert (result.ok, result.broken_seq) == (False, seq)
    assert result.reason == f"record #{seq} is missing"


def test_moving_a_record_to_another_tenant_names_that_record(tenant_a, tenant_b):
    chain = _with_actions(tenant_a)
    victim = chain[1]
    _raw_update(victim.id, "tenant_id", tenant_b.id)
    result = audit.verify(tenant_a)
    assert (result.ok, result.broken_seq) == (False, victim.seq)
    assert "moved to another tenant" in result.reason


def test_deleting_the_last_record_is_found_by_the_chain_head(tenant_a):
    chain = _with_actions(tenant_a)
    last_id, seq = chain[-1].id, chain[-1].seq
    _raw_delete(last_id)
    result = audit.verify(tenant_a)
    assert (result.ok, result.broken_seq, result.checked) == (False, seq, seq - 1)
    assert "removed" in result.reason


def test_the_orm_refuses_to_update_a_record(tenant_a):
    rec = _with_actions(tenant_a)[1]
    rec.actor_label = "someone else"
    with pytest.raises(AuditTamperError):
        db.session.flush()
    db.session.rollback()
    assert _chain(tenant_a)[1].actor_label != "someone else"


def test_the_orm_refuses_to_delete_a_record(tenant_a):
    chain = _with_actions(tenant_a)
    db.session.delete(chain[1])
    with pytest.raises(AuditTamperError):
        db.session.flush()
    db.session.rollback()
    assert len(_chain(tenant_a)) == len(chain)


@pytest.mark.parametrize("statement", [
    sa.update(AuditRecord).values(actor_label="x"),
    sa.delete(AuditRecord),
], ids=["update", "delete"])
def test_the_orm_refuses_bulk_changes(tenant_a, statement):
    chain = _with_actions(tenant_a)
    with pytest.raises(AuditTamperError):
        db.session.execute(statement)
    db.session.rollback()
    assert len(_chain(tenant_a)) == len(chain)
    assert audit.verify(tenant_a).ok


def test_each_tenant_has_its_own_chain(tenant_a, tenant_b):
    chain_a = _with_actions(tenant_a)
    chain_b = _with_actions(tenant_b, count=4)
    assert {r.tenant_id for r in chain_a} == {tenant_a.id}
    assert [r.seq for r in chain_b] == list(range(1, len(chain_b) + 1))

    seq_b = chain_b[1].seq
    _raw_update(chain_b[1].id, "actor_label", "someone else")

    assert audit.verify(tenant_a) == audit.VerifyResult(True, len(chain_a))
    result_b = audit.verify(tenant_b)
    assert (result_b.ok, result_b.broken_seq) == (False, seq_b)


def test_records_without_a_tenant_go_to_the_system_chain(tenant_a):
    before = len(_chain(tenant_a))
    audit.record("auth.login_failed", actor=None, actor_label="nobody@example.test")
    db.session.commit()
    system = list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.chain == audit.SYSTEM_CHAIN)))
    assert [(r.tenant_id, r.actor_label) for r in system][-1] == (None, "nobody@example.test")
    assert len(_chain(tenant_a)) == before
    assert audit.verify(tenant_a).ok
