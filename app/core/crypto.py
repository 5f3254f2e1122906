"""Secrets at rest (TOTP seeds, later IdP client secrets), encrypted with a key derived from the secret key."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _fernet(purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"vigil:{purpose}".encode()).derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plaintext: str, purpose: str) -> str:
    return _fernet(purpose).encrypt(plaintext.encode()).decode()


def decrypt(token: str, purpose: str) -> str:
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted: was VIGIL_SECRET_KEY changed?") from exc


def token_digest(raw: str) -> str:
    """Digest for high-entropy tokens (API keys, links, session ids): fast lookup, useless if leaked."""
    return hashlib.sha256(raw.encode()).hexdigest()


def keyed_digest(raw: str, purpose: str) -> str:
    """Digest for low-entropy values (emails, recovery codes): keyed so a DB dump cannot be brute-forced offline."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{raw}".encode(), hashlib.sha256).hexdigest()
