"""The tenant admin's SSO page: connect an OIDC or SAML IdP (test first, save only what passed), settings.

Every change needs a fresh step-up ("sso:configure"): whoever controls the IdP controls every sign-in to
the tenant. "Test connection" saves nothing, so it works without one; on the OIDC and SAML forms the test
shares the route with save, so those views step up only when saving, after the form itself validated (a
typo is pointed out before the admin is asked to confirm).
"""

from __future__ import annotations

from flask import Blueprint, current_app, request, url_for

from app.core.actors import current_actor
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import require
from app.core.ui import render, respond_changed
from app.identity import group_roles, stepup
from app.identity.sso import saml, services
from app.identity.sso.forms import OidcForm, SamlForm, SsoSettingsForm
from app.identity.sso.signin import claimed_domains
from app.identity.sso.views import sp_urls

bp = Blueprint("sso_admin", __name__, url_prefix="/admin/sso")
PAGE = "sso/admin_sso.html"
STEP_UP = "sso:configure"
stepup.register_action(STEP_UP, "change single sign-on settings")
# The step-up page re-posts the SAML form's fields, but a browser cannot re-submit a file. Rather than make
# the admin step up before the page shows any form, or pick the metadata file again afterwards, the
# uploaded XML travels through the step-up page in this hidden field and is used when no file comes back.
CARRIED_METADATA = "_saml_metadata_xml"


def _proof() -> str | None:
    """The public id of the step-up proof this change was made under, for its audit record."""
    proof = stepup.current_proof(STEP_UP, current_actor())
    return proof.public_id if proof else None


def _forms(config):
    oidc_form = OidcForm(obj=config) if request.method == "GET" else OidcForm()
    saml_form = SamlForm(obj=config) if request.method == "GET" else SamlForm()
    if request.method == "GET" and config.saml_idp_certs:
        saml_form.saml_idp_cert.data = ""
    settings_form = SsoSettingsForm(obj=config) if request.method == "GET" else SsoSettingsForm()
    if request.method == "GET":
        settings_form.allowed_domains.data = ", ".join(claimed_domains(current_actor().tenant))
        settings_form.group_roles_text.data = "\n".join(f"{g} = {r}" for g, r in group_roles.as_dict().items())
    return oidc_form, saml_form, settings_form


def _page(*, status: int = 200, check=None, errors: dict | None = None, error: str | None = None,
          section: str | None = None, forms=None):
    config = services.config_or_default()
    oidc_form, saml_form, settings_form = forms or _forms(config)
    tenant = current_actor().tenant
    base = current_app.extensions["vigil_settings"].base_url.rstrip("/")
    certs = [saml.cert_info(c) for c in (config.saml_idp_certs or [])]
    actor = current_actor()
    fresh = stepup.current_proof(STEP_UP, actor) is not None
    return render(PAGE, status=status, config=config, stepped_up=fresh,
                  stepup_method=None if fresh else stepup.method_for(actor.user),
                  stepup_minutes=int(stepup.window().total_seconds() // 60),
                  oidc_form=oidc_form, saml_form=saml_form,
                  settings_form=settings_form, check=check, field_errors=errors or {}, error=error,
                  section=section, sp=sp_urls(tenant.slug), certs=certs,
                  redirect_uri=base + url_for("sso.oidc_callback", slug=tenant.slug),
                  metadata_url=base + url_for("sso.saml_metadata", slug=tenant.slug))


@bp.get("/")
@require("sso:manage")
def sso_page():
    return _page()


@bp.post("/oidc")
@require("sso:manage")
def oidc_post():
    forms = _forms(services.config_or_default())
    form = forms[0]
    if not form.validate_on_submit():
        return _page(status=422, section="oidc", forms=forms, error="Check the OpenID Connect fields.")
    if request.form.get("action") == "test":
        check = services.check_oidc(form.oidc_issuer.data)
        return _page(status=200 if check.ok else 422, check=check, section="oidc", forms=forms)
    if (answer := stepup.ensure(STEP_UP)) is not None:
        return answer
    try:
        services.save_oidc(actor=current_actor(), step_up=_proof(), issuer=form.oidc_issuer.data,
                           client_id=form.oidc_client_id.data,
                           client_secret=form.oidc_client_secret.data, scopes=form.oidc_scopes.data,
                           email_claim=form.oidc_email_claim.data, groups_claim=form.oidc_groups_claim.data)
    except ValidationFailed as exc:
        return _page(status=422, errors=exc.field_errors, section="oidc", forms=forms,
                     error="Not saved: " + exc.message)
    return respond_changed("OpenID Connect is connected and active. The client secret is stored encrypted and "
                           "will not be shown again.", redirect_to=url_for("sso_admin.sso_page"))


def _saml_source(form: SamlForm) -> dict:
    upload = request.files.get(form.saml_metadata_file.name)
    xml = upload.read(saml.MAX_METADATA_BYTES + 1).decode("utf-8", "replace") if upload else ""
    xml = xml or request.form.get(CARRIED_METADATA, "")[:saml.MAX_METADATA_BYTES + 1]
    return {"metadata_xml": xml, "metadata_url": form.saml_metadata_url.data or "",
            "entity_id": form.saml_idp_entity_id.data or "", "sso_url": form.saml_idp_sso_url.data or "",
            "slo_url": form.saml_idp_slo_url.data or "", "cert_pem": form.saml_idp_cert.data or ""}


@bp.post("/saml")
@require("sso:manage")
def saml_post():
    forms = _forms(services.config_or_default())
    form = forms[1]
    if not form.validate_on_submit():
        return _page(status=422, section="saml", forms=forms, error="Check the SAML fields.")
    source = _saml_source(form)
    if request.form.get("action") == "test":
        check = services.check_saml(**source)
        return _page(status=200 if check.ok else 422, check=check, section="saml", forms=forms)
    carry = {CARRIED_METADATA: source["metadata_xml"]} if source["metadata_xml"] else None
    if (answer := stepup.ensure(STEP_UP, carry=carry)) is not None:
        return answer
    try:
        services.save_saml(actor=current_actor(), step_up=_proof(),
                           want_response_signed=form.saml_want_response_signed.data,
                           email_attr=form.saml_email_attr.data, name_attr=form.saml_name_attr.data,
                           groups_attr=form.saml_groups_attr.data, slo_enabled=form.saml_slo_enabled.data,
                           **source)
    except ValidationFailed as exc:
        return _page(status=422, errors=exc.field_errors, section="saml", forms=forms,
                     error="Not saved: " + exc.message)
    return respond_changed("SAML is connected and active.", redirect_to=url_for("sso_admin.sso_page"))


@bp.post("/settings")
@require("sso:manage")
@stepup.require_step_up(STEP_UP, "change single sign-on settings")
def settings_post():
    forms = _forms(services.config_or_default())
    form = forms[2]
    if not form.validate_on_submit():
        return _page(status=422, section="settings", forms=forms, error="Check the settings.")
    try:
        services.save_settings(actor=current_actor(), step_up=_proof(), enforce_sso=form.enforce_sso.data,
                               jit_enabled=form.jit_enabled.data, default_role=form.default_role.data,
                               allow_idp_initiated=form.allow_idp_initiated.data,
                               allowed_domains=form.allowed_domains.data,
                               group_roles_text=form.group_roles_text.data)
    except (ValidationFailed, Conflict) as exc:
        return _page(status=exc.status, errors=getattr(exc, "field_errors", {}), section="settings", forms=forms,
                     error="Not saved: " + exc.message)
    return respond_changed("Single sign-on settings saved.", redirect_to=url_for("sso_admin.sso_page"))


@bp.post("/off")
@require("sso:manage")
@stepup.require_step_up(STEP_UP, "change single sign-on settings")
def off_post():
    services.turn_off(actor=current_actor(), step_up=_proof())
    return respond_changed("Single sign-on is off; members sign in with passwords.",
                           redirect_to=url_for("sso_admin.sso_page"))
