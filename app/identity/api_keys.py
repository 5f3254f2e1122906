"""API keys: created by admins with scopes and an optional expiry, shown once, stored hashed."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor
from app.core.crypto import token_digest
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, Unauthorized, ValidationFailed
from app.core.permissions import SCOPES, authorize, permissions_for_scopes
from app.core.tenancy import Tenant
from app.identity.models import ApiKey

KEY_PREFIX = "vgl_"


@atomic
def create_api_key(*, actor: Actor, name: str, scopes: list[str], expires_at: datetime | None = None
                   ) -> tuple[ApiKey, str]:
    """Create a key for the actor's tenant; return it with the raw secret, which is never stored."""
    authorize(actor, "apikey:manage")
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 120:
        errors["name"] = ["Give the key a name of 1–120 characters (what uses it)."]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        errors["scopes"] = [f"Unknown scopes: {', '.join(unknown)}." if unknown else "Choose at least one scope."]
    if expires_at is not None and expires_at <= utcnow():
        errors["expires_at"] = ["The expiry must be in the future."]
    if errors:
        raise ValidationFailed(errors)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=raw[:12], key_hash=token_digest(raw), scopes=sorted(set(scopes)),
                 created_by_id=actor.user.id if actor.user else None, expires_at=expires_at)
    db.session.add(key)
    db.session.flush()
    audit.record("apikey.created", actor=actor, target=key,
                 after={"scopes": key.scopes, "expires_at": expires_at.isoformat() if expires_at else None})
    return key, raw


@atomic
def revoke_api_key(key: ApiKey, *, actor: Actor) -> ApiKey:
    """Revoke a key at once; clients using it get 401 from the next request."""
    authorize(actor, "apikey:manage")
    if key.revoked_at is not None:
        raise Conflict("This key is already revoked.")
    key.revoked_at = utcnow()
    audit.record("apikey.revoked", actor=actor, target=key)
    return key


def list_api_keys() -> list[ApiKey]:
    return list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None),
                                                              ApiKey.created_at.desc())))


def api_key_actor(key: ApiKey, tenant: Tenant, ip: str | None) -> Actor:
    return Actor(tenant=tenant, permissions=permissions_for_scopes(key.scopes), label=f"api key {key.name}",
                 kind="api_key", api_key=key, ip=ip)


def authenticate_api_key(raw: str, ip: str | None = None) -> Actor:
    """Resolve a raw key to its actor; a revoked or expired key is refused and audited."""
    # Read across tenants: the key itself says which tenant it belongs to.
    key = db.session.scalar(
        sa.select(ApiKey).where(ApiKey.key_hash == token_digest(raw)).execution_options(all_tenants=True)
    )
    if key is None:
        raise Unauthorized("The API key is not valid.")
    tenant = db.session.get(Tenant, key.tenant_id)
    now = utcnow()
    if tenant.deactivated_at is not None:
        raise Unauthorized("The API key's tenant is deactivated.")
    if not key.is_usable(now):
        reason = "revoked" if key.revoked_at else "expired"
        audit.record("apikey.rejected", actor=None, tenant=tenant, actor_label=f"api key {key.name}",
                     target=key, after={"reason": reason})
        db.session.commit()
        raise Unauthorized(f"The API key was {reason}.")
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        # Coarse on purpose: one write a minute per key, not one per request.
        db.session.execute(
            sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
            .execution_options(all_tenants=True, synchronize_session=False)
        )
        db.session.commit()
    return api_key_actor(key, tenant, ip)
