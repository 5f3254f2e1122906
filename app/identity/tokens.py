"""Short-lived bearer JWTs for API clients that sign in as a member (POST /api/v1/auth/token)."""

from __future__ import annotations

from datetime import timedelta

import jwt
import sqlalchemy as sa
from flask import current_app

from app.core import audit
from app.core.actors import Actor
from app.core.db import db, utcnow
from app.core.errors import Forbidden, Unauthorized, ValidationFailed
from app.core.tenancy import Tenant
from app.identity.auth import active_memberships, check_credentials, member_actor
from app.identity.models import Membership, User

ALGORITHM = "HS256"
AUDIENCE = "vigil-api"


def issue_token(email: str, password: str, tenant_slug: str, ip: str | None = None) -> tuple[str, int]:
    """Exchange credentials for a JWT bound to one tenant; returns (token, lifetime in seconds)."""
    if not email or not password or not tenant_slug:
        raise ValidationFailed({k: ["Required."] for k, v in
                                {"email": email, "password": password, "tenant": tenant_slug}.items() if not v})
    outcome = check_credentials(email, password)
    if outcome.needs_second_factor:
        # A password alone is not enough for an account with MFA: use an API key instead.
        raise Forbidden("This account uses two-step sign-in; use an API key for automation.")
    membership = next((m for m in active_memberships(outcome.user) if m.tenant.slug == tenant_slug.lower()), None)
    if membership is None:
        raise Forbidden("You are not a member of that tenant.")
    lifetime = current_app.extensions["vigil_settings"].token_lifetime_minutes * 60
    now = utcnow()
    claims = {
        "sub": outcome.user.public_id, "tid": membership.tenant.public_id, "aud": AUDIENCE,
        "iat": now, "exp": now + timedelta(seconds=lifetime), "typ": "access",
    }
    token = jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM)
    audit.record("auth.token_issued", actor=member_actor(membership, ip), target=outcome.user)
    db.session.commit()
    return token, lifetime


def _decode(token: str) -> dict:
    return jwt.decode(token, current_app.config["SECRET_KEY"], algorithms=[ALGORITHM], audience=AUDIENCE,
                      options={"require": ["exp", "iat", "sub", "tid"]})


def _claims(token: str) -> dict:
    """Verify the token; each way it can be wrong gets its own message."""
    try:
        claims = _decode(token)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired; request a new one from POST /api/v1/auth/token.")
    except jwt.InvalidSignatureError:
        raise Unauthorized("The token's signature is not valid.")
    except jwt.DecodeError:
        raise Unauthorized("The token is malformed: it is neither a Vigil JWT nor an API key.")
    except jwt.InvalidAudienceError:
        raise Unauthorized("The token was not issued for this API.")
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"The token lacks the “{exc.claim}” claim.")
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid.")
    if claims.get("typ") != "access":
        raise Unauthorized("The token is not an access token.")
    return claims


def token_subject(token: str) -> str | None:
    """The user id of a valid token, else None (rate limiting keys on it before authentication)."""
    try:
        return str(_decode(token)["sub"])
    except jwt.InvalidTokenError:
        return None


def authenticate_token(token: str, ip: str | None = None) -> Actor:
    claims = _claims(token)
    membership = db.session.scalar(
        sa.select(Membership).join(User).join(Tenant, Membership.tenant_id == Tenant.id)
        .where(User.public_id == claims["sub"], Tenant.public_id == claims["tid"], Membership.is_active,
               User.is_active, Tenant.deactivated_at.is_(None))
        .execution_options(all_tenants=True)  # the token names its tenant
    )
    if membership is None:
        raise Unauthorized("The token's user no longer has access to this tenant.")
    return member_actor(membership, ip)
