"""Administration → SCIM provisioning: the base URL, tokens (create, shown once, revoke), what arrived."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.core.actors import current_actor
from app.core.db import db
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import render, respond_changed, respond_refused
from app.identity import group_roles
from app.identity.models import Membership
from app.scim import groups as scim_groups
from app.scim import tokens
from app.scim.models import ScimGroupMember, ScimToken, ScimUser
from app.scim.users import DEFAULT_ROLE

bp = Blueprint("scim_admin", __name__, url_prefix="/admin/scim")
TOKEN_ROW = "scim/_token_row.html"  # noqa: S105  (a template name)


class ScimTokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)],
                       render_kw={"autocomplete": "off", "placeholder": "Okta production"})


def _overview() -> dict:
    active = db.session.scalar(sa.select(sa.func.count()).select_from(ScimUser).join(ScimUser.membership)
                               .where(Membership.is_active))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(ScimUser))
    sizes = dict(db.session.execute(sa.select(ScimGroupMember.group_id, sa.func.count())
                                    .group_by(ScimGroupMember.group_id)).all())
    mapping = group_roles.as_dict()
    groups = [(grp, sizes.get(grp.id, 0), mapping.get(grp.display_name)) for grp in scim_groups.list_groups()]
    return {"users_total": total, "users_active": active, "groups": groups, "has_mappings": bool(mapping)}


def _page(form: ScimTokenForm, *, status: int = 200, error: str | None = None, field_errors: dict | None = None):
    return render("scim/admin.html", status=status, tokens=tokens.list_scim_tokens(), form=form, error=error,
                  field_errors=field_errors or {}, base_url=url_for("scim.service_provider_config", _external=True)
                  .rsplit("/", 1)[0], default_role=DEFAULT_ROLE.value, **_overview())


@bp.get("")
@require("scim:manage")
def scim_settings():
    return _page(ScimTokenForm())


@bp.post("/tokens")
@require("scim:manage")
def token_create_post():
    form = ScimTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422, error="Check the fields marked below.")
    try:
        token, raw = tokens.create_scim_token(actor=current_actor(), name=form.name.data)
    except ValidationFailed as exc:
        return _page(form, status=exc.status, error="Check the fields marked below.", field_errors=exc.field_errors)
    # Rendered in the POST's own response and never stored: the raw token is shown this once.
    base_url = url_for("scim.service_provider_config", _external=True).rsplit("/", 1)[0]
    return render("scim/token_created.html", token=token, raw_token=raw, base_url=base_url)


@bp.get("/tokens/<public_id>/revoke")
@require("scim:manage")
def token_revoke(public_id: str):
    return render("scim/token_revoke.html", t=get_or_404(ScimToken, public_id), error=None)


@bp.post("/tokens/<public_id>/revoke")
@require("scim:manage")
def token_revoke_post(public_id: str):
    token = get_or_404(ScimToken, public_id)
    try:
        tokens.revoke_scim_token(token, actor=current_actor())
    except Conflict as exc:
        return respond_refused(exc, "scim/token_revoke.html", TOKEN_ROW, t=token)
    return respond_changed(f"The SCIM token “{token.name}” is revoked; the identity provider now gets 401.",
                           redirect_to=url_for("scim_admin.scim_settings"), fragment=TOKEN_ROW,
                           event="scim-token-revoked", t=token)
