"""Step-up: a fresh, user-verified confirmation before a sensitive action, stored so it can be re-verified.

Use on a view (below its @require):

    @require_step_up("apikey:create")

Without a proof for that action from the last VIGIL_STEPUP_MINUTES, the view answers the
step-up page instead. That page keeps the submitted form fields and re-posts them to the same
URL together with the passkey assertion (or the TOTP code), so nothing typed is lost. Users with
a passkey must use it; users without one use their authenticator code.

A passkey assertion's challenge is a random nonce followed by sha256(action, user, tenant), so
the stored signature proves the authenticator approved that action; `reverify(proof)` checks it
again from the stored bytes alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request, session
from webauthn import verify_authentication_response
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException

from app.core import audit
from app.core.actors import Actor, current_actor
from app.core.db import atomic, db, utcnow
from app.core.errors import DomainError, NotFound, Unauthorized
from app.core.tenancy import Tenant
from app.core.ui import is_fragment_request, render
from app.identity import auth, passkeys
from app.identity.models import User
from app.identity.passkey_models import StepUpProof

SESSION_KEY = "stepup"
ASSERTION_FIELD = "_stepup_assertion"
CODE_FIELD = "_stepup_code"

# Actions that may be stepped up for, with the words the step-up page uses ("… to create an API key").
ACTIONS: dict[str, str] = {}


def register_action(action: str, label: str) -> None:
    ACTIONS[action] = label


def window() -> timedelta:
    return timedelta(minutes=current_app.extensions["vigil_settings"].stepup_minutes)


def method_for(user: User) -> str | None:
    """How this user steps up: a passkey if they have one, else their authenticator app, else not at all."""
    if passkeys.has_passkeys(user):
        return "passkey"
    return "totp" if user.has_mfa else None


def binding(action: str, user_public_id: str, tenant_public_id: str) -> bytes:
    return hashlib.sha256(f"vigil-stepup\n{action}\n{user_public_id}\n{tenant_public_id}".encode()).digest()


# --- proofs ----------------------------------------------------------------------------------


def current_proof(action: str, actor: Actor) -> StepUpProof | None:
    """This browser's proof for the action, if made by this user within the window."""
    public_id = session.get(SESSION_KEY, {}).get(action)
    if not public_id or actor.user is None:
        return None
    proof = db.session.scalar(sa.select(StepUpProof).where(StepUpProof.public_id == public_id))
    if proof is None or proof.user_id != actor.user.id or proof.action != action:
        return None
    return proof if utcnow() - proof.verified_at <= window() else None


def _remember(proof: StepUpProof) -> None:
    proofs = dict(session.get(SESSION_KEY, {}))
    proofs[proof.action] = proof.public_id
    session[SESSION_KEY] = proofs


@atomic
def passkey_options(action: str, *, actor: Actor) -> tuple[str, str]:
    """Assertion options limited to the user's passkeys, with a challenge bound to the action."""
    if action not in ACTIONS:
        raise NotFound("Unknown action.")
    challenge = secrets.token_bytes(32) + binding(action, actor.user.public_id, actor.tenant.public_id)
    return passkeys.authentication_options("stepup", user=actor.user, action=action, challenge=challenge)


def verify_passkey(action: str, credential: dict | str, *, challenge_hash: str | None, actor: Actor) -> StepUpProof:
    """Check a step-up assertion for this action and store it as a proof."""
    try:
        result = passkeys.verify_assertion(credential, purpose="stepup", challenge_hash=challenge_hash,
                                           expected_user=actor.user)
        if result.challenge.action != action:
            raise passkeys.PasskeyRejected(passkeys.REFUSED, "challenge issued for another action")
    except passkeys.PasskeyRejected as exc:
        passkeys._consume_anyway(challenge_hash)
        passkeys.refuse(exc, credential=credential, action="stepup.failed", actor=actor, step_up_for=action)
    passkey = result.passkey
    return _store(StepUpProof(
        user_id=actor.user.id, passkey_id=passkey.id, action=action, method="passkey",
        credential_id=passkey.credential_id, authenticator_data=result.authenticator_data,
        client_data_json=result.client_data_json, signature=result.signature, public_key=passkey.public_key,
        rp_id=result.rp.id, origin=result.rp.origin), actor)


def verify_totp(action: str, code: str, *, actor: Actor) -> StepUpProof:
    """Check an authenticator code (users without a passkey) and store the step-up."""
    try:
        auth.check_second_factor(actor.user, code or "")
    except DomainError:
        audit.record("stepup.failed", actor=actor, target=actor.user,
                     after={"reason": "wrong authenticator code", "step_up_for": action})
        db.session.commit()
        raise
    return _store(StepUpProof(user_id=actor.user.id, action=action, method="totp"), actor)


@atomic
def _store(proof: StepUpProof, actor: Actor) -> StepUpProof:
    db.session.add(proof)
    db.session.flush()
    audit.record("stepup.verified", actor=actor, target=proof,
                 after={"action": proof.action, "method": proof.method, "proof": proof.public_id})
    return proof


def reverify(proof: StepUpProof) -> bool:
    """Re-check a stored passkey proof: signature, key, RP, user verification and the action binding.

    True only for a passkey proof whose stored assertion still verifies against the stored public
    key and whose challenge commits to the stored action, user and tenant. TOTP proofs hold
    nothing to re-check and return False.
    """
    if proof.method != "passkey" or not (proof.client_data_json and proof.authenticator_data and proof.signature
                                         and proof.public_key and proof.credential_id):
        return False
    try:
        challenge = base64url_to_bytes(json.loads(proof.client_data_json)["challenge"])
        tenant = db.session.get(Tenant, proof.tenant_id)
        if tenant is None or challenge[32:] != binding(proof.action, proof.user.public_id, tenant.public_id):
            return False
        if proof.passkey is not None and (proof.passkey.public_key != proof.public_key
                                          or proof.passkey.credential_id != proof.credential_id):
            return False
        verify_authentication_response(
            credential={"id": proof.credential_id, "rawId": proof.credential_id, "type": "public-key",
                        "response": {"clientDataJSON": bytes_to_base64url(proof.client_data_json),
                                     "authenticatorData": bytes_to_base64url(proof.authenticator_data),
                                     "signature": bytes_to_base64url(proof.signature)}},
            expected_challenge=challenge, expected_rp_id=proof.rp_id, expected_origin=proof.origin,
            credential_public_key=proof.public_key, credential_current_sign_count=0,
            require_user_verification=True)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    return True


# --- the decorator and its page --------------------------------------------------------------


CHALLENGE_KEY = "webauthn_stepup"


def require_step_up(action: str, label: str | None = None) -> Callable:
    """Route decorator: the signed-in user must have stepped up for `action` within the window."""
    register_action(action, label or action)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            answer = ensure(action)
            return answer if answer is not None else view(*args, **kwargs)

        wrapped.step_up_action = action
        return wrapped

    return decorator


def ensure(action: str, *, carry: dict[str, str] | None = None):
    """None when the user has a fresh proof for the action (or just made one); else the step-up page.

    `carry`: extra fields for the step-up page to re-post, for what a form field cannot carry
    (an uploaded file's contents: a browser cannot re-submit a file from a hidden field).

    For views that must load their object first (so a foreign id is a 404, not a step-up page):
    `if (answer := stepup.ensure("passkey:revoke")) is not None: return answer`.
    """
    actor = current_actor()
    if actor is None or actor.user is None:
        raise Unauthorized("Sign in to continue.")
    if current_proof(action, actor) is not None:
        return None
    return _attempt(action, actor, carry or {})


def _attempt(action: str, actor: Actor, carry: dict[str, str]):
    """Verify what the step-up page sent, or answer that page (again, with the reason)."""
    form = request.form
    try:
        if request.method == "POST" and form.get(ASSERTION_FIELD):
            proof = verify_passkey(action, form[ASSERTION_FIELD], challenge_hash=session.pop(CHALLENGE_KEY, None),
                                   actor=actor)
        elif request.method == "POST" and form.get(CODE_FIELD) and method_for(actor.user) == "totp":
            proof = verify_totp(action, form[CODE_FIELD], actor=actor)
        else:
            return stepup_page(action, actor, carry=carry)
    except DomainError as exc:
        return stepup_page(action, actor, error=exc.message, status=exc.status, carry=carry)
    _remember(proof)
    return None


def stepup_page(action: str, actor: Actor, *, error: str | None = None, status: int = 401,
                carry: dict[str, str] | None = None):
    source = request.form if request.method == "POST" else request.args
    skip = {ASSERTION_FIELD, CODE_FIELD, "csrf_token", *(carry or {})}
    fields = [(k, v) for k, v in source.items(multi=True) if k not in skip] + list((carry or {}).items())
    ctx = {"action": action, "action_label": ACTIONS.get(action, action), "method": method_for(actor.user),
           "fields": fields, "target": request.full_path.rstrip("?"), "form_method": request.method,
           "minutes": int(window().total_seconds() // 60), "error": error,
           "back": request.referrer if (request.referrer or "").startswith(request.host_url) else None}
    if is_fragment_request():
        response = render("identity/stepup.html", "identity/_stepup.html", **ctx)
        response.headers["HX-Retarget"], response.headers["HX-Reswap"] = "#main", "innerHTML"
        return response
    return render("identity/stepup.html", status=status, **ctx)
