"""A real SAML 2.0 IdP for the tests: pysaml2's Server signing assertions with xmlsec1.

It generates its own RSA key and self-signed certificate, publishes metadata, answers an
HTTP-Redirect AuthnRequest with a signed Response (an HTML form that posts to the SP's ACS,
as real IdPs do), and hands tests base64 responses to post — or to tamper with first.
"""

from __future__ import annotations

import base64
import html
import shutil
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
OTHER_SP = "https://other-service.example/saml/metadata"


def make_key_and_cert(common_name: str, *, days: int = 365, expired: bool = False) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=400), now - timedelta(days=35)) if expired else (now - timedelta(days=1),
                                                                                        now + timedelta(days=days))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()),
            cert.public_bytes(serialization.Encoding.PEM))


class SamlIdp:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-saml-idp-"))
        self.key_pem, self.cert_pem = make_key_and_cert("Test IdP signing")
        (self.dir / "idp.key").write_bytes(self.key_pem)
        (self.dir / "idp.crt").write_bytes(self.cert_pem)
        self._http = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._http.server_port}"
        self.entity_id = f"{self.base}/idp"
        self.sp_metadata: list[str] = []
        self.user = {"email": "grace@example.org", "name": "Grace Hopper", "groups": ["soc-analysts"]}
        self.attribute_names = {"email": "email", "name": "displayName", "groups": "groups"}
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True, name="saml-idp")

    def start(self) -> SamlIdp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._thread.join(timeout=10)
        self._http.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self, *, lifetime_minutes: int = 5, key_file: str | None = None,
               cert_file: str | None = None) -> IdPConfig:
        conf = IdPConfig()
        conf.load({
            "entityid": self.entity_id,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(f"{self.base}/sso", BINDING_HTTP_REDIRECT)],
                              "single_logout_service": [(f"{self.base}/slo", BINDING_HTTP_REDIRECT)]},
                "policy": {"default": {"lifetime": {"minutes": lifetime_minutes}, "attribute_restrictions": None}},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            }},
            "key_file": key_file or str(self.dir / "idp.key"),
            "cert_file": cert_file or str(self.dir / "idp.crt"),
            "xmlsec_binary": XMLSEC1,
            "metadata": {"inline": self.sp_metadata} if self.sp_metadata else {},
            "allow_unknown_attributes": True,
        })
        return conf

    def server(self, **options) -> Server:
        return Server(config=self.config(**options))

    def metadata_xml(self) -> str:
        xml = create_metadata_string(None, config=self.config(), valid=None)
        return xml.decode() if isinstance(xml, bytes) else xml

    def trust_sp(self, sp_metadata_xml: str) -> None:
        """Load our SP's metadata, plus a second SP's, for issuing to the wrong audience."""
        self.sp_metadata = [sp_metadata_xml, sp_metadata_xml.replace(_entity_id(sp_metadata_xml), OTHER_SP)]

    def response(self, *, acs: str, audience: str, in_response_to: str | None = None, sign_assertion: bool = True,
                 sign_response: bool = False, lifetime_minutes: int = 5, user: dict | None = None,
                 server: Server | None = None) -> str:
        """A base64 SAMLResponse as the IdP would POST it."""
        user = user or self.user
        identity = {self.attribute_names["email"]: [user["email"]], self.attribute_names["name"]: [user["name"]],
                    self.attribute_names["groups"]: list(user.get("groups", []))}
        idp = server or self.server(lifetime_minutes=lifetime_minutes)
        resp = idp.create_authn_response(
            identity, in_response_to, acs, audience,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["email"]),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=sign_assertion, sign_response=sign_response, sign_alg=RSA_SHA256, digest_alg=SHA256)
        return base64.b64encode(str(resp).encode()).decode()

    # --- HTTP: metadata and the HTTP-Redirect SSO endpoint --------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        if request.path == "/metadata":
            res = Response(self.metadata_xml(), mimetype="application/samlmetadata+xml")
        elif request.path == "/sso":
            res = self._sso(request)
        else:
            res = Response("not found", status=404)
        return res(environ, start_response)

    def _sso(self, request: Request) -> Response:
        idp = self.server()
        parsed = idp.parse_authn_request(request.args["SAMLRequest"], BINDING_HTTP_REDIRECT)
        authn = parsed.message
        acs = authn.assertion_consumer_service_url
        saml_response = self.response(acs=acs, audience=authn.issuer.text, in_response_to=authn.id, server=idp)
        relay = request.args.get("RelayState", "")
        page = f"""<!doctype html><html><head><title>Test IdP</title></head>
<body><h1>Test IdP: signed in as {html.escape(self.user['email'])}</h1>
<form method="post" action="{html.escape(acs)}" id="post">
<input type="hidden" name="SAMLResponse" value="{saml_response}">
<input type="hidden" name="RelayState" value="{html.escape(relay)}">
<button type="submit">Continue to the service</button></form>
<script>document.getElementById("post").submit()</script></body></html>"""
        return Response(page, mimetype="text/html")


def _entity_id(xml: str) -> str:
    start = xml.index('entityID="') + len('entityID="')
    return xml[start:xml.index('"', start)]


__all__ = ["OTHER_SP", "SamlIdp", "make_key_and_cert", "BINDING_HTTP_POST"]
