"""Tenant administration: members (roles, deactivation, MFA resets, password links) and API keys."""

from __future__ import annotations

from flask import Blueprint, url_for
from flask_wtf import FlaskForm

from app.admin.forms import ROLE_CHOICES, SCOPE_HELP, ApiKeyForm, MemberForm, RoleForm
from app.core.actors import current_actor
from app.core.db import utcnow
from app.core.errors import Conflict, DomainError, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import render, respond_changed, respond_refused
from app.identity import api_keys as keys
from app.identity import services
from app.identity.models import ApiKey, Membership
from app.identity.stepup import require_step_up

bp = Blueprint("admin", __name__, url_prefix="/admin")

MEMBER_ROW = "admin/_member_row.html"
KEY_ROW = "admin/_api_key_row.html"


def _failure(exc: DomainError, form: FlaskForm | None = None) -> dict:
    """What a refused change shows: field errors beside the fields, anything else above the form."""
    fields = getattr(exc, "field_errors", {}) if form is not None else {}
    stray = [msg for name, msgs in fields.items() if name not in form._fields for msg in msgs] if fields else []
    return {"error": " ".join(stray) or ("Check the fields marked below." if fields else exc.message),
            "field_errors": fields}


# --- members -------------------------------------------------------------------------------


def _member_changed(message: str, membership: Membership):
    return respond_changed(message, redirect_to=url_for("admin.members"), fragment=MEMBER_ROW,
                           event="member-updated", m=membership, roles=ROLE_CHOICES)


def _member_refused(exc: DomainError, membership: Membership, page: str = "admin/members.html"):
    return respond_refused(exc, page, MEMBER_ROW, m=membership, members=services.list_members(), roles=ROLE_CHOICES)


@bp.get("/members")
@require("member:read")
def members():
    return render("admin/members.html", members=services.list_members(), roles=ROLE_CHOICES, error=None)


@bp.get("/members/new")
@require("member:write")
def member_new():
    return render("admin/member_new.html", form=MemberForm(), error=None, field_errors={})


@bp.post("/members/new")
@require("member:write")
def member_new_post():
    form = MemberForm()
    if not form.validate_on_submit():
        return render("admin/member_new.html", form=form, error=None, field_errors={}, status=422)
    try:
        membership, link = services.invite_member(actor=current_actor(), email=form.email.data,
                                                  name=form.name.data or "", role=form.role.data)
    except (ValidationFailed, Conflict) as exc:
        return render("admin/member_new.html", form=form, status=exc.status, **_failure(exc, form))
    return _password_link_page(membership, link, added=True)


def _password_link_page(membership: Membership, link: services.PasswordLink | None, *, added: bool):
    # Rendered in the POST's own response, never stored or redirected to: the link is shown once.
    link_url = url_for("identity.password_set", token=link.token, _external=True) if link else None
    return render("admin/password_link.html", m=membership, link=link, link_url=link_url, added=added)


@bp.post("/members/<public_id>/role")
@require("member:write")
def member_role_post(public_id: str):
    membership = get_or_404(Membership, public_id)
    form = RoleForm()
    try:
        if not form.validate_on_submit():
            raise ValidationFailed({"role": form.role.errors or ["Choose a role."]})
        services.change_role(membership, form.role.data, actor=current_actor())
    except (ValidationFailed, Conflict) as exc:
        return _member_refused(exc, membership)
    return _member_changed(f"{membership.user.email} is now {membership.role.value}.", membership)


@bp.get("/members/<public_id>/deactivate")
@require("member:write")
def member_deactivate(public_id: str):
    return render("admin/member_deactivate.html", m=get_or_404(Membership, public_id), error=None)


@bp.post("/members/<public_id>/deactivate")
@require("member:write")
def member_deactivate_post(public_id: str):
    membership = get_or_404(Membership, public_id)
    try:
        services.set_member_active(membership, False, actor=current_actor())
    except Conflict as exc:
        return _member_refused(exc, membership, "admin/member_deactivate.html")
    return _member_changed(f"{membership.user.email} is deactivated and signed out.", membership)


@bp.post("/members/<public_id>/reactivate")
@require("member:write")
def member_reactivate_post(public_id: str):
    membership = get_or_404(Membership, public_id)
    services.set_member_active(membership, True, actor=current_actor())
    return _member_changed(f"{membership.user.email} can sign in to this tenant again.", membership)


@bp.get("/members/<public_id>/reset-mfa")
@require("member:write")
def member_reset_mfa(public_id: str):
    return render("admin/member_reset_mfa.html", m=get_or_404(Membership, public_id), error=None)


@bp.post("/members/<public_id>/reset-mfa")
@require("member:write")
def member_reset_mfa_post(public_id: str):
    membership = get_or_404(Membership, public_id)
    try:
        services.reset_member_mfa(membership, actor=current_actor())
    except Conflict as exc:
        return _member_refused(exc, membership, "admin/member_reset_mfa.html")
    return _member_changed(f"{membership.user.email} has no authenticator now and was signed out; "
                           "they can set one up again under Account security.", membership)


@bp.post("/members/<public_id>/password-link")
@require("member:write")
def member_password_link_post(public_id: str):
    membership = get_or_404(Membership, public_id)
    try:
        link = services.new_password_link(membership, actor=current_actor())
    except Conflict as exc:
        return _member_refused(exc, membership)
    return _password_link_page(membership, link, added=False)


# --- API keys ------------------------------------------------------------------------------


def _keys_page(form: ApiKeyForm, *, status: int = 200, error: str | None = None, field_errors: dict | None = None):
    return render("admin/api_keys.html", status=status, keys=keys.list_api_keys(), now=utcnow(), form=form,
                  scope_help=SCOPE_HELP, error=error, field_errors=field_errors or {})


@bp.get("/api-keys")
@require("apikey:manage")
def api_keys():
    return _keys_page(ApiKeyForm())


@bp.post("/api-keys")
@require("apikey:manage")
@require_step_up("apikey:create", "create an API key")
def api_key_create_post():
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _keys_page(form, status=422, error="Check the fields marked below.")
    actor = current_actor()
    try:
        key, raw = keys.create_api_key(actor=actor, name=form.name.data, scopes=form.scopes.data,
                                       expires_at=form.expiry(getattr(actor.user, "timezone", None)))
    except ValidationFailed as exc:
        return _keys_page(form, status=exc.status, **_failure(exc, form))
    # Rendered in the POST's own response and never stored: the raw key is shown this once.
    return render("admin/api_key_created.html", key=key, raw_key=raw)


@bp.get("/api-keys/<public_id>/revoke")
@require("apikey:manage")
def api_key_revoke(public_id: str):
    return render("admin/api_key_revoke.html", k=get_or_404(ApiKey, public_id), error=None)


@bp.post("/api-keys/<public_id>/revoke")
@require("apikey:manage")
def api_key_revoke_post(public_id: str):
    key = get_or_404(ApiKey, public_id)
    try:
        keys.revoke_api_key(key, actor=current_actor())
    except Conflict as exc:
        return respond_refused(exc, "admin/api_key_revoke.html", KEY_ROW, k=key, now=utcnow())
    return respond_changed(f"The key “{key.name}” is revoked; clients using it now get 401.",
                           redirect_to=url_for("admin.api_keys"), fragment=KEY_ROW, event="api-key-revoked",
                           k=key, now=utcnow())
