"""The append-only, hash-chained audit log.

Each tenant has one chain (events with no tenant, such as a failed sign-in for an unknown
email, go to the "system" chain). A record's hash covers the previous record's hash and a
canonical JSON of the record itself, so changing, removing or reordering any row breaks
the chain from that row on, and `verify()` names the first broken record by number.
`record()` is called by every service that changes state, inside the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event, orm
from sqlalchemy.orm import Mapped, mapped_column

from app.core.actors import Actor, client_ip
from app.core.db import Base, UTCDateTime, db, utcnow

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


class AuditRecord(Base):
    __tablename__ = "audit_records"
    __table_args__ = (sa.UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(sa.String(40), index=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    tenant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tenants.id", ondelete="RESTRICT"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    actor_label: Mapped[str] = mapped_column(sa.String(320))
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    target_type: Mapped[str | None] = mapped_column(sa.String(60))
    target_id: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    target_label: Mapped[str | None] = mapped_column(sa.String(320))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    HASHED_FIELDS = (
        "chain", "seq", "at", "actor_kind", "actor_id", "actor_label", "action", "target_type",
        "target_id", "target_label", "before", "after", "ip", "request_id", "prev_hash",
    )

    def canonical(self) -> str:
        values = {name: getattr(self, name) for name in self.HASHED_FIELDS}
        values["at"] = self.at.isoformat(timespec="microseconds")
        return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def compute_hash(self) -> str:
        return hashlib.sha256((self.prev_hash + self.canonical()).encode()).hexdigest()


class AuditChainHead(Base):
    """The last sequence number and hash of each chain; locked while appending."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS)


class AuditTamperError(RuntimeError):
    """Audit rows are append-only; the ORM refuses updates and deletes."""


def _plain(value):
    # Stored exactly as hashed: anything not JSON-native becomes its string form.
    return None if value is None else json.loads(json.dumps(value, default=str))


def _target_fields(target) -> tuple[str | None, str | None, str | None]:
    if target is None:
        return None, None, None
    if isinstance(target, tuple):
        return target
    label = getattr(target, "audit_label", None) or str(target)
    return type(target).__name__.lower(), getattr(target, "public_id", None), label


def record(
    action: str,
    *,
    actor: Actor | None,
    tenant=None,
    target=None,
    before: dict | None = None,
    after: dict | None = None,
    actor_label: str | None = None,
) -> AuditRecord:
    """Append one record to the tenant's chain in the current transaction."""
    tenant = tenant if tenant is not None else (actor.tenant if actor else None)
    chain = str(tenant.id) if tenant is not None else SYSTEM_CHAIN
    head = db.session.get(AuditChainHead, chain, with_for_update=True)
    if head is None:
        head = AuditChainHead(chain=chain, seq=0, hash=GENESIS)
        db.session.add(head)
    target_type, target_id, target_label = _target_fields(target)
    rec = AuditRecord(
        chain=chain,
        seq=head.seq + 1,
        tenant_id=tenant.id if tenant is not None else None,
        at=utcnow(),
        actor_kind=actor.kind if actor else "anonymous",
        actor_id=actor.actor_id if actor else None,
        actor_label=(actor_label or (actor.label if actor else "anonymous"))[:320],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:320] if target_label else None,
        before=_plain(before),
        after=_plain(after),
        ip=client_ip(),
        request_id=g.get("request_id") if has_request_context() else None,
        prev_hash=head.hash,
    )
    rec.hash = rec.compute_hash()
    head.seq, head.hash = rec.seq, rec.hash
    db.session.add(rec)
    return rec


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def verify(tenant) -> VerifyResult:
    """Walk the tenant's chain; report the first record whose number, link or hash is wrong."""
    chain = str(tenant.id)
    stmt = sa.select(AuditRecord).where(AuditRecord.chain == chain).order_by(AuditRecord.seq)
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for rec in db.session.scalars(stmt.execution_options(yield_per=500)):
        if rec.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"record #{expected_seq} is missing")
        if rec.tenant_id != tenant.id:
            # tenant_id is not hashed (the chain name is): a moved row would vanish from its tenant's views.
            return VerifyResult(False, checked, rec.seq, f"record #{rec.seq} was moved to another tenant")
        if rec.prev_hash != prev_hash:
            return VerifyResult(False, checked, rec.seq, f"record #{rec.seq} does not link to #{rec.seq - 1}")
        if rec.compute_hash() != rec.hash:
            return VerifyResult(False, checked, rec.seq, f"record #{rec.seq} was altered after it was written")
        prev_hash, expected_seq, checked = rec.hash, expected_seq + 1, checked + 1
    head = db.session.get(AuditChainHead, chain)
    if head is not None and (head.seq, head.hash) != (checked, prev_hash):
        return VerifyResult(False, checked, checked + 1, f"records after #{checked} were removed")
    return VerifyResult(True, checked)


@event.listens_for(orm.Session, "before_flush")
def _refuse_audit_changes(session: orm.Session, _ctx, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditRecord) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditTamperError("audit records cannot be changed or deleted")


@event.listens_for(orm.Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state: orm.ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(m.class_ is AuditRecord for m in state.all_mappers):
        raise AuditTamperError("audit records cannot be changed or deleted")
