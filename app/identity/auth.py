"""Signing in: password check, throttling and lock-out, second factor, server-side sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.core import audit
from app.core.actors import Actor
from app.core.crypto import decrypt, keyed_digest, token_digest
from app.core.db import atomic, db, utcnow
from app.core.errors import Forbidden, RateLimited, Unauthorized
from app.core.permissions import permissions_for_role
from app.core.tenancy import Tenant
from app.identity import totp
from app.identity.models import LoginThrottle, Membership, RecoveryCode, User, UserSession
from app.identity.passkey_models import Passkey
from app.identity.passwords import check_password, hash_password, needs_rehash

BAD_CREDENTIALS = "Incorrect email or password."
BAD_CODE = "That code is not valid. Check your authenticator app's clock, or use a recovery code."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def active_memberships_stmt(*columns) -> sa.Select:
    """The tenants the user `:user_id` can enter (plus any extra columns); read across tenants, none is chosen yet.

    Built once by its callers and run with the user id as a parameter: building the statement cost
    more than running it, and this runs on every signed-in request.
    """
    return (
        sa.select(Membership, *columns)
        .join(Tenant, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == sa.bindparam("user_id"), Membership.is_active, Tenant.deactivated_at.is_(None))
        .order_by(Tenant.name)
        .execution_options(all_tenants=True)
    )


_ACTIVE_MEMBERSHIPS = active_memberships_stmt()


def active_memberships(user: User) -> list[Membership]:
    return list(db.session.scalars(_ACTIVE_MEMBERSHIPS, {"user_id": user.id}))


def member_actor(membership: Membership, ip: str | None = None) -> Actor:
    return Actor(
        tenant=membership.tenant,
        permissions=permissions_for_role(membership.role),
        label=membership.user.email,
        kind="user",
        user=membership.user,
        role=membership.role,
        ip=ip,
    )


def _settings():
    return current_app.extensions["vigil_settings"]


def _throttle(email: str) -> LoginThrottle:
    digest = keyed_digest(normalise_email(email), "login-throttle")
    row = db.session.scalar(sa.select(LoginThrottle).where(LoginThrottle.email_hash == digest))
    if row is None:
        row = LoginThrottle(email_hash=digest, failures=0)
        db.session.add(row)
    return row


def _check_not_locked(row: LoginThrottle, now: datetime) -> None:
    if row.locked_until and row.locked_until > now:
        minutes = max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
        raise RateLimited(
            f"Too many failed attempts. Sign-in is paused for this account; try again in {minutes} minutes.",
            retry_after=int((row.locked_until - now).total_seconds()) + 1,
        )


def _audit_in_user_tenants(action: str, user: User | None, email: str, **details) -> None:
    tenants = [m.tenant for m in active_memberships(user)] if user else []
    for tenant in tenants or [None]:
        audit.record(action, actor=None, tenant=tenant, actor_label=email, target=user, after=details or None)


def _register_failure(row: LoginThrottle, user: User | None, email: str, now: datetime, reason: str) -> None:
    settings = _settings()
    window = timedelta(minutes=settings.login_lockout_minutes)
    if row.first_failure_at is None or now - row.first_failure_at > window:
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    _audit_in_user_tenants("auth.login_failed", user, email, reason=reason, failures=row.failures)
    if row.failures >= settings.login_max_failures:
        row.locked_until = now + window
        row.failures, row.first_failure_at = 0, None
        _audit_in_user_tenants("auth.locked", user, email, minutes=settings.login_lockout_minutes)


@dataclass
class PasswordOutcome:
    user: User
    needs_second_factor: bool


def check_credentials(email: str, password: str) -> PasswordOutcome:
    """Verify email and password; failures are counted, audited and indistinguishable."""
    now = utcnow()
    row = _throttle(email)
    user = find_user(email)
    try:
        _check_not_locked(row, now)
    except RateLimited:
        db.session.commit()
        raise
    # Always run argon2, even with no such user, so timing does not tell which emails exist.
    ok = check_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        _register_failure(row, user, email, now, "bad password" if user else "unknown email")
        db.session.commit()
        raise Unauthorized(BAD_CREDENTIALS)
    if not active_memberships(user):
        _register_failure(row, user, email, now, "no active membership")
        db.session.commit()
        raise Forbidden("Your account has no access to any workspace. Ask an administrator.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.commit()
    return PasswordOutcome(user=user, needs_second_factor=user.has_mfa or _has_passkey(user))


def _has_passkey(user: User) -> bool:
    # A password alone never suffices once a passkey exists: the passkey is then the second factor.
    return db.session.scalar(sa.select(sa.func.count()).select_from(Passkey).where(
        Passkey.user_id == user.id, Passkey.revoked_at.is_(None))) > 0


@atomic
def check_second_factor(user: User, code: str) -> str:
    """Accept a TOTP code or an unused recovery code; return which was used."""
    now = utcnow()
    row = _throttle(user.email)
    _check_not_locked(row, now)
    secret = decrypt(user.totp_secret_encrypted, "totp") if user.totp_secret_encrypted else None
    step = totp.matching_step(secret, code, user.totp_last_step) if secret else None
    if step is not None:
        user.totp_last_step = step
        return "totp"
    recovery = db.session.scalar(
        sa.select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.code_hash == keyed_digest(totp.normalise_recovery_code(code), "recovery"),
        )
    )
    if recovery is not None:
        recovery.used_at = now
        _audit_in_user_tenants("mfa.recovery_code_used", user, user.email)
        return "recovery_code"
    _register_failure(row, user, user.email, now, "wrong second factor")
    db.session.commit()  # keep the failure count although the caller's request fails
    raise Unauthorized(BAD_CODE)


@atomic
def start_session(user: User, membership: Membership, *, ip: str | None, user_agent: str | None,
                  method: str) -> str:
    """Open a server-side session and return its raw id (the only thing the cookie holds)."""
    now = utcnow()
    raw = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            sid_hash=token_digest(raw),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(minutes=_settings().session_lifetime_minutes),
            ip=ip,
            user_agent=(user_agent or "")[:300],
        )
    )
    row = _throttle(user.email)
    row.failures, row.first_failure_at, row.locked_until = 0, None, None
    user.last_login_at = now
    audit.record("auth.login", actor=member_actor(membership, ip), target=user, after={"method": method})
    return raw


_SESSION_BY_DIGEST = sa.select(UserSession).where(UserSession.sid_hash == sa.bindparam("digest"))


def load_session(raw_sid: str) -> UserSession | None:
    row = db.session.scalar(_SESSION_BY_DIGEST, {"digest": token_digest(raw_sid)})
    now = utcnow()
    if row is None or row.revoked_at or row.expires_at <= now or not row.user.is_active:
        return None
    if now - row.last_seen_at > timedelta(minutes=5):
        row.last_seen_at = now  # coarse, so a page view is not a write every time
        db.session.commit()
    return row


@atomic
def end_session(raw_sid: str, actor: Actor | None) -> None:
    row = db.session.scalar(sa.select(UserSession).where(UserSession.sid_hash == token_digest(raw_sid)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        if actor is not None:
            audit.record("auth.logout", actor=actor, target=row.user)


def revoke_user_sessions(user: User) -> int:
    """End every browser session of a user (deactivation, password change)."""
    rows = db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = utcnow()
    return len(rows)
