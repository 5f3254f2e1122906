"""SCIM bearer tokens: created by an admin, shown once, stored hashed, revocable, last use shown."""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor
from app.core.crypto import token_digest
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, Unauthorized, ValidationFailed
from app.core.permissions import authorize
from app.core.tenancy import Tenant
from app.scim.models import ScimToken

TOKEN_PREFIX = "vsc_"  # noqa: S105  (a prefix, not a secret)
# What a SCIM client may do: provision members, nothing else in the console.
SCIM_PERMISSIONS = frozenset({"member:read", "member:write"})


@atomic
def create_scim_token(*, actor: Actor, name: str) -> tuple[ScimToken, str]:
    """Create a token for the actor's tenant; return it with the raw secret, which is never stored."""
    authorize(actor, "scim:manage")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed({"name": ["Name the token after the identity provider using it (1–120 characters)."]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(name=name, prefix=raw[:12], token_hash=token_digest(raw),
                      created_by_id=actor.user.id if actor.user else None)
    db.session.add(token)
    db.session.flush()
    audit.record("scim.token_created", actor=actor, target=token)
    return token, raw


@atomic
def revoke_scim_token(token: ScimToken, *, actor: Actor) -> ScimToken:
    """Revoke a token at once; the IdP gets 401 from its next request."""
    authorize(actor, "scim:manage")
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = utcnow()
    audit.record("scim.token_revoked", actor=actor, target=token)
    return token


def list_scim_tokens() -> list[ScimToken]:
    return list(db.session.scalars(sa.select(ScimToken).order_by(ScimToken.revoked_at.is_not(None),
                                                                 ScimToken.created_at.desc())))


def scim_actor(token: ScimToken, tenant: Tenant, ip: str | None) -> Actor:
    # Actor.api_key is "the credential": it gives the audit record the token's public id.
    return Actor(tenant=tenant, permissions=SCIM_PERMISSIONS, label=f"SCIM token {token.name}",
                 kind="scim_token", api_key=token, ip=ip)


def authenticate_scim_token(raw: str | None, ip: str | None = None) -> Actor:
    """Resolve a raw bearer token to its tenant's SCIM actor; a revoked token is refused and audited."""
    if not raw:
        raise Unauthorized("Send Authorization: Bearer <SCIM token>.")
    token = db.session.scalar(
        sa.select(ScimToken).where(ScimToken.token_hash == token_digest(raw))
        .execution_options(all_tenants=True)  # the token itself says which tenant it belongs to
    )
    if token is None:
        raise Unauthorized("The SCIM token is not valid.")
    tenant = db.session.get(Tenant, token.tenant_id)
    if tenant.deactivated_at is not None:
        raise Unauthorized("The SCIM token's tenant is deactivated.")
    if token.revoked_at is not None:
        audit.record("scim.token_rejected", actor=None, tenant=tenant, actor_label=f"SCIM token {token.name}",
                     target=token, after={"reason": "revoked"})
        db.session.commit()
        raise Unauthorized("The SCIM token was revoked.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # Coarse on purpose: one write a minute per token, not one per request.
        db.session.execute(
            sa.update(ScimToken).where(ScimToken.id == token.id).values(last_used_at=now)
            .execution_options(all_tenants=True, synchronize_session=False)
        )
        db.session.commit()
    return scim_actor(token, tenant, ip)
