"""The IdP-facing routes of each tenant: start, OIDC callback, SAML metadata and ACS.

They run before anyone is signed in, so the tenant comes from the URL's slug; each route opens
that tenant's context itself. Any refusal ends on the sign-in page with the reason, audited.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from app.core.crypto import decrypt
from app.core.errors import NotFound
from app.core.tenancy import tenant_context
from app.core.ui import render
from app.extensions import csrf, limiter
from app.identity.forms import EmailForm
from app.identity.services import tenant_by_slug
from app.identity.sso import oidc, saml
from app.identity.sso.services import SECRET_PURPOSE
from app.identity.sso.signin import SsoFailed, consume_pending, current_config, provision, record_failure

bp = Blueprint("sso", __name__, url_prefix="/sso")


def _tenant(slug: str):
    tenant = tenant_by_slug(slug)
    if tenant.deactivated_at is not None:
        raise NotFound("No such tenant.")
    return tenant


def _config(protocol: str | None = None):
    config = current_config()
    if config is None or not config.is_on or (protocol and config.protocol != protocol):
        raise SsoFailed("Single sign-on is not set up for this organisation. Sign in with your password, or ask "
                        "an administrator.", "sso off")
    return config


def sp_urls(slug: str) -> saml.SpUrls:
    """Our SP's stable per-tenant URLs, from VIGIL_BASE_URL so they do not depend on the Host header."""
    base = current_app.extensions["vigil_settings"].base_url.rstrip("/")
    return saml.SpUrls(entity_id=base + url_for("sso.saml_metadata", slug=slug),
                       acs=base + url_for("sso.saml_acs", slug=slug),
                       sls=base + url_for("sso.saml_sls", slug=slug))


def _oidc_redirect_uri(slug: str) -> str:
    base = current_app.extensions["vigil_settings"].base_url.rstrip("/")
    return base + url_for("sso.oidc_callback", slug=slug)


def refused(message: str, status: int = 400):
    """The sign-in page with what went wrong; no session is created."""
    return render("identity/login.html", form=EmailForm(), error=message, sso_error=True, status=status)


def _fail(tenant, exc: SsoFailed, protocol: str, email: str | None = None):
    record_failure(tenant, exc, protocol=protocol, email=email)
    return refused(exc.message)


@bp.get("/<slug>/start")
@limiter.limit("60 per minute")
def start(slug: str):
    """Send the browser to the tenant's IdP (SP-initiated), state stored server-side."""
    tenant = _tenant(slug)
    from app.identity.views import safe_next_path

    next_url = safe_next_path(request.args.get("next"))
    with tenant_context(tenant):
        try:
            config = _config()
            if config.protocol == "oidc":
                secret = decrypt(config.oidc_client_secret_encrypted, SECRET_PURPOSE)
                url = oidc.authorization_url(config, secret=secret, redirect_uri=_oidc_redirect_uri(slug),
                                             next_url=next_url, login_hint=request.args.get("login_hint"))
            else:
                url = saml.login_redirect(config, sp_urls(slug), next_url=next_url)
        except SsoFailed as exc:
            return _fail(tenant, exc, "sso")
        except oidc.OidcProblem as exc:
            return _fail(tenant, SsoFailed(f"The identity provider cannot be reached: {exc}", "issuer unreachable"),
                         "oidc")
    response = Response(status=303)
    response.headers["Location"] = url
    return response


@bp.get("/<slug>/oidc/callback")
@limiter.limit("60 per minute")
def oidc_callback(slug: str):
    tenant = _tenant(slug)
    with tenant_context(tenant):
        try:
            config = _config("oidc")
            pending = consume_pending(request.args.get("state"), "oidc")
            if request.args.get("error"):
                raise SsoFailed(f"The identity provider refused the sign-in: {request.args['error']} "
                                f"{request.args.get('error_description', '')}".strip() + ".", "idp error")
            if not request.args.get("code"):
                raise SsoFailed("The identity provider sent no authorization code.", "no code")
            identity = oidc.finish(config, pending, code=request.args["code"],
                                   secret=decrypt(config.oidc_client_secret_encrypted, SECRET_PURPOSE),
                                   redirect_uri=_oidc_redirect_uri(slug))
            membership = provision(config, tenant, identity, protocol="oidc")
        except SsoFailed as exc:
            return _fail(tenant, exc, "oidc")
        return _signed_in(membership, "sso:oidc", pending.next_url)


@bp.get("/<slug>/saml/metadata")
def saml_metadata(slug: str):
    """Our SP metadata: stable per tenant, public (IdPs fetch it), downloadable."""
    tenant = _tenant(slug)
    with tenant_context(tenant):
        config = current_config()
        from app.identity.sso.services import config_or_default

        xml = saml.sp_metadata(config or config_or_default(), sp_urls(slug))
    response = Response(xml, mimetype="application/samlmetadata+xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="vigil-{slug}-sp-metadata.xml"'
    return response


def _saml_request_data() -> dict:
    return {"https": "on" if request.scheme == "https" else "off", "http_host": request.host,
            "script_name": request.path, "server_port": request.host.partition(":")[2] or None,
            "get_data": request.args.copy(), "post_data": request.form.copy()}


@bp.post("/<slug>/saml/acs")
@csrf.exempt  # the IdP's cross-site POST: no CSRF token, no Lax cookie; RelayState and the signature stand in
@limiter.limit("60 per minute")
def saml_acs(slug: str):
    tenant = _tenant(slug)
    with tenant_context(tenant):
        pending = None
        try:
            config = _config("saml")
            pending = _pending_saml(config, request.form.get("RelayState"))
            if not request.form.get("SAMLResponse"):
                raise SsoFailed("The IdP's POST carried no SAMLResponse.", "no response")
            identity = saml.process_response(config, sp_urls(slug), _saml_request_data(),
                                             request.form["SAMLResponse"], pending.request_id if pending else None)
            membership = provision(config, tenant, identity, protocol="saml")
        except SsoFailed as exc:
            return _fail(tenant, exc, "saml")
        return _signed_in(membership, "sso:saml", pending.next_url if pending else None,
                          saml_session={"name_id": identity.subject, "format": identity.name_id_format,
                                        "index": identity.session_index})


def _pending_saml(config, relay: str | None):
    """The AuthnRequest this answers; None for an IdP-initiated sign-in, only when the admin allows those."""
    if relay:
        try:
            return consume_pending(relay, "saml")
        except SsoFailed as exc:
            # IdPs put a target URL in RelayState when they start the sign-in themselves.
            if exc.reason != "unknown state" or not config.allow_idp_initiated:
                raise
    if not config.allow_idp_initiated:
        raise SsoFailed("The IdP started this sign-in itself (IdP-initiated), which this tenant does not accept. "
                        "Start from Vigil's sign-in page, or allow IdP-initiated sign-in on the SSO page.",
                        "idp-initiated refused")
    return None


@bp.get("/<slug>/saml/sls")
def saml_sls(slug: str):
    """Where the IdP returns after single logout; Vigil's own session already ended at sign-out."""
    _tenant(slug)
    from flask import flash, redirect

    flash("You are signed out of Vigil and of your identity provider.", "success")
    return redirect(url_for("identity.login"), 303)


def _signed_in(membership, method: str, next_url: str | None, saml_session: dict | None = None):
    from app.identity.views import finish_login

    return finish_login(membership.user, method, membership=membership, next_url=next_url,
                        keep={SAML_SESSION_KEY: saml_session} if saml_session else None)


SAML_SESSION_KEY = "saml_session"


def single_logout_url(session_data: dict) -> str | None:
    """Where sign-out continues when this session came from a SAML IdP with single logout on."""
    saml_session = session_data.get(SAML_SESSION_KEY)
    tenant_id = session_data.get("sso_tenant")
    if not saml_session or not tenant_id:
        return None
    from app.core.db import db
    from app.core.tenancy import Tenant

    tenant = db.session.scalar(db.select(Tenant).where(Tenant.public_id == tenant_id))
    if tenant is None:
        return None
    with tenant_context(tenant):
        config = current_config()
        if config is None or config.protocol != "saml":
            return None
        return saml.logout_redirect(config, sp_urls(tenant.slug), name_id=saml_session["name_id"],
                                    name_id_format=saml_session["format"], session_index=saml_session["index"])
