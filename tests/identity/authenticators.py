"""Real authenticators for tests: a software WebAuthn authenticator (EC P-256) and TOTP enrolment.

`SoftAuthenticator` builds authenticatorData, clientDataJSON and attestation objects byte by byte
and signs with `cryptography`, so the server's py_webauthn verification runs on real signatures.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass, field

import cbor2
import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from app.core.actors import system_actor
from app.core.tenancy import tenant_context
from app.identity import services

ORIGIN = "http://localhost"
RP_ID = "localhost"

FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40


@dataclass
class SoftAuthenticator:
    """One credential on a pretend device. Flip `user_verified`, `backed_up` or `sign_count` to misbehave."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_verified: bool = True
    backup_eligible: bool = True
    backed_up: bool = True
    user_handle: bytes | None = None
    rp_id: str = RP_ID

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _flags(self, attested: bool) -> int:
        flags = FLAG_UP | (FLAG_UV if self.user_verified else 0)
        flags |= (FLAG_BE if self.backup_eligible else 0) | (FLAG_BS if self.backed_up else 0)
        return flags | (FLAG_AT if attested else 0)

    def authenticator_data(self, attested: bool = False) -> bytes:
        data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([self._flags(attested)])
        data += struct.pack(">I", self.sign_count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        return data

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def create(self, options: dict, origin: str = ORIGIN) -> dict:
        """What navigator.credentials.create() gives the page, as PublicKeyCredential.toJSON()."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = self.client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": self.authenticator_data(True)})
        return {"id": self.id, "rawId": self.id, "type": "public-key", "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": bytes_to_base64url(client_data),
                             "attestationObject": bytes_to_base64url(attestation), "transports": ["internal"]}}

    def get(self, options: dict, origin: str = ORIGIN, *, count_up: bool = True) -> dict:
        """What navigator.credentials.get() gives the page: a signed assertion over the challenge."""
        if count_up:
            self.sign_count += 1
        auth_data = self.authenticator_data()
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        response = {"clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data), "signature": bytes_to_base64url(signature)}
        if self.user_handle is not None:
            response["userHandle"] = bytes_to_base64url(self.user_handle)
        return {"id": self.id, "rawId": self.id, "type": "public-key", "authenticatorAttachment": "platform",
                "clientExtensionResults": {}, "response": response}


def enrol_totp(membership) -> pyotp.TOTP:
    """Turn on TOTP for a member through the services; returns the TOTP for later codes."""
    with tenant_context(membership.tenant):
        secret = services.begin_totp_enrolment(membership.user)
        services.confirm_totp_enrolment(membership.user, pyotp.TOTP(secret).now(),
                                        actor=system_actor(membership.tenant, "test"))
    return pyotp.TOTP(secret)


def next_code(totp: pyotp.TOTP) -> str:
    """A code for the next time step: the current one was used at enrolment and steps never repeat."""
    return totp.at(time.time() + 30)
