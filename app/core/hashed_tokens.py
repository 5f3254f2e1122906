"""Bearer credentials stored hashed (API keys, SCIM tokens): issued once, looked up by digest, last use noted.

The raw secret is `<prefix><43 url-safe characters>` (256 bits), shown to its owner once. The row
keeps only the SHA-256 digest (`crypto.token_digest`) and the first 12 characters, so a list can
say which credential is which. Changing any of this would lock out every credential already issued.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from app.core import audit
from app.core.crypto import token_digest
from app.core.db import db, utcnow
from app.core.errors import Conflict, Unauthorized
from app.core.tenancy import Tenant

SHOWN_PREFIX_LENGTH = 12
LAST_USED_EVERY = timedelta(minutes=1)

Row = TypeVar("Row")


@dataclass(frozen=True)
class IssuedSecret:
    raw: str  # give to the caller once; never stored
    prefix: str  # stored, shown in lists
    digest: str  # stored, looked up


def issue_secret(prefix: str) -> IssuedSecret:
    raw = prefix + secrets.token_urlsafe(32)
    return IssuedSecret(raw=raw, prefix=raw[:SHOWN_PREFIX_LENGTH], digest=token_digest(raw))


def find_by_secret(digest_column: InstrumentedAttribute[str], raw: str | None) -> Row | None:
    """The row whose stored digest matches the raw secret, in any tenant (the credential names its tenant).

    The database finds the row by an index on the digest, which an attacker cannot steer byte by
    byte; the final comparison is constant-time all the same.
    """
    digest = token_digest(raw or "")
    model = digest_column.class_
    row = db.session.scalar(sa.select(model).where(digest_column == digest).execution_options(all_tenants=True))
    if row is None or not hmac.compare_digest(getattr(row, digest_column.key), digest):
        return None
    return row


def note_last_used(row, now: datetime) -> None:
    """Record use at most once a minute per credential (one write a minute, not one per request), and commit."""
    if row.last_used_at is not None and now - row.last_used_at <= LAST_USED_EVERY:
        return
    model = type(row)
    db.session.execute(
        sa.update(model).where(model.id == row.id).values(last_used_at=now)
        .execution_options(all_tenants=True, synchronize_session=False)
    )
    db.session.commit()


def refusal(row, now: datetime) -> str | None:
    """Why a credential may not be used now ("revoked", "expired"), or None."""
    if row.revoked_at is not None:
        return "revoked"
    expires_at = getattr(row, "expires_at", None)
    return "expired" if expires_at is not None and expires_at <= now else None


def authenticate(digest_column: InstrumentedAttribute[str], raw: str | None, *, noun: str, label: Callable[[Row], str],
                 rejected_action: str) -> tuple[Row, Tenant]:
    """The credential and its tenant, or 401; a revoked or expired credential's attempt is audited."""
    row = find_by_secret(digest_column, raw)
    if row is None:
        raise Unauthorized(f"The {noun} is not valid.")
    tenant = db.session.get(Tenant, row.tenant_id)
    if tenant.deactivated_at is not None:
        raise Unauthorized(f"The {noun}'s tenant is deactivated.")
    now = utcnow()
    if (reason := refusal(row, now)) is not None:
        audit.record(rejected_action, actor=None, tenant=tenant, actor_label=label(row), target=row,
                     after={"reason": reason})
        db.session.commit()
        raise Unauthorized(f"The {noun} was {reason}.")
    note_last_used(row, now)
    return row, tenant


def revoke(row, *, actor, action: str, noun: str):
    """Revoke at once (clients get 401 from their next request); revoking twice is a 409."""
    if row.revoked_at is not None:
        raise Conflict(f"This {noun} is already revoked.")
    row.revoked_at = utcnow()
    audit.record(action, actor=actor, target=row)
    return row
