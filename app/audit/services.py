"""Operations on the audit log itself: exporting it and verifying its chain, each audited."""

from __future__ import annotations

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic
from app.core.permissions import authorize


@atomic
def record_export(*, actor: Actor, filters: dict[str, str]) -> int:
    """Audit an export of the log; return its sequence number, the export's exclusive upper bound.

    The export is cut at this record so that it is a snapshot of the log as the reader asked for
    it, and does not include the record of its own making.
    """
    authorize(actor, "audit:read")
    rec = audit.record("audit.exported", actor=actor, after={"filters": filters, "format": "csv"})
    return rec.seq


@atomic
def verify_chain(*, actor: Actor) -> audit.VerifyResult:
    """Verify the actor's tenant chain and audit the check with its outcome."""
    authorize(actor, "audit:read")
    result = audit.verify(actor.tenant)
    audit.record("audit.verified", actor=actor, after={
        "ok": result.ok, "checked": result.checked, "broken_seq": result.broken_seq, "reason": result.reason,
    })
    return result
