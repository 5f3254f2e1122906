"""TOTP (RFC 6238) with replay protection, QR codes as SVG, and one-time recovery codes."""

from __future__ import annotations

import secrets
import time

import pyotp
import segno

ISSUER = "Vigil"
RECOVERY_CODE_COUNT = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    # A data: URI in <img>, so the CSP needs no inline style for an <svg> element.
    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#111", light="#fff")


def matching_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step the code belongs to (±1 step of drift), or None; a step already used is refused."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return None if (last_step is not None and step <= last_step) else step
    return None


def new_recovery_codes() -> list[str]:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def normalise_recovery_code(code: str) -> str:
    code = "".join(code.lower().split()).replace("-", "")
    return f"{code[:5]}-{code[5:]}" if len(code) == 10 else code
