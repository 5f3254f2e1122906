"""Request ids and the security headers every response carries."""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "manifest-src 'self'",
    "worker-src 'self'",
])

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def init_app(app: Flask, *, https: bool) -> None:
    @app.before_request
    def _request_id() -> None:
        # Echo a caller's id when it is sane, so logs can be joined across services.
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else secrets.token_hex(8)

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"
        h["X-Frame-Options"] = "DENY"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if https:
            h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if "X-Request-ID" not in h and g.get("request_id"):
            h["X-Request-ID"] = g.request_id
        if request.endpoint != "static" and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"  # pages hold sensitive data: never cached
        return response
