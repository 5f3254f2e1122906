"""SCIM bearer tokens: created by an admin, shown once, stored hashed, revocable, last use shown."""

from __future__ import annotations

import sqlalchemy as sa

from app.core import audit, hashed_tokens
from app.core.actors import Actor
from app.core.db import atomic, db
from app.core.errors import Unauthorized, ValidationFailed
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
    secret = hashed_tokens.issue_secret(TOKEN_PREFIX)
    token = ScimToken(name=name, prefix=secret.prefix, token_hash=secret.digest,
                      created_by_id=actor.user.id if actor.user else None)
    db.session.add(token)
    db.session.flush()
    audit.record("scim.token_created", actor=actor, target=token)
    return token, secret.raw


@atomic
def revoke_scim_token(token: ScimToken, *, actor: Actor) -> ScimToken:
    """Revoke a token at once; the IdP gets 401 from its next request."""
    authorize(actor, "scim:manage")
    return hashed_tokens.revoke(token, actor=actor, action="scim.token_revoked", noun="token")


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
    token, tenant = hashed_tokens.authenticate(ScimToken.token_hash, raw, noun="SCIM token",
                                               label=lambda t: f"SCIM token {t.name}",
                                               rejected_action="scim.token_rejected")
    return scim_actor(token, tenant, ip)
