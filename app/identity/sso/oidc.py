"""OpenID Connect with authlib: discovery, authorization code + PKCE (S256), ID token checked via JWKS."""

from __future__ import annotations

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.identity.sso.signin import SsoFailed, SsoIdentity, create_pending

TIMEOUT = 5
LEEWAY_SECONDS = 60
# Asymmetric only: an HS256 token would be "signed" with the client secret, which is not the IdP's key.
ID_TOKEN_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class OidcProblem(Exception):
    """The issuer cannot be used; the message says why in the admin's words."""


def _get_json(url: str, what: str) -> dict:
    try:
        res = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise OidcProblem(f"Could not reach {what} at {url}: {exc.__class__.__name__}.")
    if res.status_code != 200:
        raise OidcProblem(f"{what} at {url} answered HTTP {res.status_code}.")
    try:
        data = res.json()
    except ValueError:
        raise OidcProblem(f"{what} at {url} did not return JSON.")
    if not isinstance(data, dict):
        raise OidcProblem(f"{what} at {url} did not return a JSON object.")
    return data


def discover(issuer: str) -> dict:
    """Fetch and check the issuer's discovery document (OpenID Connect Discovery 1.0)."""
    issuer = issuer.strip().rstrip("/")
    meta = _get_json(f"{issuer}/.well-known/openid-configuration", "the discovery document")
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise OidcProblem(f"The discovery document names the issuer “{meta.get('issuer')}”, not “{issuer}”; "
                          "use exactly the issuer the provider publishes.")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not meta.get(k)]
    if missing:
        raise OidcProblem(f"The discovery document lacks {', '.join(missing)}.")
    methods = meta.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise OidcProblem("The provider does not support PKCE with S256, which Vigil requires.")
    return meta


def fetch_keys(meta: dict) -> KeySet:
    jwks = _get_json(meta["jwks_uri"], "the JWKS")
    try:
        keys = KeySet.import_key_set(jwks)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcProblem(f"The JWKS at {meta['jwks_uri']} holds no usable keys ({exc}).")
    if not [k for k in keys.keys if k.key_type in ("RSA", "EC", "OKP")]:
        raise OidcProblem(f"The JWKS at {meta['jwks_uri']} holds no RSA, EC or OKP signing key.")
    return keys


def check_connection(issuer: str) -> tuple[dict, list[str]]:
    """Discovery and JWKS fetched and checked; returns the metadata and what was verified."""
    meta = discover(issuer)
    keys = fetch_keys(meta)
    return meta, [
        f"Discovery document found; issuer is {meta['issuer']}.",
        f"Authorization endpoint {meta['authorization_endpoint']}; token endpoint {meta['token_endpoint']}.",
        f"JWKS has {len(keys.keys)} key(s): {', '.join(sorted({k.key_type for k in keys.keys}))}.",
        "PKCE S256 supported." if "S256" in meta.get("code_challenge_methods_supported", ["S256"])
        else "PKCE support not advertised.",
    ]


def _client(config, secret: str, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(config.oidc_client_id, secret, scope=config.oidc_scopes, redirect_uri=redirect_uri,
                         code_challenge_method="S256")


def authorization_url(config, *, secret: str, redirect_uri: str, next_url: str | None,
                      login_hint: str | None) -> str:
    """Store state, nonce and the PKCE verifier server-side and build the IdP's authorization URL."""
    meta = config.oidc_metadata or discover(config.oidc_issuer)
    nonce, verifier = generate_token(32), generate_token(64)
    state = create_pending("oidc", nonce=nonce, code_verifier=verifier, next_url=next_url)
    extra = {"login_hint": login_hint} if login_hint else {}
    url, _ = _client(config, secret, redirect_uri).create_authorization_url(
        meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier, **extra)
    return url


def finish(config, pending, *, code: str, secret: str, redirect_uri: str) -> SsoIdentity:
    """Exchange the code (with the PKCE verifier) and check the ID token; raise SsoFailed on any doubt."""
    try:
        meta = discover(config.oidc_issuer)
        keys = fetch_keys(meta)
    except OidcProblem as exc:
        raise SsoFailed(f"The identity provider could not be checked: {exc}", "issuer unreachable")
    try:
        token = _client(config, secret, redirect_uri).fetch_token(
            meta["token_endpoint"], grant_type="authorization_code", code=code,
            code_verifier=pending.code_verifier)
    except Exception as exc:  # noqa: BLE001 — authlib raises OAuthError or requests errors here
        raise SsoFailed(f"The identity provider refused the authorization code ({exc}). Check the client id "
                        "and secret on the SSO page.", "token exchange failed")
    if "id_token" not in token:
        raise SsoFailed("The identity provider returned no ID token; add the “openid” scope.", "no id token")
    claims = _verified_claims(config, meta, keys, token, pending.nonce)
    return _identity(config, claims)


def _verified_claims(config, meta: dict, keys: KeySet, token: dict, nonce: str) -> dict:
    registry = JWSRegistry(algorithms=ID_TOKEN_ALGS)
    try:
        try:
            decoded = jwt.decode(token["id_token"], keys, registry=registry)
        except InvalidKeyIdError:
            decoded = jwt.decode(token["id_token"], fetch_keys(meta), registry=registry)
        claims = CodeIDToken(
            decoded.claims, decoded.header,
            {"iss": {"essential": True, "value": meta["issuer"]},
             "aud": {"essential": True, "value": config.oidc_client_id}},
            {"nonce": nonce, "client_id": config.oidc_client_id, "access_token": token.get("access_token")})
        claims.validate(leeway=LEEWAY_SECONDS)
    except BadSignatureError:
        raise SsoFailed("The ID token's signature does not match any key the provider publishes in its JWKS.",
                        "bad signature")
    except ExpiredTokenError:
        raise SsoFailed("The ID token has expired; check the clocks of Vigil and the provider.", "token expired")
    except (InvalidClaimError, MissingClaimError) as exc:
        raise SsoFailed(_claim_message(exc, config), f"claim: {exc}")
    except (JoseError, ValueError, OidcProblem) as exc:
        raise SsoFailed(f"The ID token could not be verified ({exc}).", "invalid id token")
    return dict(claims)


def _claim_message(exc: Exception, config) -> str:
    text = str(exc)
    if "'iss'" in text or getattr(exc, "claim", None) == "iss":
        return "The ID token was issued by another issuer than the one configured on the SSO page."
    if "aud" in text:
        return (f"The ID token is meant for another client (its audience is not “{config.oidc_client_id}”); "
                "check the client id.")
    if "nonce" in text:
        return "The ID token's nonce does not match this sign-in; it may be a replayed token."
    return f"The ID token failed a check: {text}."


def _identity(config, claims: dict) -> SsoIdentity:
    email = claims.get(config.oidc_email_claim) or ""
    if claims.get("email_verified") is False or claims.get("email_verified") == "false":
        raise SsoFailed(f"The identity provider says the address {email} is not verified, so Vigil will not "
                        "sign it in. Verify the address at the provider.", "email not verified")
    groups = claims.get(config.oidc_groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    name = claims.get("name") or " ".join(filter(None, [claims.get("given_name"), claims.get("family_name")]))
    return SsoIdentity(email=str(email), name=str(name or ""), groups=[str(g) for g in groups],
                       subject=str(claims.get("sub", "")))
