"""API keys: created by admins with scopes and an optional expiry, shown once, stored hashed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.core import audit, hashed_tokens
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import ValidationFailed
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
    secret = hashed_tokens.issue_secret(KEY_PREFIX)
    key = ApiKey(name=name, prefix=secret.prefix, key_hash=secret.digest, scopes=sorted(set(scopes)),
                 created_by_id=actor.user.id if actor.user else None, expires_at=expires_at)
    db.session.add(key)
    db.session.flush()
    audit.record("apikey.created", actor=actor, target=key,
                 after={"scopes": key.scopes, "expires_at": expires_at.isoformat() if expires_at else None})
    return key, secret.raw


@atomic
def revoke_api_key(key: ApiKey, *, actor: Actor) -> ApiKey:
    """Revoke a key at once; clients using it get 401 from the next request."""
    authorize(actor, "apikey:manage")
    return hashed_tokens.revoke(key, actor=actor, action="apikey.revoked", noun="key")


def list_api_keys() -> list[ApiKey]:
    return list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None),
                                                              ApiKey.created_at.desc())))


def api_key_actor(key: ApiKey, tenant: Tenant, ip: str | None) -> Actor:
    return Actor(tenant=tenant, permissions=permissions_for_scopes(key.scopes), label=f"api key {key.name}",
                 kind="api_key", api_key=key, ip=ip)


def authenticate_api_key(raw: str, ip: str | None = None) -> Actor:
    """Resolve a raw key to its actor; a revoked or expired key is refused and audited."""
    key, tenant = hashed_tokens.authenticate(ApiKey.key_hash, raw, noun="API key", label=lambda k: f"api key {k.name}",
                                             rejected_action="apikey.rejected")
    return api_key_actor(key, tenant, ip)
