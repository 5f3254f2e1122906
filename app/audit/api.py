"""Audit routes of the API: list the tenant's log with filters, and verify its hash chain."""

from __future__ import annotations

from datetime import UTC

from flask import Blueprint, g, request
from pydantic import BaseModel

from app.audit import queries, services
from app.core.api import documented, ok, page_limit, paginate
from app.core.audit import AuditRecord
from app.core.permissions import require

api_bp = Blueprint("audit_api", __name__)


class AuditActorOut(BaseModel):
    kind: str
    id: str | None
    label: str


class AuditTargetOut(BaseModel):
    type: str | None
    id: str | None
    label: str | None


class AuditRecordOut(BaseModel):
    seq: int
    at: str
    actor: AuditActorOut
    action: str
    target: AuditTargetOut | None
    ip: str | None
    request_id: str | None
    before: dict | None
    after: dict | None
    prev_hash: str
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    broken_seq: int | None
    reason: str


def _record_json(r: AuditRecord) -> dict:
    target = None
    if r.target_type or r.target_id or r.target_label:
        target = {"type": r.target_type, "id": r.target_id, "label": r.target_label}
    return {
        "seq": r.seq, "at": r.at.astimezone(UTC).isoformat(), "action": r.action, "target": target,
        "actor": {"kind": r.actor_kind, "id": r.actor_id, "label": r.actor_label},
        "ip": r.ip, "request_id": r.request_id, "before": r.before, "after": r.after,
        "prev_hash": r.prev_hash, "hash": r.hash,
    }


@api_bp.get("/audit")
@require("audit:read")
@documented(tag="audit", response=AuditRecordOut, paged=True)
def list_audit_records():
    """The tenant's audit records, newest first.

    Filters, all optional: `actor` (part of the actor's name or email, or an actor id), `action`
    (an action such as `auth.login`, or a family such as `auth`), `target` (part of the target's
    label, a target id or type), `from` and `to` (ISO 8601; without an offset they are UTC; `to`
    takes in the whole minute or day it names).
    """
    flt = queries.parse_filter(request.args)
    rows, next_cursor = paginate(queries.filtered_records(g.actor.tenant, flt), AuditRecord.seq,
                                 limit=page_limit(), cursor=request.args.get("cursor") or None)
    return ok([_record_json(r) for r in rows], next_cursor=next_cursor)


@api_bp.post("/audit/verify")
@require("audit:read")
@documented(tag="audit", response=VerifyOut)
def verify_audit_chain():
    """Verify the tenant's hash chain; the check itself is recorded as `audit.verified`."""
    result = services.verify_chain(actor=g.actor)
    return ok({"ok": result.ok, "checked": result.checked, "broken_seq": result.broken_seq,
               "reason": result.reason})
