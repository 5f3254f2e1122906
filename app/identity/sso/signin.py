"""What both protocols share: routing by email domain, pending logins, JIT provisioning, refusals.

A refused SSO sign-in raises `SsoFailed` with words an admin can act on; the view shows them on
the sign-in page and `record_failure()` audits the reason in the tenant's chain.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.core import audit
from app.core.actors import system_actor
from app.core.crypto import token_digest
from app.core.db import atomic, db, utcnow
from app.core.errors import DomainError, Forbidden
from app.core.permissions import Role
from app.core.tenancy import Tenant, tenant_context
from app.identity import group_roles
from app.identity.auth import active_memberships, normalise_email
from app.identity.models import Membership, User
from app.identity.sso.models import SsoConfig, SsoDomain, SsoPendingLogin

PENDING_MINUTES = 10


class SsoFailed(DomainError):
    """Single sign-on failed."""

    status = 400
    code = "sso_failed"

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason  # short machine-readable cause for the audit record


@dataclass
class SsoIdentity:
    """Who the IdP says signed in, after every protocol check passed."""

    email: str
    name: str
    groups: list[str]
    subject: str
    # SAML only: kept in the browser session so sign-out can send a LogoutRequest for this session.
    name_id_format: str = ""
    session_index: str = ""


def config_for(tenant: Tenant) -> SsoConfig | None:
    with tenant_context(tenant):
        return db.session.scalar(sa.select(SsoConfig))


def current_config() -> SsoConfig | None:
    return db.session.scalar(sa.select(SsoConfig))


def email_domain(email: str) -> str:
    return normalise_email(email).rpartition("@")[2]


def tenant_for_email(email: str) -> Tenant | None:
    """Home-realm discovery: the tenant whose IdP owns this email's domain, if SSO is on there."""
    domain = email_domain(email)
    if not domain:
        return None
    claim = db.session.scalar(sa.select(SsoDomain).where(SsoDomain.domain == domain))
    if claim is None or claim.tenant.deactivated_at is not None:
        return None
    config = config_for(claim.tenant)
    return claim.tenant if config is not None and config.is_on else None


def claimed_domains(tenant: Tenant) -> list[str]:
    return list(db.session.scalars(
        sa.select(SsoDomain.domain).where(SsoDomain.tenant_id == tenant.id).order_by(SsoDomain.domain)))


# --- pending logins (server-side, keyed by the state / RelayState we sent) ----------------


def create_pending(protocol: str, *, request_id: str | None = None, nonce: str | None = None,
                   code_verifier: str | None = None, next_url: str | None = None) -> str:
    """Store a pending sign-in in the current tenant and return its raw state (never stored)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(SsoPendingLogin(state_hash=token_digest(raw), protocol=protocol, request_id=request_id,
                                   nonce=nonce, code_verifier=code_verifier, next_url=next_url, created_at=now,
                                   expires_at=now + timedelta(minutes=PENDING_MINUTES)))
    # Old rows are useless once expired; dropping them here keeps the table small without a job.
    db.session.execute(sa.delete(SsoPendingLogin).where(SsoPendingLogin.expires_at < now - timedelta(hours=1)))
    db.session.commit()
    return raw


def consume_pending(raw_state: str | None, protocol: str) -> SsoPendingLogin:
    """The pending sign-in for this state, marked used; refused when unknown, used or expired."""
    row = None
    if raw_state:
        row = db.session.scalar(sa.select(SsoPendingLogin).where(
            SsoPendingLogin.state_hash == token_digest(raw_state), SsoPendingLogin.protocol == protocol))
    if row is None:
        raise SsoFailed("This sign-in was not started here (unknown state). Start again from the sign-in page.",
                        "unknown state")
    if row.used_at is not None:
        raise SsoFailed("This sign-in response was already used. Start again from the sign-in page.",
                        "state reused")
    if row.expires_at <= utcnow():
        raise SsoFailed(f"The sign-in took longer than {PENDING_MINUTES} minutes. Start again.", "state expired")
    row.used_at = utcnow()
    db.session.commit()  # used even if a later check fails: a state is good for one attempt
    return row


# --- after the protocol checks: who is this, and may they come in ---------------------------


def _check_domain(config: SsoConfig, tenant: Tenant, email: str) -> None:
    domains = claimed_domains(tenant)
    # A tenant's IdP vouches only for addresses in domains this tenant claimed (one tenant per domain).
    if not domains:
        raise SsoFailed("This tenant has no email domains routed to its identity provider yet. Add them under "
                        "“Email domains routed to this IdP” on the SSO page.", "no domains claimed")
    if email_domain(email) not in domains:
        raise SsoFailed(f"The identity provider signed in {email}, but {email_domain(email)} is not one of this "
                        f"tenant's allowed email domains ({', '.join(domains)}).", "domain not allowed")


@atomic
def provision(config: SsoConfig, tenant: Tenant, identity: SsoIdentity, *, protocol: str) -> Membership:
    """Find or create (JIT) the member the IdP vouched for; the mapped group role wins over the default."""
    email = normalise_email(identity.email)
    if not email or "@" not in email:
        raise SsoFailed("The identity provider sent no email address. Check the email claim or attribute name "
                        "on the SSO page.", "no email")
    _check_domain(config, tenant, email)
    mapped = group_roles.role_for_groups(identity.groups)
    actor = system_actor(tenant, f"sso:{protocol}")
    user = db.session.scalar(sa.select(User).where(User.email == email))
    membership = None
    if user is not None:
        membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id))
        if not user.is_active:
            raise SsoFailed(f"{email} is deactivated in Vigil.", "user deactivated")
    if membership is None:
        if not config.jit_enabled:
            raise SsoFailed(f"{email} is not a member of this tenant and just-in-time provisioning is off. "
                            "Add the member on the Members page, or turn provisioning on.", "not a member")
        if user is not None and active_memberships(user):
            # Users are global: JIT must not let one tenant's IdP attach an account other tenants rely on.
            raise SsoFailed(f"{email} already has a Vigil account in another organisation, so it is not created "
                            "here automatically. Add it on the Members page first.", "existing account elsewhere")
        if user is None:
            user = User(email=email, name=identity.name[:200], password_hash=None)
            db.session.add(user)
            db.session.flush()
        role = mapped or Role(config.default_role)
        membership = Membership(user=user, tenant=tenant, role=role, is_active=True)
        db.session.add(membership)
        db.session.flush()
        audit.record("member.added", actor=actor, target=membership,
                     after={"email": email, "role": role.value, "via": f"sso:{protocol}"})
    elif not membership.is_active:
        raise SsoFailed(f"{email}'s membership in this tenant is deactivated.", "membership deactivated")
    elif mapped is not None and mapped != membership.role and not _is_last_admin(membership):
        before = membership.role.value
        membership.role = mapped
        audit.record("member.role_changed", actor=actor, target=membership, before={"role": before},
                     after={"role": mapped.value, "via": f"sso:{protocol} groups"})
    if identity.name and not user.name:
        user.name = identity.name[:200]
    return membership


def _is_last_admin(membership: Membership) -> bool:
    if membership.role != Role.ADMIN:
        return False
    admins = db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                               .where(Membership.role == Role.ADMIN, Membership.is_active))
    return admins <= 1


def record_failure(tenant: Tenant, failure: SsoFailed, *, protocol: str, email: str | None = None) -> None:
    """Audit a refused SSO sign-in in the tenant's chain (its own transaction: the request fails)."""
    db.session.rollback()
    with tenant_context(tenant):
        audit.record("auth.sso_failed", actor=None, tenant=tenant, actor_label=email or f"sso:{protocol}",
                     after={"protocol": protocol, "reason": failure.reason, "message": failure.message})
        db.session.commit()
    current_app.logger.info("SSO sign-in refused for %s: %s", tenant.slug, failure.reason)


# --- enforcement: who may still use a password ------------------------------------------------


def enforces_sso():
    """SQL truth of "this tenant's SSO is on and enforced", for an outer join on SsoConfig (NULL: no config)."""
    return sa.and_(SsoConfig.protocol.in_(("oidc", "saml")), SsoConfig.enforce_sso)


def password_allowed(membership: Membership, enforced: bool | None = None) -> bool:
    """Members of a tenant that enforces SSO sign in through the IdP; admins keep password + MFA.

    `enforced` is the tenant's policy when the caller already read it (the per-request session check
    reads it in the memberships statement); otherwise it is looked up here.
    """
    if membership.role == Role.ADMIN:
        return True
    if enforced is None:
        config = config_for(membership.tenant)
        enforced = config is not None and config.is_on and config.enforce_sso
    return not enforced


def password_memberships(user: User) -> list[Membership]:
    return [m for m in active_memberships(user) if password_allowed(m)]


ENFORCED_MESSAGE = ("Your organisation signs in through its identity provider. Enter your work email on the "
                    "first step and choose Continue.")


def check_password_allowed(user: User, *, method: str = "password") -> None:
    """Refuse (and audit) a correct password (or passkey) when every tenant of the user enforces SSO for them."""
    if password_memberships(user):
        return
    for membership in active_memberships(user):
        audit.record("auth.login_failed", actor=None, tenant=membership.tenant, actor_label=user.email,
                     target=user, after={"reason": f"sso enforced: {method} refused"})
    db.session.commit()
    raise Forbidden(ENFORCED_MESSAGE)


def session_may_enter(membership: Membership, sso_tenant_public_id: str | None, enforced: bool | None = None) -> bool:
    """An SSO session stays in the tenant whose IdP vouched for it; a password session skips enforcing tenants."""
    if sso_tenant_public_id:
        return membership.tenant.public_id == sso_tenant_public_id
    return password_allowed(membership, enforced)
