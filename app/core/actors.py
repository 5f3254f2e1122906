"""Who is acting: a member of a tenant (browser session or JWT) or an API key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, has_request_context, request


@dataclass(frozen=True)
class Actor:
    tenant: object  # Tenant
    permissions: frozenset[str]
    label: str
    kind: str = "user"  # user | api_key | system
    user: object | None = None  # User
    role: str | None = None
    api_key: object | None = None  # ApiKey
    ip: str | None = field(default=None, compare=False)

    @property
    def actor_id(self) -> str | None:
        if self.user is not None:
            return self.user.public_id
        if self.api_key is not None:
            return self.api_key.public_id
        return None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def zone(self) -> tzinfo:
        """The zone times are shown and typed in: the user's own, UTC for API keys and the system."""
        return zone_named(getattr(self.user, "timezone", None))


def zone_named(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def system_actor(tenant, label: str = "system") -> Actor:
    """For the CLI and jobs: all permissions, recorded as the system."""
    from app.core.permissions import PERMISSIONS

    return Actor(tenant=tenant, permissions=frozenset(PERMISSIONS), label=label, kind="system")


def current_actor() -> Actor | None:
    return g.get("actor") if has_request_context() else None


def client_ip() -> str | None:
    # ProxyFix (when configured) has already rewritten remote_addr from X-Forwarded-For.
    return request.remote_addr if has_request_context() else None
