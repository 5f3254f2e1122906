"""SAML 2.0 service provider with python3-saml: IdP metadata, our SP metadata, AuthnRequest, ACS checks."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
import sqlalchemy as sa
from cryptography import x509
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as V
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from app.core.db import db, utcnow
from app.identity.sso.models import SamlSeenAssertion
from app.identity.sso.signin import SsoFailed, SsoIdentity, create_pending

TIMEOUT = 5
MAX_METADATA_BYTES = 1_000_000


class SamlProblem(Exception):
    """IdP metadata or settings that cannot be used; the message says why."""


@dataclass
class CertInfo:
    subject: str
    sha256: str
    sha1: str
    not_after: datetime

    @property
    def is_expired(self) -> bool:
        return self.not_after <= utcnow()

    @property
    def expires_soon(self) -> bool:
        return not self.is_expired and self.not_after - utcnow() < timedelta(days=30)


def normalise_cert(text: str) -> str:
    """The base64 body of a PEM (or bare base64) certificate, checked to be an X.509 certificate."""
    body = "".join(line.strip() for line in (text or "").splitlines()
                   if line.strip() and "CERTIFICATE" not in line)
    try:
        x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
    except ValueError:
        raise SamlProblem("That is not an X.509 certificate (paste the PEM, -----BEGIN CERTIFICATE----- included).")
    return body


def cert_info(body: str) -> CertInfo:
    der = base64.b64decode(body)
    cert = x509.load_der_x509_certificate(der)
    return CertInfo(subject=cert.subject.rfc4514_string(), sha256=_colon(hashlib.sha256(der).hexdigest()),
                    sha1=_colon(hashlib.sha1(der).hexdigest()),  # noqa: S324 — a fingerprint IdPs display
                    not_after=cert.not_valid_after_utc.astimezone(UTC))


def _colon(hexdigest: str) -> str:
    return ":".join(hexdigest[i:i + 2] for i in range(0, len(hexdigest), 2)).upper()


@dataclass
class IdpMetadata:
    entity_id: str
    sso_url: str
    slo_url: str
    certs: list[str]


def parse_metadata(xml: str | bytes) -> IdpMetadata:
    """Parse IdP metadata XML (python3-saml's parser: no external entities) into what we keep."""
    if not xml or not str(xml).strip():
        raise SamlProblem("The metadata is empty.")
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=C.BINDING_HTTP_REDIRECT)
    except Exception as exc:  # noqa: BLE001 — lxml and python3-saml raise many kinds for bad XML
        raise SamlProblem(f"The metadata is not valid SAML metadata XML ({exc.__class__.__name__}: {exc}).")
    idp = parsed.get("idp") or {}
    sso = (idp.get("singleSignOnService") or {}).get("url", "")
    multi = (idp.get("x509certMulti") or {}).get("signing") or []
    certs = [normalise_cert(c) for c in (multi or [idp.get("x509cert", "")]) if c]
    if not idp.get("entityId") or not sso:
        raise SamlProblem("The metadata has no IdP entity id or no HTTP-Redirect single sign-on URL.")
    if not certs:
        raise SamlProblem("The metadata has no signing certificate.")
    return IdpMetadata(entity_id=idp["entityId"], sso_url=sso,
                       slo_url=(idp.get("singleLogoutService") or {}).get("url", ""), certs=certs)


def fetch_metadata(url: str) -> IdpMetadata:
    try:
        res = requests.get(url, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise SamlProblem(f"Could not fetch the metadata at {url}: {exc.__class__.__name__}.")
    if res.status_code != 200:
        raise SamlProblem(f"The metadata URL answered HTTP {res.status_code}.")
    if len(res.content) > MAX_METADATA_BYTES:
        raise SamlProblem("The metadata is larger than 1 MB.")
    return parse_metadata(res.content)


def check_certs(certs: list[str]) -> list[str]:
    """Describe each certificate; raise if none is currently valid."""
    infos = [cert_info(c) for c in certs]
    if all(i.is_expired for i in infos):
        raise SamlProblem("Every IdP signing certificate has expired "
                          f"(latest {max(i.not_after for i in infos):%Y-%m-%d}); upload the IdP's new metadata.")
    lines = []
    for i in infos:
        state = "EXPIRED" if i.is_expired else ("expires soon" if i.expires_soon else "valid")
        lines.append(f"Certificate {i.subject}: {state} until {i.not_after:%Y-%m-%d}, SHA-256 {i.sha256}.")
    return lines


# --- settings for python3-saml -------------------------------------------------------------


@dataclass
class SpUrls:
    entity_id: str
    acs: str
    sls: str


def settings(config, sp: SpUrls) -> OneLogin_Saml2_Settings:
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs, "binding": C.BINDING_HTTP_POST},
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
            "x509cert": "",
            "privateKey": "",
        },
        "idp": {
            "entityId": config.saml_idp_entity_id or "urn:unset",
            "singleSignOnService": {"url": config.saml_idp_sso_url or "https://unset.invalid/",
                                    "binding": C.BINDING_HTTP_REDIRECT},
            "x509certMulti": {"signing": list(config.saml_idp_certs or [])},
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": bool(config.saml_want_response_signed),
            "authnRequestsSigned": False,
            "logoutRequestSigned": False,
            "wantNameId": False,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "rejectUnsolicitedResponsesWithInResponseTo": True,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
        },
    }
    if config.saml_slo_enabled:
        data["sp"]["singleLogoutService"] = {"url": sp.sls, "binding": C.BINDING_HTTP_REDIRECT}
        if config.saml_idp_slo_url:
            data["idp"]["singleLogoutService"] = {"url": config.saml_idp_slo_url,
                                                  "binding": C.BINDING_HTTP_REDIRECT}
    return OneLogin_Saml2_Settings(data, sp_validation_only=True)


def sp_metadata(config, sp: SpUrls) -> str:
    meta = settings(config, sp).get_sp_metadata()
    return meta.decode() if isinstance(meta, bytes) else meta


def login_redirect(config, sp: SpUrls, *, next_url: str | None) -> str:
    """An AuthnRequest (HTTP-Redirect), its id and a RelayState stored server-side; returns the IdP URL."""
    s = settings(config, sp)
    authn = OneLogin_Saml2_Authn_Request(s)
    relay = create_pending("saml", request_id=authn.get_id(), next_url=next_url)
    query = {"SAMLRequest": authn.get_request(), "RelayState": relay}
    return OneLogin_Saml2_Utils.redirect(config.saml_idp_sso_url, query)


# --- the ACS --------------------------------------------------------------------------------

# python3-saml's validation codes, in words an admin can act on.
_MESSAGES = {
    V.INVALID_SIGNATURE: "The assertion was signed by a certificate this tenant does not trust, or changed after "
                         "it was signed. Compare the IdP's signing certificate with the one on the SSO page.",
    V.NO_SIGNED_ASSERTION: "The identity provider sent an unsigned assertion; this tenant requires signed "
                           "assertions. Turn on assertion signing at the IdP.",
    V.NO_SIGNED_MESSAGE: "The response itself is not signed, and this tenant requires signed responses. Turn on "
                         "response signing at the IdP, or turn the option off on the SSO page.",
    V.NO_SIGNATURE_FOUND: "The response carries no signature. Turn on assertion signing at the IdP.",
    V.WRONG_AUDIENCE: "The assertion is meant for another service provider (wrong audience). Set the IdP's "
                      "audience / SP entity id to this tenant's SP entity id shown on the SSO page.",
    V.WRONG_DESTINATION: "The response was addressed to another URL (wrong destination). Set the IdP's ACS URL to "
                         "the one shown on the SSO page.",
    V.WRONG_SUBJECTCONFIRMATION: "The assertion was issued for another recipient or has expired (subject "
                                 "confirmation). Check the IdP's ACS URL and clock.",
    V.ASSERTION_EXPIRED: "The assertion has expired (NotOnOrAfter is in the past). Check the IdP's clock.",
    V.RESPONSE_EXPIRED: "The response has expired. Check the IdP's clock.",
    V.SESSION_EXPIRED: "The IdP session in the assertion has expired. Sign in again at the IdP.",
    V.ASSERTION_TOO_EARLY: "The assertion is not valid yet (NotBefore is in the future). Check the IdP's clock.",
    V.WRONG_INRESPONSETO: "The response does not answer the sign-in request Vigil sent (InResponseTo mismatch).",
    V.WRONG_ISSUER: "The response was issued by another IdP entity id than the one on the SSO page.",
    V.WRONG_NUMBER_OF_ASSERTIONS: "The response must carry exactly one assertion; this one looks tampered with "
                                  "(possible signature wrapping).",
    V.WRONG_SIGNED_ELEMENT: "The signature does not cover the assertion that was used (possible signature "
                            "wrapping).",
    V.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "The signature references an element that is not the assertion (possible "
                                      "signature wrapping).",
    V.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "The response repeats a signed element id (possible signature wrapping).",
    V.UNEXPECTED_SIGNED_ELEMENTS: "The response has signatures in unexpected places (possible signature "
                                  "wrapping).",
    V.STATUS_CODE_IS_NOT_SUCCESS: "The identity provider reported that the sign-in did not succeed.",
    V.DEPRECATED_SIGNATURE_METHOD: "The IdP signs with SHA-1, which Vigil refuses. Switch the IdP to RSA-SHA256.",
    V.DEPRECATED_DIGEST_METHOD: "The IdP digests with SHA-1, which Vigil refuses. Switch the IdP to SHA-256.",
}


def process_response(config, sp: SpUrls, request_data: dict, saml_response: str,
                     request_id: str | None) -> SsoIdentity:
    """Validate the POSTed response (signature, audience, destination, times, InResponseTo, replay)."""
    s = settings(config, sp)
    try:
        response = OneLogin_Saml2_Response(s, saml_response)
        response.is_valid(request_data, request_id, raise_exceptions=True)
    except V as exc:
        message = _MESSAGES.get(exc.code, f"The SAML response was rejected: {exc}.")
        raise SsoFailed(message, f"saml: {exc}")
    except Exception as exc:  # noqa: BLE001 — malformed base64/XML surfaces as many exception types
        raise SsoFailed("The SAML response is not valid SAML XML.", f"saml: {exc.__class__.__name__}: {exc}")
    _remember_assertion(response)
    attrs = response.get_attributes()

    def first(name: str) -> str:
        values = attrs.get(name) or []
        return str(values[0]) if values else ""

    email = first(config.saml_email_attr) or (response.get_nameid() or "")
    return SsoIdentity(email=email, name=first(config.saml_name_attr),
                       groups=[str(g) for g in attrs.get(config.saml_groups_attr) or []],
                       subject=response.get_nameid() or "", name_id_format=response.get_nameid_format() or "",
                       session_index=response.get_session_index() or "")


def logout_redirect(config, sp: SpUrls, *, name_id: str, name_id_format: str, session_index: str) -> str | None:
    """The IdP URL carrying a LogoutRequest for this session, or None when single logout is off."""
    if not config.saml_slo_enabled or not config.saml_idp_slo_url:
        return None
    s = settings(config, sp)
    request = OneLogin_Saml2_Logout_Request(s, name_id=name_id, session_index=session_index or None,
                                            name_id_format=name_id_format or None)
    return OneLogin_Saml2_Utils.redirect(config.saml_idp_slo_url, {"SAMLRequest": request.get_request()})


def _remember_assertion(response: OneLogin_Saml2_Response) -> None:
    assertion_id = response.get_assertion_id()
    if not assertion_id:
        raise SsoFailed("The assertion has no ID, so it cannot be protected against replay.", "no assertion id")
    seen = db.session.scalar(sa.select(SamlSeenAssertion).where(SamlSeenAssertion.assertion_id == assertion_id))
    if seen is not None:
        raise SsoFailed("This assertion was already used to sign in (replay). Start again from the sign-in page.",
                        "assertion replayed")
    not_after = response.get_assertion_not_on_or_after()
    expires = datetime.fromtimestamp(not_after, UTC) if not_after else utcnow() + timedelta(hours=1)
    now = utcnow()
    db.session.execute(sa.delete(SamlSeenAssertion).where(SamlSeenAssertion.expires_at < now - timedelta(hours=1)))
    db.session.add(SamlSeenAssertion(assertion_id=assertion_id, expires_at=max(expires, now) + timedelta(minutes=10)))
    try:
        db.session.commit()  # the unique constraint settles a race between two copies of one response
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise SsoFailed("This assertion was already used to sign in (replay).", "assertion replayed")
