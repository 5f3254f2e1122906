"""Admin changes to a tenant's SSO: connection tests, saving only what passed, settings; all audited.

A new OIDC or SAML configuration is checked (discovery + JWKS, or metadata + certificates) before
it is stored: when the check fails nothing changes and the working configuration stays active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor
from app.core.crypto import encrypt
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import Role, authorize
from app.identity import group_roles
from app.identity.sso import oidc, saml
from app.identity.sso.models import SsoConfig, SsoDomain
from app.identity.sso.signin import claimed_domains, current_config

SECRET_PURPOSE = "sso-oidc-client-secret"  # noqa: S105 — an HKDF purpose label, not a secret
DOMAIN_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-")


@dataclass
class ConnectionCheck:
    ok: bool
    protocol: str
    lines: list[str] = field(default_factory=list)
    error: str = ""


def config_or_default() -> SsoConfig:
    return current_config() or SsoConfig(protocol="off", enforce_sso=False, jit_enabled=True,
                                         default_role="analyst", allow_idp_initiated=False,
                                         oidc_scopes="openid email profile", oidc_email_claim="email",
                                         oidc_groups_claim="groups", saml_email_attr="email",
                                         saml_name_attr="displayName", saml_groups_attr="groups",
                                         saml_idp_certs=[], saml_want_response_signed=False,
                                         saml_slo_enabled=False, oidc_issuer="", oidc_client_id="",
                                         saml_metadata_url="", saml_idp_entity_id="", saml_idp_sso_url="",
                                         saml_idp_slo_url="")


def _url(value: str, field_name: str) -> str:
    value = (value or "").strip()
    parsed = urlparse(value)
    local = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if parsed.scheme not in ("https", "http") or not parsed.netloc or (parsed.scheme == "http" and not local):
        raise ValidationFailed({field_name: ["Enter an https:// URL (http:// only for localhost)."]})
    return value


# --- OpenID Connect ---------------------------------------------------------------------------


def check_oidc(issuer: str) -> ConnectionCheck:
    """Fetch discovery and JWKS for this issuer; saves nothing."""
    try:
        _meta, lines = oidc.check_connection(_url(issuer, "oidc_issuer"))
    except ValidationFailed as exc:
        return ConnectionCheck(False, "oidc", error=exc.message)
    except oidc.OidcProblem as exc:
        return ConnectionCheck(False, "oidc", error=str(exc))
    return ConnectionCheck(True, "oidc", lines)


@atomic
def save_oidc(*, actor: Actor, step_up: str | None = None, issuer: str,
              client_id: str, client_secret: str, scopes: str, email_claim: str,
              groups_claim: str) -> SsoConfig:
    """Check the issuer, then store the OIDC connection and make it the tenant's active IdP."""
    authorize(actor, "sso:manage")
    config = config_or_default()
    errors: dict[str, list[str]] = {}
    if not (client_id or "").strip():
        errors["oidc_client_id"] = ["Enter the client id the provider gave you."]
    if not (client_secret or "").strip() and not config.oidc_client_secret_encrypted:
        errors["oidc_client_secret"] = ["Enter the client secret."]
    scope_list = (scopes or "").split()
    if "openid" not in scope_list:
        errors["oidc_scopes"] = ["The scopes must include “openid”."]
    if errors:
        raise ValidationFailed(errors)
    try:
        meta, _lines = oidc.check_connection(_url(issuer, "oidc_issuer"))
    except oidc.OidcProblem as exc:
        raise ValidationFailed({"oidc_issuer": [f"{exc} Nothing was saved; the current configuration stays."]})
    before = _summary(config) if config.id else None
    config.oidc_issuer = meta["issuer"]
    config.oidc_client_id = client_id.strip()
    if (client_secret or "").strip():
        config.oidc_client_secret_encrypted = encrypt(client_secret.strip(), SECRET_PURPOSE)
    config.oidc_scopes = " ".join(scope_list)
    config.oidc_email_claim = (email_claim or "email").strip()
    config.oidc_groups_claim = (groups_claim or "groups").strip()
    config.oidc_metadata = meta
    config.protocol, config.tested_at = "oidc", utcnow()
    db.session.add(config)
    db.session.flush()
    audit.record("sso.config_changed", actor=actor, target=config, before=before,
                 after={**_summary(config), "client_secret_changed": bool((client_secret or "").strip()),
                        **_proof(step_up)})
    return config


# --- SAML 2.0 ---------------------------------------------------------------------------------


def _saml_source(*, metadata_xml: str, metadata_url: str, entity_id: str, sso_url: str, slo_url: str,
                 cert_pem: str) -> tuple[saml.IdpMetadata, str]:
    try:
        if (metadata_xml or "").strip():
            return saml.parse_metadata(metadata_xml), ""
        if (metadata_url or "").strip():
            url = _url(metadata_url, "saml_metadata_url")
            return saml.fetch_metadata(url), url
        if not (entity_id or "").strip() or not (sso_url or "").strip() or not (cert_pem or "").strip():
            raise ValidationFailed({"saml_metadata_xml": [
                "Upload the IdP's metadata, give its URL, or enter entity id, SSO URL and certificate by hand."]})
        return saml.IdpMetadata(entity_id=entity_id.strip(), sso_url=_url(sso_url, "saml_idp_sso_url"),
                                slo_url=(slo_url or "").strip(), certs=[saml.normalise_cert(cert_pem)]), ""
    except saml.SamlProblem as exc:
        where = ("saml_metadata_xml" if (metadata_xml or "").strip() else
                 "saml_metadata_url" if (metadata_url or "").strip() else "saml_idp_cert")
        raise ValidationFailed({where: [str(exc)]})


def check_saml(**source) -> ConnectionCheck:
    """Parse the metadata (or hand-entered values) and check the certificates; saves nothing."""
    try:
        meta, _url_used = _saml_source(**source)
        lines = [f"IdP entity id {meta.entity_id}.", f"Single sign-on URL {meta.sso_url}."]
        lines += saml.check_certs(meta.certs)
    except ValidationFailed as exc:
        return ConnectionCheck(False, "saml", error=exc.message)
    except saml.SamlProblem as exc:
        return ConnectionCheck(False, "saml", error=str(exc))
    return ConnectionCheck(True, "saml", lines)


@atomic
def save_saml(*, actor: Actor, step_up: str | None = None, want_response_signed: bool,
              email_attr: str, name_attr: str, groups_attr: str,
              slo_enabled: bool, **source) -> SsoConfig:
    """Parse and check the IdP, then store the SAML connection and make it the tenant's active IdP."""
    authorize(actor, "sso:manage")
    meta, url = _saml_source(**source)
    try:
        saml.check_certs(meta.certs)
    except saml.SamlProblem as exc:
        raise ValidationFailed({"saml_metadata_xml": [f"{exc} Nothing was saved."]})
    config = config_or_default()
    before = _summary(config) if config.id else None
    config.saml_metadata_url = url
    config.saml_idp_entity_id, config.saml_idp_sso_url = meta.entity_id, meta.sso_url
    config.saml_idp_slo_url, config.saml_idp_certs = meta.slo_url, meta.certs
    config.saml_want_response_signed = bool(want_response_signed)
    config.saml_email_attr = (email_attr or "email").strip()
    config.saml_name_attr = (name_attr or "displayName").strip()
    config.saml_groups_attr = (groups_attr or "groups").strip()
    config.saml_slo_enabled = bool(slo_enabled)
    config.protocol, config.tested_at = "saml", utcnow()
    db.session.add(config)
    db.session.flush()
    audit.record("sso.config_changed", actor=actor, target=config, before=before,
                 after={**_summary(config), **_proof(step_up)})
    return config


# --- settings shared by both protocols --------------------------------------------------------


def parse_domains(text: str) -> list[str]:
    domains = sorted({d.strip().lower().lstrip("@") for d in (text or "").replace(",", " ").split() if d.strip()})
    bad = [d for d in domains if "." not in d or not set(d) <= DOMAIN_CHARS or d.startswith((".", "-"))]
    if bad:
        raise ValidationFailed({"allowed_domains": [f"Not a domain: {', '.join(bad)}."]})
    return domains


@atomic
def save_settings(*, actor: Actor, step_up: str | None = None, enforce_sso: bool, jit_enabled: bool, default_role: str,
                  allow_idp_initiated: bool, allowed_domains: str, group_roles_text: str) -> SsoConfig:
    """Store enforcement, provisioning, claimed domains and the group → role mapping."""
    authorize(actor, "sso:manage")
    config = config_or_default()
    if default_role not in {r.value for r in Role}:
        raise ValidationFailed({"default_role": ["Choose a role."]})
    if enforce_sso and not config.is_on:
        raise ValidationFailed({"enforce_sso": ["Connect and test an identity provider before enforcing SSO."]})
    domains = parse_domains(allowed_domains)
    mapping = group_roles.parse_lines(group_roles_text or "")
    before = {**_summary(config), "domains": claimed_domains(actor.tenant)} if config.id else None
    _claim_domains(actor, domains)
    config.enforce_sso, config.jit_enabled = bool(enforce_sso), bool(jit_enabled)
    config.default_role, config.allow_idp_initiated = default_role, bool(allow_idp_initiated)
    db.session.add(config)
    db.session.flush()
    group_roles.replace_mappings(mapping, actor=actor)
    after = {**_summary(config), "domains": domains}
    if after != before:
        audit.record("sso.settings_changed", actor=actor, target=config, before=before,
                     after={**after, **_proof(step_up)})
    return config


def _claim_domains(actor: Actor, domains: list[str]) -> None:
    tenant = actor.tenant
    taken = db.session.scalars(sa.select(SsoDomain).where(SsoDomain.domain.in_(domains),
                                                          SsoDomain.tenant_id != tenant.id)).all()
    if taken:
        raise Conflict(f"{', '.join(d.domain for d in taken)} is already routed to another tenant's IdP; "
                       "a domain can belong to one tenant only.")
    existing = {d.domain: d for d in db.session.scalars(sa.select(SsoDomain).where(SsoDomain.tenant_id == tenant.id))}
    for name, row in existing.items():
        if name not in domains:
            db.session.delete(row)
    for name in domains:
        if name not in existing:
            db.session.add(SsoDomain(domain=name, tenant_id=tenant.id))
    db.session.flush()


@atomic
def turn_off(*, actor: Actor, step_up: str | None = None) -> SsoConfig | None:
    """Stop routing sign-ins to the IdP (kept on file) and lift enforcement."""
    authorize(actor, "sso:manage")
    config = current_config()
    if config is None or not config.is_on:
        return config
    before = _summary(config)
    config.protocol, config.enforce_sso = "off", False
    audit.record("sso.turned_off", actor=actor, target=config, before=before,
                 after={**_summary(config), **_proof(step_up)})
    return config


def _proof(step_up: str | None) -> dict:
    """The step-up proof (StepUpProof.public_id) an admin's change was made under, kept in its audit record."""
    return {"step_up_proof": step_up} if step_up else {}


def _summary(config: SsoConfig) -> dict:
    """What the audit log shows of a configuration; the client secret never appears."""
    data = {"protocol": config.protocol, "enforce_sso": bool(config.enforce_sso),
            "jit_enabled": bool(config.jit_enabled), "default_role": config.default_role,
            "allow_idp_initiated": bool(config.allow_idp_initiated)}
    if config.protocol == "oidc" or config.oidc_issuer:
        data |= {"oidc_issuer": config.oidc_issuer, "oidc_client_id": config.oidc_client_id,
                 "oidc_scopes": config.oidc_scopes}
    if config.protocol == "saml" or config.saml_idp_entity_id:
        data |= {"saml_idp_entity_id": config.saml_idp_entity_id, "saml_idp_sso_url": config.saml_idp_sso_url,
                 "saml_cert_count": len(config.saml_idp_certs or []),
                 "saml_want_response_signed": bool(config.saml_want_response_signed)}
    return data
