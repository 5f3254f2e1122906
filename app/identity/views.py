"""Sign-in, two-step codes, sign-out, tenant switch, account security and password-set links."""

from __future__ import annotations

import time

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.core.actors import client_ip
from app.core.db import db
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.ui import render
from app.extensions import limiter
from app.identity import auth, passkeys, services, totp
from app.identity.forms import CodeForm, LoginForm, PasswordSetForm
from app.identity.models import User
from app.identity.web_session import TENANT_KEY, choose_membership

bp = Blueprint("identity", __name__)

MFA_PENDING_SECONDS = 300


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after sign-in is a phishing gift.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.dashboard")


def _finish_login(user: User, method: str):
    membership, _ = choose_membership(user, session.get(TENANT_KEY))
    sid = auth.start_session(user, membership, ip=client_ip(), user_agent=request.user_agent.string,
                             method=method)
    next_url = session.get("next")
    session.clear()  # rotate: nothing from before sign-in survives into the new session
    session.permanent = True
    session[TENANT_KEY] = membership.tenant.public_id
    user.login_sid = sid
    login_user(user)
    return redirect(_safe_next(next_url), 303)


@bp.get("/login")
def login():
    if current_user.is_authenticated and g.get("actor"):
        return redirect(url_for("home.dashboard"))
    session["next"] = request.args.get("next")
    return render("identity/login.html", form=LoginForm())


@bp.post("/login")
@limiter.limit("30 per minute")
def login_post():
    form = LoginForm()
    if not form.validate_on_submit():
        return render("identity/login.html", form=form, status=422)
    try:
        outcome = auth.check_credentials(form.email.data, form.password.data)
    except DomainError as exc:
        return render("identity/login.html", form=form, error=exc.message, status=exc.status)
    if outcome.needs_second_factor:
        session["mfa_user"], session["mfa_at"] = outcome.user.public_id, time.time()
        return redirect(url_for("identity.login_code"), 303)
    return _finish_login(outcome.user, "password")


def _pending_user() -> User | None:
    if time.time() - session.get("mfa_at", 0) > MFA_PENDING_SECONDS:
        return None
    return db.session.scalar(db.select(User).where(User.public_id == session.get("mfa_user", "")))


@bp.get("/login/code")
def login_code():
    if _pending_user() is None:
        flash("Sign in again: the two-step sign-in took too long.", "warning")
        return redirect(url_for("identity.login"))
    return render("identity/login_code.html", form=CodeForm(), **_second_factors(_pending_user()))


def _second_factors(user: User) -> dict:
    return {"has_totp": user.has_mfa, "has_passkey": passkeys.has_passkeys(user)}


@bp.post("/login/code")
@limiter.limit("30 per minute")
def login_code_post():
    user = _pending_user()
    if user is None:
        flash("Sign in again: the two-step sign-in took too long.", "warning")
        return redirect(url_for("identity.login"), 303)
    form = CodeForm()
    if not form.validate_on_submit():
        return render("identity/login_code.html", form=form, status=422, **_second_factors(user))
    try:
        method = auth.check_second_factor(user, form.code.data)
    except DomainError as exc:
        if exc.status == 429:
            session.pop("mfa_user", None)
        return render("identity/login_code.html", form=form, error=exc.message, status=exc.status,
                      **_second_factors(user))
    if method == "recovery_code":
        flash("You used a recovery code. Generate new ones if few are left.", "warning")
    return _finish_login(user, f"password+{method}")


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        auth.end_session(current_user.get_id(), g.get("actor"))
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("identity.login"), 303)


@bp.post("/tenant/switch")
@login_required
def switch_tenant():
    wanted = request.form.get("tenant", "")
    membership, _ = choose_membership(current_user, wanted)
    if membership is None or membership.tenant.public_id != wanted:
        raise NotFound("You are not a member of that tenant.")
    session[TENANT_KEY] = wanted
    flash(f"Now working in {membership.tenant.name}.", "success")
    return redirect(url_for("home.dashboard"), 303)


# --- account security ----------------------------------------------------------------------


def _require_actor():
    if g.get("actor") is None:
        abort(401)
    return g.actor


@bp.get("/account/security")
@login_required
def account_security():
    user = _require_actor().user
    return render("identity/account_security.html", user=user,
                  remaining_codes=services.remaining_recovery_codes(user), passkeys=passkeys.list_passkeys(user))


@bp.get("/account/mfa/enrol")
@login_required
def mfa_enrol():
    actor = _require_actor()
    return _enrol_page(actor.user, CodeForm())


def _enrol_page(user: User, form: CodeForm, status: int = 200, error: str | None = None):
    secret = services.begin_totp_enrolment(user)
    uri = totp.provisioning_uri(secret, user.email)
    return render("identity/mfa_enrol.html", form=form, secret=secret, qr=totp.qr_svg_data_uri(uri),
                  status=status, error=error)


@bp.post("/account/mfa/enrol")
@login_required
def mfa_enrol_post():
    actor = _require_actor()
    form = CodeForm()
    if not form.validate_on_submit():
        return _enrol_page(actor.user, form, 422)
    try:
        codes = services.confirm_totp_enrolment(actor.user, form.code.data, actor=actor)
    except ValidationFailed as exc:
        return _enrol_page(actor.user, form, 422, exc.message)
    return render("identity/recovery_codes.html", codes=codes, fresh_enrolment=True)


@bp.post("/account/mfa/recovery-codes")
@login_required
def recovery_codes_post():
    actor = _require_actor()
    codes = services.regenerate_recovery_codes(actor.user, actor=actor)
    return render("identity/recovery_codes.html", codes=codes, fresh_enrolment=False)


# --- one-time password links ---------------------------------------------------------------


@bp.get("/password/set/<token>")
def password_set(token: str):
    try:
        link = services.find_password_token(token)
    except NotFound as exc:
        return render("identity/password_link_invalid.html", message=exc.message, status=404)
    return render("identity/password_set.html", form=PasswordSetForm(), email=link.user.email)


@bp.post("/password/set/<token>")
@limiter.limit("20 per minute")
def password_set_post(token: str):
    form = PasswordSetForm()
    try:
        link = services.find_password_token(token)
    except NotFound as exc:
        return render("identity/password_link_invalid.html", message=exc.message, status=404)
    if not form.validate_on_submit():
        return render("identity/password_set.html", form=form, email=link.user.email, status=422)
    try:
        services.set_password_with_link(token, form.password.data, form.confirm.data)
    except ValidationFailed as exc:
        return render("identity/password_set.html", form=form, email=link.user.email,
                      field_errors=exc.field_errors, status=422)
    flash("Your password is set. Sign in with it now.", "success")
    return redirect(url_for("identity.login"), 303)
