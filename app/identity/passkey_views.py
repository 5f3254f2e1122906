"""Passkey routes: the JSON endpoints static/js/passkeys.js talks to, and the account-page forms."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, jsonify, request, session, url_for
from flask_login import login_required

from app.core.errors import DomainError, Forbidden, ValidationFailed
from app.core.ui import render, respond_changed
from app.extensions import limiter
from app.identity import passkeys, stepup
from app.identity.sso.signin import ENFORCED_MESSAGE, check_password_allowed
from app.identity.views import _pending_user, finish_login

bp = Blueprint("passkeys", __name__)

REGISTER_CHALLENGE = "webauthn_register"
LOGIN_CHALLENGE = "webauthn_login"


def _actor():
    if g.get("actor") is None:
        abort(401)
    return g.actor


def _json_error(exc: DomainError):
    return jsonify(error=exc.message), exc.status


def _options_response(options_json: str) -> Response:
    return Response(options_json, mimetype="application/json")


# --- registering from the account page -----------------------------------------------------


@bp.post("/account/passkeys/options")
@login_required
def register_options():
    actor = _actor()
    if stepup.method_for(actor.user) and stepup.current_proof("passkey:add", actor) is None:
        # Someone holding only this session must not add their own passkey: the page steps up first.
        return jsonify(error="Confirm it is you first.", stepup=True), 401
    options, digest = passkeys.registration_options(actor.user)
    session[REGISTER_CHALLENGE] = digest
    return _options_response(options)


@bp.post("/account/passkeys")
@login_required
def register_post():
    actor = _actor()
    body = request.get_json(silent=True) or {}
    try:
        passkey = passkeys.register_passkey(actor.user, body.get("credential") or {}, name=body.get("name", ""),
                                            challenge_hash=session.pop(REGISTER_CHALLENGE, None), actor=actor)
    except DomainError as exc:
        return _json_error(exc)
    flash(f"Passkey “{passkey.name}” added. You can now sign in with it alone.", "success")
    return jsonify(redirect=url_for("identity.account_security"))


stepup.register_action("passkey:add", "add a passkey")


@bp.post("/account/passkeys/new")
@login_required
def add_page():
    """The page that creates the passkey; users who already have a second factor step up first."""
    if stepup.method_for(_actor().user) and (answer := stepup.ensure("passkey:add")) is not None:
        return answer
    name = request.form.get("name", "")
    try:
        name = passkeys.clean_name(name)
        error = None
    except ValidationFailed as exc:
        error = exc.message
    return render("identity/passkey_add.html", name=name, error=error, status=422 if error else 200)


@bp.post("/account/passkeys/<public_id>/rename")
@login_required
def rename_post(public_id: str):
    actor = _actor()
    passkey = passkeys.get_own_passkey(actor.user, public_id)
    try:
        passkeys.rename_passkey(passkey, request.form.get("name", ""), actor=actor)
    except ValidationFailed as exc:
        return render("identity/account_security.html", "identity/_passkey_row.html", status=422,
                      **_account_context(actor), p=passkey, rename_error=exc.message, renaming=passkey.public_id)
    return respond_changed(f"Passkey renamed to “{passkey.name}”.", redirect_to=url_for("identity.account_security"),
                           fragment="identity/_passkey_row.html", event="passkey-renamed", p=passkey,
                           rename_error=None, renaming=None)


def _account_context(actor) -> dict:
    from app.identity import services

    return {"user": actor.user, "remaining_codes": services.remaining_recovery_codes(actor.user),
            "passkeys": passkeys.list_passkeys(actor.user)}


@bp.get("/account/passkeys/<public_id>/revoke")
@login_required
def revoke_confirm(public_id: str):
    return render("identity/passkey_revoke.html", p=passkeys.get_own_passkey(_actor().user, public_id), error=None)


stepup.register_action("passkey:revoke", "revoke a passkey")


@bp.post("/account/passkeys/<public_id>/revoke")
@login_required
def revoke_post(public_id: str):
    actor = _actor()
    passkey = passkeys.get_own_passkey(actor.user, public_id)  # first: another user's id is a 404
    if (answer := stepup.ensure("passkey:revoke")) is not None:
        return answer
    passkeys.revoke_passkey(passkey, actor=actor)
    return respond_changed(f"Passkey “{passkey.name}” is revoked; it no longer signs in.",
                           redirect_to=url_for("identity.account_security"))


# --- signing in ----------------------------------------------------------------------------


def _mode(body: dict) -> str:
    return "second_factor" if body.get("mode") == "second_factor" else "login"


@bp.post("/login/passkey/options")
@limiter.limit("30 per minute")
def login_options():
    body = request.get_json(silent=True) or {}
    user = None
    if _mode(body) == "second_factor":
        user = _pending_user()
        if user is None:
            return jsonify(error="Sign in again: the two-step sign-in took too long."), 401
    options, digest = passkeys.authentication_options(_mode(body), user=user)
    session[LOGIN_CHALLENGE] = digest
    return _options_response(options)


@bp.post("/login/passkey")
@limiter.limit("30 per minute")
def login_post():
    body = request.get_json(silent=True) or {}
    pending = _pending_user() if _mode(body) == "second_factor" else None
    if _mode(body) == "second_factor" and pending is None:
        return jsonify(error="Sign in again: the two-step sign-in took too long."), 401
    try:
        user = passkeys.sign_in_with_passkey(body.get("credential") or {},
                                             challenge_hash=session.pop(LOGIN_CHALLENGE, None),
                                             expected_user=pending)
    except DomainError as exc:
        return _json_error(exc)
    if not pending:  # (after a password the password step already applied SSO enforcement)
        try:
            check_password_allowed(user, method="passkey")  # audited like a refused password
        except Forbidden:
            return jsonify(error=ENFORCED_MESSAGE), 403
    response = finish_login(user, "password+passkey" if pending else "passkey")
    if response.status_code != 303:  # every tenant of this user enforces SSO and they are no admin
        return jsonify(error=ENFORCED_MESSAGE), 403
    return jsonify(redirect=response.location)


# --- step-up -------------------------------------------------------------------------------


@bp.post("/account/step-up/options")
@login_required
def stepup_options():
    actor = _actor()
    body = request.get_json(silent=True) or {}
    try:
        options, digest = stepup.passkey_options(str(body.get("action", "")), actor=actor)
    except DomainError as exc:
        return _json_error(exc)
    session[stepup.CHALLENGE_KEY] = digest
    return _options_response(options)
