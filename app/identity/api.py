"""Identity routes of the API: token exchange and the caller's own profile."""

from __future__ import annotations

from flask import Blueprint, g
from pydantic import BaseModel, Field

from app.core.actors import client_ip
from app.core.api import documented, ok, parse_body
from app.identity.tokens import issue_token

api_bp = Blueprint("identity_api", __name__)


class TokenRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    tenant: str = Field(max_length=63, description="tenant slug")


@api_bp.post("/auth/token")
@documented(body=TokenRequest, tag="auth")
def create_token():
    """Exchange email, password and tenant for a short-lived bearer JWT."""
    body = parse_body(TokenRequest)
    token, lifetime = issue_token(body.email, body.password, body.tenant, client_ip())
    return ok({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})


@api_bp.get("/users/me")
@documented(tag="users")
def users_me():
    """The calling user (or API key) and its tenant, role and permissions."""
    actor = g.actor
    data = {
        "kind": actor.kind,
        "tenant": {"id": actor.tenant.public_id, "slug": actor.tenant.slug, "name": actor.tenant.name},
        "permissions": sorted(actor.permissions),
    }
    if actor.user is not None:
        data["user"] = {"id": actor.user.public_id, "email": actor.user.email, "name": actor.user.name,
                        "role": actor.role, "mfa": actor.user.has_mfa}
    if actor.api_key is not None:
        data["api_key"] = {"id": actor.api_key.public_id, "name": actor.api_key.name, "scopes": actor.api_key.scopes}
    return ok(data)
