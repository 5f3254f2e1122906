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
from app.identity.forms import CodeForm, EmailForm, LoginForm, PasswordSetForm
from app.identity.models import Membership, User
from app.identity.sso import signin as sso_signin
from app.identity.web_session import SSO_TENANT_KEY, TENANT_KEY, choose_membership

bp = Blueprint("identity", __name__)

MFA_PENDING_SECONDS = 300


def safe_next_path(target: str | None) -> str | None:
    # Only same-site paths: an open redirect after sign-in is a phishing gift.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _safe_next(target: str | None) -> str:
    return safe_next_path(target) or url_for("home.dashboard")


def finish_login(user: User, method: str, *, membership: Membership | None = None, next_url: str | None = None,
                 keep: dict | None = None):
    """Open the server-side session and rotate the cookie; SSO passes the tenant its IdP vouched for."""
    sso_tenant = membership.tenant.public_id if membership is not None else None
    if membership is None:
        allowed = sso_signin.password_memberships(user)
        membership = next((m for m in allowed if m.tenant.public_id == session.get(TENANT_KEY)),
                          allowed[0] if allowed else None)
        if membership is None:
            return render("identity/login.html", form=EmailForm(), error=sso_signin.ENFORCED_MESSAGE, status=403)
    sid = auth.start_session(user, membership, ip=client_ip(), user_agent=request.user_agent.string,
                             method=method)
    next_url = next_url or session.get("next")
    session.clear()  # rotate: nothing from before sign-in survives into the new session
    session.permanent = True
    session[TENANT_KEY] = membership.tenant.public_id
    if sso_tenant:
        session[SSO_TENANT_KEY] = sso_tenant  # this session may enter only the tenant whose IdP vouched
    session.update(keep or {})
    user.login_sid = sid
    login_user(user)
    return redirect(_safe_next(next_url), 303)



@bp.get("/login")
def login():
    if current_user.is_authenticated and g.get("actor"):
        return redirect(url_for("home.dashboard"))
    session["next"] = request.args.get("next")
    if request.args.get("password"):  # break-glass: straight to the password step
        return render("identity/login.html", form=LoginForm(), step="password")
    return render("identity/login.html", form=EmailForm())


@bp.post("/login")
@limiter.limit("30 per minute")
def login_post():
    if "password" not in request.form:
        return _email_step()
    form = LoginForm()
    if not form.validate_on_submit():
        return render("identity/login.html", form=form, step="password", status=422)
    try:
        outcome = auth.check_credentials(form.email.data, form.password.data)
        sso_signin.check_password_allowed(outcome.user)
    except DomainError as exc:
        return render("identity/login.html", form=form, step="password", error=exc.message, status=exc.status)
    if outcome.needs_second_factor:
        session["mfa_user"], session["mfa_at"] = outcome.user.public_id, time.time()
        return redirect(url_for("identity.login_code"), 303)
    return finish_login(outcome.user, "password")


def _pending_user() -> User | None:
    if time.time() - session.get("mfa_at", 0) > MFA_PENDING_SECONDS:
        return None
    return db.session.scalar(db.select(User).where(User.public_id == session.get("mfa_user", "")))


def _email_step():
    """Home-realm discovery: a domain routed to a tenant's IdP goes there; anything else to the password step."""
    form = EmailForm()
    if not form.validate_on_submit():
        return render("identity/login.html", form=form, status=422)
    tenant = sso_signin.tenant_for_email(form.email.data)
    if tenant is not None:
        # A page, not a 303: CSP form-action also covers redirects after a form POST, and this chain
        # ends at the IdP's origin. The meta refresh (or the link, by hand) is a fresh navigation.
        start_url = url_for("sso.start", slug=tenant.slug, login_hint=form.email.data,
                            next=safe_next_path(session.get("next")))
        return render("identity/sso_redirect.html", start_url=start_url, tenant_name=tenant.name)
    return render("identity/login.html", form=LoginForm(email=form.email.data), step="password")


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
    return finish_login(user, f"password+{method}")


@bp.post("/logout")
def logout():
    from app.identity.sso.views import single_logout_url

    slo_url = single_logout_url(session) if current_user.is_authenticated else None
    if current_user.is_authenticated:
        auth.end_session(current_user.get_id(), g.get("actor"))
    logout_user()
    session.clear()
    if slo_url:  # a page, not a 303, for the same CSP form-action reason as the sign-in hand-off
        return render("identity/sso_redirect.html", start_url=slo_url, tenant_name=None)
    flash("You are signed out.", "success")
    return redirect(url_for("identity.login"), 303)


@bp.post("/tenant/switch")
@login_required
def switch_tenant():
    wanted = request.form.get("tenant", "")
    membership, _ = choose_membership(current_user, wanted)
    if membership is None or membership.tenant.public_id != wanted:
        raise NotFound("You are not a member of that tenant.")
    if not sso_signin.session_may_enter(membership, session.get(SSO_TENANT_KEY)):
        raise NotFound(f"{membership.tenant.name} requires signing in through its identity provider: "
                       "sign out and sign in with your work email.")
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
