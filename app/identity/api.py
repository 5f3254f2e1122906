"""Identity routes of the API: token exchange, the caller's own profile, the tenant's members."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, g, request
from pydantic import BaseModel, Field

from app.core.actors import client_ip
from app.core.api import documented, ok, page_limit, paginate, parse_body
from app.core.db import db
from app.core.errors import NotFound
from app.core.permissions import require
from app.identity.models import Membership, User
from app.identity.tokens import issue_token

api_bp = Blueprint("identity_api", __name__)


class TokenRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    tenant: str = Field(max_length=63, description="tenant slug")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(default="Bearer", examples=["Bearer"])
    expires_in: int = Field(description="seconds")


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str


class MeUser(BaseModel):
    id: str
    email: str
    name: str
    role: str
    mfa: bool


class MeApiKey(BaseModel):
    id: str
    name: str
    scopes: list[str]


class MeOut(BaseModel):
    kind: str = Field(description="user or api_key")
    tenant: TenantOut
    permissions: list[str]
    user: MeUser | None = None
    api_key: MeApiKey | None = None


class MemberOut(BaseModel):
    id: str = Field(description="the user's id (as in /users/me)")
    email: str
    name: str
    role: str
    active: bool = Field(description="the membership and the account are both active")
    mfa: bool

    @classmethod
    def of(cls, membership: Membership) -> MemberOut:
        user = membership.user
        return cls(id=user.public_id, email=user.email, name=user.name, role=str(membership.role),
                   active=membership.is_active and user.is_active, mfa=user.has_mfa)


@api_bp.post("/auth/token")
@documented(body=TokenRequest, response=TokenOut, tag="auth", errors=(401, 403))
def create_token():
    """Exchange email, password and tenant for a short-lived bearer JWT.

    Accounts with two-step sign-in get a 403: automation uses an API key instead.
    """
    body = parse_body(TokenRequest)
    token, lifetime = issue_token(body.email, body.password, body.tenant, client_ip())
    return ok(TokenOut(access_token=token, expires_in=lifetime).model_dump())


@api_bp.get("/users/me")
@documented(response=MeOut, tag="users")
def users_me():
    """The calling user (or API key) and its tenant, role and permissions."""
    actor = g.actor
    tenant = TenantOut(id=actor.tenant.public_id, slug=actor.tenant.slug, name=actor.tenant.name)
    me = MeOut(kind=actor.kind, tenant=tenant, permissions=sorted(actor.permissions))
    if actor.user is not None:
        me.user = MeUser(id=actor.user.public_id, email=actor.user.email, name=actor.user.name,
                         role=str(actor.role), mfa=actor.user.has_mfa)
    if actor.api_key is not None:
        me.api_key = MeApiKey(id=actor.api_key.public_id, name=actor.api_key.name, scopes=actor.api_key.scopes)
    return ok(me.model_dump(exclude_none=True))


@api_bp.get("/users")
@require("member:read")
@documented(response=MemberOut, paged=True, tag="users")
def users_list():
    """The tenant's members, newest first, with their role and whether they use two-step sign-in."""
    limit = page_limit()
    # Membership is tenant-scoped: core/tenancy.py adds the tenant filter.
    members, next_cursor = paginate(sa.select(Membership), Membership.id, limit=limit,
                                    cursor=request.args.get("cursor"))
    return ok([MemberOut.of(m).model_dump() for m in members], next_cursor=next_cursor)


@api_bp.get("/users/<user_id>")
@require("member:read")
@documented(response=MemberOut, tag="users")
def users_get(user_id: str):
    """One member of the tenant, by user id; a user of another tenant is a 404."""
    membership = db.session.scalar(sa.select(Membership).join(Membership.user).where(User.public_id == user_id))
    if membership is None:
        raise NotFound("There is no such member in this tenant.")
    return ok(MemberOut.of(membership).model_dump())
