"""Tenants, members, MFA enrolment and password-set links: every change audited."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from app.core import audit
from app.core.actors import Actor, system_actor
from app.core.crypto import decrypt, encrypt, keyed_digest, token_digest
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.permissions import Role, authorize
from app.core.tenancy import Tenant, tenant_context
from app.identity import totp
from app.identity.auth import active_memberships, normalise_email, revoke_user_sessions
from app.identity.models import ApiKey, Membership, PasswordSetToken, RecoveryCode, User
from app.identity.passkey_models import Passkey
from app.identity.passwords import hash_password, password_problems

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _clean_email(email: str) -> str:
    try:
        # Internal domains (corp.local, *.test) are common in enterprises: syntax only.
        result = validate_email(normalise_email(email), check_deliverability=False, globally_deliverable=False,
                                test_environment=True)
        return result.normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed({"email": [str(exc)]})


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationFailed({"role": [f"Choose one of: {', '.join(r.value for r in Role)}."]})


@atomic
def create_tenant(slug: str, name: str, *, actor_label: str = "cli") -> Tenant:
    """Create a tenant with an empty audit chain."""
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationFailed({"slug": ["Use lowercase letters, digits and hyphens (1–63)."]})
    if not (name or "").strip():
        raise ValidationFailed({"name": ["A name is required."]})
    if db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug)):
        raise Conflict(f"A tenant with the slug “{slug}” already exists.")
    tenant = Tenant(slug=slug, name=name.strip())
    db.session.add(tenant)
    db.session.flush()
    audit.record("tenant.created", actor=system_actor(tenant, actor_label), target=tenant,
                 after={"slug": slug, "name": tenant.name})
    return tenant


def tenant_by_slug(slug: str) -> Tenant:
    tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == (slug or "").strip().lower()))
    if tenant is None:
        raise NotFound(f"No tenant “{slug}”.")
    return tenant


@atomic
def add_member(*, actor: Actor, email: str, name: str = "", role: str, password: str | None = None) -> Membership:
    """Add a person to the actor's tenant, creating the global user if the email is new."""
    authorize(actor, "member:write")
    email, role = _clean_email(email), _role(role)
    if password is not None and (problems := password_problems(password, email)):
        raise ValidationFailed({"password": problems})
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=(name or "").strip()[:200],
                    password_hash=hash_password(password) if password else None)
        db.session.add(user)
        db.session.flush()
    elif db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id)):
        raise Conflict(f"{email} is already a member of this tenant.")
    membership = Membership(user=user, tenant=actor.tenant, role=role, is_active=True)
    db.session.add(membership)
    db.session.flush()
    audit.record("member.added", actor=actor, target=membership, after={"email": email, "role": role.value})
    return membership


def _last_admin_guard(membership: Membership, *, losing_admin: bool) -> None:
    if not losing_admin or membership.role != Role.ADMIN or not membership.is_active:
        return
    admins = db.session.scalar(
        sa.select(sa.func.count()).select_from(Membership).where(Membership.role == Role.ADMIN, Membership.is_active)
    )
    if admins <= 1:
        raise Conflict("This is the tenant's last active admin; make someone else admin first.")


@atomic
def change_role(membership: Membership, role: str, *, actor: Actor) -> Membership:
    """Change a member's role in this tenant."""
    authorize(actor, "member:write")
    new_role = _role(role)
    if new_role == membership.role:
        return membership
    _last_admin_guard(membership, losing_admin=new_role != Role.ADMIN)
    before = membership.role.value
    membership.role = new_role
    audit.record("member.role_changed", actor=actor, target=membership,
                 before={"role": before}, after={"role": new_role.value})
    return membership


@atomic
def set_member_active(membership: Membership, active: bool, *, actor: Actor) -> Membership:
    """Deactivate (ending the member's sessions) or reactivate a membership."""
    authorize(actor, "member:write")
    if membership.is_active == active:
        return membership
    if not active:
        if actor.user is not None and membership.user_id == actor.user.id:
            raise Conflict("You cannot deactivate yourself.")
        _last_admin_guard(membership, losing_admin=True)
        if not _other_memberships(membership):
            # Sessions are per person, not per tenant: end them only when no tenant is left.
            # Access to this tenant stops at once either way (memberships are read per request).
            revoke_user_sessions(membership.user)
        _revoke_member_api_keys(membership, actor)
    membership.is_active = active
    audit.record("member.reactivated" if active else "member.deactivated", actor=actor, target=membership,
                 before={"active": not active}, after={"active": active})
    return membership


def _revoke_member_api_keys(membership: Membership, actor: Actor) -> None:
    """A departing member's API keys in this tenant stop at once: automation must not outlive them."""
    now = utcnow()
    for key in db.session.scalars(sa.select(ApiKey).where(ApiKey.created_by_id == membership.user_id,
                                                          ApiKey.revoked_at.is_(None))):
        key.revoked_at = now
        audit.record("apikey.revoked", actor=actor, target=key, after={"reason": "creator deactivated"})


def _other_memberships(membership: Membership) -> list[Membership]:
    return [m for m in active_memberships(membership.user) if m.tenant_id != membership.tenant_id]


def _guard_shared_credentials(membership: Membership, actor: Actor) -> None:
    """Users are global: one tenant's admin may not replace credentials another tenant relies on."""
    others = _other_memberships(membership)
    if not others or actor.user is None:
        return  # the CLI and system jobs act for the operator of every tenant
    admin_of = {m.tenant_id for m in active_memberships(actor.user) if m.role == Role.ADMIN}
    foreign = [m.tenant.name for m in others if m.tenant_id not in admin_of]
    if foreign:
        raise Conflict(f"{membership.user.email} also signs in to {', '.join(sorted(foreign))}; "
                       "only an admin of every workspace they belong to can reset their credentials.")


def list_members() -> list[Membership]:
    stmt = sa.select(Membership).join(Membership.user).order_by(User.email)
    return list(db.session.scalars(stmt))


# --- MFA -----------------------------------------------------------------------------------


@atomic
def begin_totp_enrolment(user: User) -> str:
    """Generate (or reuse) a pending TOTP secret; it takes effect only once a code confirms it."""
    if user.totp_pending_encrypted:
        return decrypt(user.totp_pending_encrypted, "totp")
    secret = totp.new_secret()
    user.totp_pending_encrypted = encrypt(secret, "totp")
    return secret


@atomic
def confirm_totp_enrolment(user: User, code: str, *, actor: Actor) -> list[str]:
    """Turn MFA on with the pending secret and return 10 fresh recovery codes (shown once)."""
    if not user.totp_pending_encrypted:
        raise ValidationFailed({"code": ["Start the enrolment again: no pending authenticator."]})
    secret = decrypt(user.totp_pending_encrypted, "totp")
    step = totp.matching_step(secret, code, None)
    if step is None:
        audit.record("mfa.enrol_failed", actor=actor, target=user)
        raise ValidationFailed({"code": ["That code does not match. Enter the 6 digits your app shows now."]})
    user.totp_secret_encrypted, user.totp_pending_encrypted = user.totp_pending_encrypted, None
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    codes = _replace_recovery_codes(user)
    audit.record("mfa.enrolled", actor=actor, target=user, after={"method": "totp"})
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=keyed_digest(c, "recovery")) for c in codes)
    return codes


@atomic
def regenerate_recovery_codes(user: User, *, actor: Actor) -> list[str]:
    if not user.has_mfa:
        raise Conflict("Turn on two-step sign-in first.")
    codes = _replace_recovery_codes(user)
    audit.record("mfa.recovery_codes_regenerated", actor=actor, target=user)
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def _clear_mfa(user: User) -> None:
    user.totp_secret_encrypted = user.totp_pending_encrypted = None
    user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    # A lost phone is often the passkey too: the reset revokes passkeys, kept on record for step-up proofs.
    db.session.execute(sa.update(Passkey).where(Passkey.user_id == user.id, Passkey.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def _has_second_factor(user: User) -> bool:
    return user.has_mfa or db.session.scalar(sa.select(sa.func.count()).select_from(Passkey).where(
        Passkey.user_id == user.id, Passkey.revoked_at.is_(None))) > 0


@atomic
def reset_member_mfa(membership: Membership, *, actor: Actor) -> None:
    """An admin removes a member's authenticator (lost phone); the member enrols again."""
    authorize(actor, "member:write")
    if not _has_second_factor(membership.user):
        raise Conflict(f"{membership.user.email} has no authenticator app or passkey to reset.")
    _guard_shared_credentials(membership, actor)
    _clear_mfa(membership.user)
    revoke_user_sessions(membership.user)
    audit.record("mfa.reset", actor=actor, target=membership.user, before={"mfa": True}, after={"mfa": False})


# --- password-set links --------------------------------------------------------------------


@atomic
def issue_password_link(membership: Membership, *, actor: Actor) -> str:
    """Create a one-time password-set token for a member; earlier unused ones stop working."""
    authorize(actor, "member:write")
    if not membership.is_active:
        raise Conflict("Reactivate the member before issuing a password link.")
    _guard_shared_credentials(membership, actor)
    now = utcnow()
    for old in db.session.scalars(
        sa.select(PasswordSetToken).where(PasswordSetToken.user_id == membership.user_id,
                                          PasswordSetToken.used_at.is_(None))
    ):
        old.used_at = now
    raw = secrets.token_urlsafe(32)
    hours = current_app.extensions["vigil_settings"].password_link_hours
    db.session.add(PasswordSetToken(token_hash=token_digest(raw), user_id=membership.user_id,
                                    created_by_id=actor.user.id if actor.user else None,
                                    created_at=now, expires_at=now + timedelta(hours=hours)))
    audit.record("password.link_issued", actor=actor, target=membership.user, after={"expires_in_hours": hours})
    return raw


def find_password_token(raw: str) -> PasswordSetToken:
    """The usable token for a link, or a NotFound that says why it is not usable."""
    row = db.session.scalar(
        sa.select(PasswordSetToken).where(PasswordSetToken.token_hash == token_digest(raw or ""))
        .execution_options(all_tenants=True)  # the visitor is not signed in: the token picks the tenant
    )
    if row is None:
        raise NotFound("This password link is not valid. Ask an administrator for a new one.")
    if row.used_at is not None:
        raise NotFound("This password link was already used or replaced. Ask an administrator for a new one.")
    if row.expires_at <= utcnow():
        raise NotFound("This password link has expired. Ask an administrator for a new one.")
    return row


def set_password_with_link(raw: str, password: str, confirm: str) -> User:
    """Set the password from a one-time link; the link's tenant is the context (no one is signed in)."""
    token = find_password_token(raw)
    with tenant_context(db.session.get(Tenant, token.tenant_id)):
        return _use_password_token(token, password, confirm)


@atomic
def _use_password_token(token: PasswordSetToken, password: str, confirm: str) -> User:
    user = token.user
    if password != confirm:
        raise ValidationFailed({"confirm": ["The two passwords differ."]})
    if problems := password_problems(password, user.email):
        raise ValidationFailed({"password": problems})
    token.used_at = utcnow()
    user.password_hash = hash_password(password)
    revoke_user_sessions(user)
    audit.record("password.set", actor=None, tenant=db.session.get(Tenant, token.tenant_id),
                 actor_label=user.email, target=user, after={"via": "one-time link"})
    return user


@dataclass(frozen=True)
class PasswordLink:
    """A freshly issued one-time link: the raw token (never stored) and when it stops working."""

    token: str
    expires_at: datetime


@atomic
def new_password_link(membership: Membership, *, actor: Actor) -> PasswordLink:
    """Issue a one-time password-set link and say when it expires, for the page that shows it once."""
    raw = issue_password_link(membership, actor=actor)
    row = db.session.scalar(sa.select(PasswordSetToken).where(PasswordSetToken.token_hash == token_digest(raw)))
    return PasswordLink(token=raw, expires_at=row.expires_at)


@atomic
def invite_member(*, actor: Actor, email: str, name: str = "", role: str) -> tuple[Membership, PasswordLink | None]:
    """Add a member and issue their password-set link; a person who already has a password keeps it.

    The user is global: a link for someone who already signs in (to another tenant) would let
    this tenant's admins replace a password they do not own, so no link is issued then.
    """
    membership = add_member(actor=actor, email=email, name=name, role=role)
    if membership.user.password_hash is not None:
        return membership, None
    return membership, new_password_link(membership, actor=actor)
