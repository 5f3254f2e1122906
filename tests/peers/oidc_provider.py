"""A real OpenID provider for the tests, built from authlib's server components.

Authorization code + PKCE (S256 required), an RS256 ID token signed with an RSA JWK, discovery
and JWKS endpoints; served by werkzeug on 127.0.0.1:<free port> in a thread. It signs in
whoever `provider.user` says (no login form: the IdP's own UI is not what we test). Knobs on
the instance let a test make it misbehave the way a broken or hostile IdP would.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server


class _Client(ClientMixin):
    def __init__(self, client_id: str, secret: str, redirect_uris: list[str]):
        self.client_id, self.secret, self.redirect_uris = client_id, secret, redirect_uris

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile", "groups"})

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic" if endpoint == "token" else True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class _Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


class OidcProvider:
    def __init__(self, client_id: str = "vigil-test", client_secret: str | None = None):
        self.client_id, self.client_secret = client_id, client_secret or secrets.token_urlsafe(24)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self.signing_key = self.key  # a test may swap in a rogue key with the same kid
        self.redirect_uris: list[str] = []
        self.user = {"sub": "u-1", "email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace",
                     "groups": []}
        self.audience: str | None = None  # None: the client id
        self.lifetime = 600
        self.issuer_claim: str | None = None  # None: the real issuer
        self.token_requests: list[dict] = []
        self.codes: dict[str, _Code] = {}
        self._server = make_server("127.0.0.1", 0, self._build_app(), threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="oidc-provider")

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()

    def _build_app(self) -> Flask:
        peer = self
        app = Flask("oidc_provider")
        app.config["SECRET_KEY"] = secrets.token_hex(16)

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code, request):
                data = request.payload.data
                peer.codes[code] = _Code(code=code, client_id=request.client.client_id,
                                         redirect_uri=request.payload.redirect_uri, scope=request.payload.scope,
                                         user=dict(request.user), nonce=data.get("nonce"),
                                         code_challenge=data.get("code_challenge"),
                                         code_challenge_method=data.get("code_challenge_method"))

            def query_authorization_code(self, code, client):
                found = peer.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                peer.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class OpenIdExtension(OpenIDCode):
            def resolve_client_private_key(self, client):
                return peer.signing_key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": peer.signing_key.kid}

            def get_client_claims(self, client):
                return {"iss": peer.issuer_claim or peer.issuer, "aud": [peer.audience or client.client_id],
                        "exp": int(time.time()) + peer.lifetime}

            def exists_nonce(self, nonce, request):
                return any(c.nonce == nonce for c in peer.codes.values())

            def generate_user_info(self, user, scope):
                return {k: v for k, v in user.items() if k != "user_id"}

        server = AuthorizationServer(
            app, query_client=lambda cid: _Client(cid, peer.client_secret, peer.redirect_uris)
            if cid == peer.client_id else None, save_token=lambda token, request: None)
        server.register_grant(CodeGrant, [OpenIdExtension(require_nonce=True), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": peer.issuer, "authorization_endpoint": f"{peer.issuer}/authorize",
                "token_endpoint": f"{peer.issuer}/token", "jwks_uri": f"{peer.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "scopes_supported": ["openid", "email", "profile", "groups"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([peer.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize():
            return server.create_authorization_response(grant_user=peer.user)

        @app.post("/token")
        def token():
            from flask import request

            peer.token_requests.append(request.form.to_dict())
            return server.create_token_response()

        return app
