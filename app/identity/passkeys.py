"""Passkeys: registration, sign-in with discoverable credentials, rename, revoke; every change audited.

The browser side is static/js/passkeys.js. Challenges live in `webauthn_challenges` and are
deleted when used; the view keeps only the challenge's hash in the session, so a challenge
works once and only for the browser that asked for it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    generate_challenge,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.identity.auth import active_memberships
from app.identity.models import User
from app.identity.passkey_models import Passkey, WebAuthnChallenge

RP_NAME = "Vigil"
CHALLENGE_MINUTES = 5
TIMEOUT_MS = 120_000
NAME_MAX = 80

NOT_RECOGNISED = "This passkey is not registered with Vigil, or it was revoked. Sign in another way."
REFUSED = "The passkey sign-in could not be verified. Try again, or sign in another way."
EXPIRED = "The passkey request expired. Try again."


class PasskeyRejected(Unauthorized):
    """A WebAuthn response we refuse: `message` is for the person, `reason` for the audit log."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str


def relying_party() -> RelyingParty:
    """RP id and origin from VIGIL_BASE_URL; from the request only when the base URL is an IP address.

    An IP address cannot be an RP id, so the development default (http://127.0.0.1:5000) falls
    back to the address the browser used (http://localhost:5000 works; 127.0.0.1 never can).
    """
    base = urlsplit(current_app.extensions["vigil_settings"].base_url)
    host = base.hostname or "localhost"
    if _is_ip(host) and has_request_context():
        here = urlsplit(request.host_url)
        return RelyingParty(id=here.hostname or host, origin=f"{here.scheme}://{here.netloc}")
    return RelyingParty(id=host, origin=f"{base.scheme}://{base.netloc}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def user_handle(user: User) -> bytes:
    # The random UUID behind the public id: stable, opaque, and no personal data on the authenticator.
    return uuid.UUID(user.public_id).bytes


# --- challenges ----------------------------------------------------------------------------


def challenge_digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def issue_challenge(purpose: str, *, user: User | None = None, action: str | None = None,
                    challenge: bytes | None = None) -> bytes:
    """Store a new challenge server-side (the caller commits) and return it for the options."""
    now = utcnow()
    challenge = challenge or generate_challenge()
    db.session.execute(sa.delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at < now))
    db.session.add(WebAuthnChallenge(challenge_hash=challenge_digest(challenge), purpose=purpose,
                                     user_id=user.id if user else None, action=action, created_at=now,
                                     expires_at=now + timedelta(minutes=CHALLENGE_MINUTES)))
    return challenge


def consume_challenge(purpose: str, digest: str | None, client_data_json: bytes) -> WebAuthnChallenge:
    """Take the challenge out of the store (once only) and check the browser signed that one."""
    row = db.session.scalar(sa.select(WebAuthnChallenge).where(
        WebAuthnChallenge.challenge_hash == (digest or ""), WebAuthnChallenge.purpose == purpose))
    if row is None:
        raise PasskeyRejected(EXPIRED, "unknown or used challenge")
    # Deleting by id and counting rows makes two concurrent uses of one challenge fail for one of them.
    deleted = db.session.execute(sa.delete(WebAuthnChallenge).where(WebAuthnChallenge.id == row.id)).rowcount
    if deleted != 1:
        raise PasskeyRejected(EXPIRED, "challenge used concurrently")
    if row.expires_at <= utcnow():
        raise PasskeyRejected(EXPIRED, "challenge expired")
    signed = _client_challenge(client_data_json)
    if signed is None or challenge_digest(signed) != row.challenge_hash:
        raise PasskeyRejected(REFUSED, "challenge mismatch")
    return row


def _client_challenge(client_data_json: bytes) -> bytes | None:
    import json

    try:
        return base64url_to_bytes(json.loads(client_data_json)["challenge"])
    except (ValueError, KeyError, TypeError):
        return None


# --- registration --------------------------------------------------------------------------


def list_passkeys(user: User) -> list[Passkey]:
    return list(db.session.scalars(
        sa.select(Passkey).where(Passkey.user_id == user.id, Passkey.revoked_at.is_(None))
        .order_by(Passkey.created_at)))


def has_passkeys(user: User) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Passkey).where(
        Passkey.user_id == user.id, Passkey.revoked_at.is_(None))) > 0


def get_own_passkey(user: User, public_id: str) -> Passkey:
    """One of the user's own live passkeys; anyone else's (or a revoked one) is a 404."""
    passkey = db.session.scalar(sa.select(Passkey).where(
        Passkey.public_id == public_id, Passkey.user_id == user.id, Passkey.revoked_at.is_(None)))
    if passkey is None:
        raise NotFound("No such passkey on your account.")
    return passkey


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id),
                                          transports=[AuthenticatorTransport(t) for t in p.transports if t in known])
            for p in passkeys]


@atomic
def registration_options(user: User) -> tuple[str, str]:
    """Options for navigator.credentials.create() (JSON) and the hash of their stored challenge."""
    rp = relying_party()
    challenge = issue_challenge("register", user=user)
    options = generate_registration_options(
        rp_id=rp.id, rp_name=RP_NAME, user_name=user.email, user_id=user_handle(user),
        user_display_name=user.display_name, challenge=challenge, timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=_descriptors(list_passkeys(user)),
    )
    return options_to_json(options), challenge_digest(challenge)


def clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed({"name": ["Give the passkey a name, such as “Work laptop” or “iPhone”."]})
    if len(name) > NAME_MAX:
        raise ValidationFailed({"name": [f"Keep the name under {NAME_MAX} characters."]})
    return name


def _registration_client_data(credential: dict) -> bytes:
    try:
        return base64url_to_bytes(credential["response"]["clientDataJSON"])
    except (KeyError, TypeError, ValueError):
        raise PasskeyRejected("The browser sent an incomplete passkey. Try again.", "malformed response")


@atomic
def register_passkey(user: User, credential: dict, *, name: str, challenge_hash: str | None, actor: Actor) -> Passkey:
    """Verify a navigator.credentials.create() response and keep the new passkey."""
    name = clean_name(name)
    try:
        consume_challenge("register", challenge_hash, _registration_client_data(credential))
        rp = relying_party()
        verified = verify_registration_response(credential=credential, expected_challenge=_client_challenge(
            _registration_client_data(credential)), expected_rp_id=rp.id, expected_origin=rp.origin,
            require_user_verification=True)
    except (PasskeyRejected, WebAuthnException) as exc:
        reason = exc.reason if isinstance(exc, PasskeyRejected) else str(exc)
        _audit_for_user("passkey.register_failed", user, actor=actor, target=user, after={"reason": reason})
        db.session.commit()  # keep the audit record although the request fails
        if isinstance(exc, PasskeyRejected):
            raise
        raise PasskeyRejected("The passkey could not be verified, so it was not added. Try again.", reason)
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(sa.select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise Conflict("This passkey is already registered.")
    transports = credential.get("response", {}).get("transports") or []
    passkey = Passkey(user_id=user.id, credential_id=credential_id, public_key=verified.credential_public_key,
                      user_handle=user_handle(user), sign_count=verified.sign_count, aaguid=str(verified.aaguid),
                      transports=[str(t)[:20] for t in transports][:8], name=name,
                      backup_eligible=verified.credential_device_type == "multi_device",
                      backed_up=verified.credential_backed_up)
    db.session.add(passkey)
    db.session.flush()
    db.session.refresh(passkey)
    _audit_for_user("passkey.registered", user, actor=actor, target=passkey,
                    after={"name": name, "synced": passkey.backed_up, "backup_eligible": passkey.backup_eligible})
    return passkey


@atomic
def rename_passkey(passkey: Passkey, name: str, *, actor: Actor) -> Passkey:
    """Give a passkey a new name."""
    name = clean_name(name)
    if name == passkey.name:
        return passkey
    before, passkey.name = passkey.name, name
    _audit_for_user("passkey.renamed", passkey.user, actor=actor, target=passkey,
                    before={"name": before}, after={"name": name})
    return passkey


@atomic
def revoke_passkey(passkey: Passkey, *, actor: Actor) -> Passkey:
    """Stop a passkey from working anywhere; it stays on record for earlier step-up proofs."""
    if passkey.revoked_at is not None:
        raise Conflict("This passkey is already revoked.")
    passkey.revoked_at = utcnow()
    _audit_for_user("passkey.revoked", passkey.user, actor=actor, target=passkey, after={"name": passkey.name})
    return passkey


def _audit_for_user(action: str, user: User, *, actor: Actor | None, target, before=None, after=None) -> None:
    """Passkeys belong to the global user: each tenant the user can enter sees the change in its log."""
    tenants = [m.tenant for m in active_memberships(user)]
    if actor is not None and actor.tenant is not None and actor.tenant.id not in {t.id for t in tenants}:
        tenants.append(actor.tenant)
    for tenant in tenants or [None]:
        audit.record(action, actor=actor, tenant=tenant, target=target, before=before, after=after,
                     actor_label=None if actor else user.email)


# --- assertions (sign-in, second factor, step-up) -------------------------------------------


@atomic
def authentication_options(purpose: str, *, user: User | None = None, action: str | None = None,
                           challenge: bytes | None = None) -> tuple[str, str]:
    """Options for navigator.credentials.get(): discoverable (no user) or limited to the user's passkeys."""
    challenge = issue_challenge(purpose, user=user, action=action, challenge=challenge)
    options = generate_authentication_options(
        rp_id=relying_party().id, challenge=challenge, timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(list_passkeys(user)) if user else None,
        user_verification=UserVerificationRequirement.REQUIRED)
    return options_to_json(options), challenge_digest(challenge)


@dataclass(frozen=True)
class VerifiedAssertion:
    passkey: Passkey
    challenge: WebAuthnChallenge
    authenticator_data: bytes
    client_data_json: bytes
    signature: bytes
    rp: RelyingParty


def _find_passkey(credential_id: str) -> Passkey | None:
    return db.session.scalar(sa.select(Passkey).where(Passkey.credential_id == credential_id))


def verify_assertion(credential: dict | str, *, purpose: str, challenge_hash: str | None,
                     expected_user: User | None = None) -> VerifiedAssertion:
    """Check a navigator.credentials.get() response; update the counter and backup state; raise PasskeyRejected.

    The caller commits (and audits): on refusal the challenge is still used up.
    """
    try:
        parsed = parse_authentication_credential_json(credential)
    except WebAuthnException as exc:
        raise PasskeyRejected(REFUSED, f"malformed response: {exc}")
    response = parsed.response
    challenge = consume_challenge(purpose, challenge_hash, response.client_data_json)
    passkey = _find_passkey(parsed.id)
    if passkey is None:
        raise PasskeyRejected(NOT_RECOGNISED, "unknown credential")
    if passkey.revoked_at is not None:
        raise PasskeyRejected(NOT_RECOGNISED, "revoked passkey")
    wanted = expected_user.id if expected_user else challenge.user_id
    if wanted is not None and passkey.user_id != wanted:
        raise PasskeyRejected(NOT_RECOGNISED, "passkey of another user")
    if response.user_handle is not None and response.user_handle != passkey.user_handle:
        raise PasskeyRejected(REFUSED, "user handle does not match the passkey")
    if not passkey.user.is_active:
        raise PasskeyRejected(REFUSED, "user deactivated")
    rp = relying_party()
    try:
        # Counter 0 here: the library then checks everything but the counter, which is checked
        # below, so a regression is reported only for an assertion that is otherwise genuine.
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=_client_challenge(response.client_data_json),
            expected_rp_id=rp.id, expected_origin=rp.origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=0, require_user_verification=True)
    except WebAuthnException as exc:
        raise PasskeyRejected(REFUSED, str(exc)[:200])
    if (verified.new_sign_count or passkey.sign_count) and verified.new_sign_count <= passkey.sign_count:
        raise PasskeyRejected(
            "This passkey reported a use count lower than before, which can mean it was copied. "
            "It was refused; use another passkey or sign in another way.",
            f"sign counter regression: {verified.new_sign_count} after {passkey.sign_count}")
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = utcnow()
    return VerifiedAssertion(passkey=passkey, challenge=challenge, authenticator_data=response.authenticator_data,
                             client_data_json=response.client_data_json, signature=response.signature, rp=rp)


def refuse(exc: PasskeyRejected, *, credential: dict | str | None, action: str = "auth.passkey_failed",
           actor: Actor | None = None, **details) -> None:
    """Audit a refused assertion (against the passkey's user when known) and commit, then re-raise."""
    db.session.rollback()  # nothing of the refused attempt stays, except the used-up challenge below
    passkey = _find_passkey(_credential_id(credential))
    user = passkey.user if passkey else None
    event = "passkey.counter_regression" if exc.reason.startswith("sign counter") else action
    after = {"reason": exc.reason, **details}
    if user is None:
        audit.record(event, actor=None, actor_label="unknown passkey", target=None, after=after)
    else:
        _audit_for_user(event, user, actor=actor, target=passkey, after=after)
    db.session.commit()
    raise exc


def _credential_id(credential) -> str:
    import json

    try:
        data = json.loads(credential) if isinstance(credential, str) else credential
        return str(data.get("id", ""))[:1400]
    except (ValueError, AttributeError):
        return ""


def sign_in_with_passkey(credential: dict | str, *, challenge_hash: str | None,
                         expected_user: User | None = None) -> User:
    """A discoverable-credential sign-in (or the second factor after a password): the verified user."""
    purpose = "second_factor" if expected_user else "login"
    try:
        result = verify_assertion(credential, purpose=purpose, challenge_hash=challenge_hash,
                                  expected_user=expected_user)
        user = result.passkey.user
        if not active_memberships(user):
            raise PasskeyRejected("Your account has no access to any workspace. Ask an administrator.",
                                  "no active membership")
    except PasskeyRejected as exc:
        _consume_anyway(challenge_hash)
        refuse(exc, credential=credential)
    db.session.commit()
    return user


def _consume_anyway(digest: str | None) -> None:
    # A refused attempt must not leave its challenge usable: the rollback in refuse() would restore it.
    if digest:
        db.session.rollback()
        db.session.execute(sa.delete(WebAuthnChallenge).where(WebAuthnChallenge.challenge_hash == digest))
        db.session.commit()
