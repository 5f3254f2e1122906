"""Map domain and HTTP errors once: an envelope under /api/, a page (or fragment) elsewhere."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, current_app, g, redirect, request, url_for
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.core.db import db
from app.core.errors import DomainError, RateLimited, Unauthorized
from app.core.headers import _REQUEST_ID_RE
from app.core.ui import is_fragment_request, render

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_failed",
    429: "rate_limited", 500: "internal_error",
}

_TITLES = {
    400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed here",
    409: "Conflict", 413: "Too large", 422: "Check the form", 429: "Slow down", 500: "Something went wrong",
}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _ensure_request_id() -> None:
    # CSRF and rate-limit checks are before_request hooks registered ahead of the request-id
    # hook; an error they raise must still carry an id (the same rule as core/headers.py).
    if not g.get("request_id"):
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else secrets.token_hex(8)


def _answer(status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None):
    _ensure_request_id()
    if _is_api():
        from app.core.api import fail

        body, status = fail(status, code, message, details)
        response = body
        response.status_code = status
    else:
        template = f"errors/{status if status in (403, 404, 500) else 'error'}.html"
        response = render(template, "errors/_error.html", status=status, status_code=status,
                          title=_TITLES.get(status, "Error"), message=message)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        if isinstance(exc, Unauthorized) and not _is_api():
            if is_fragment_request():
                return "", 401, {"HX-Location": url_for("identity.login")}
            return redirect(url_for("identity.login", next=request.full_path.rstrip("?")))
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if isinstance(exc, Unauthorized):
            # RFC 6750: a credential that was sent but refused is an "invalid_token".
            sent = request.headers.get("Authorization", "").lower().startswith("bearer ")
            headers = {"WWW-Authenticate": 'Bearer realm="vigil"' + (', error="invalid_token"' if sent else "")}
        return _answer(exc.status, exc.code, exc.message, exc.details, headers)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return _answer(400, "csrf_failed",
                       "The form expired or was sent from another site. Reload the page and try again; "
                       "what you typed is still in your browser's back history.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        details = None
        if status == 429:
            headers["Retry-After"] = str(getattr(exc, "retry_after", None) or 60)
            message = "Too many requests. Wait a moment and try again."
            if isinstance(exc, RateLimitExceeded):
                details = {"limit": str(exc.limit.limit)}
        elif status == 404:
            message = "There is nothing at this address."
        elif status == 405:
            allowed = sorted(getattr(exc, "valid_methods", None) or [])
            headers["Allow"] = ", ".join(allowed)
            usable = [m for m in allowed if m not in {"HEAD", "OPTIONS"}]
            message = f"This address does not accept {request.method}; use {' or '.join(usable)}."
        elif status == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            message = f"The body is too large; the limit is {limit} bytes." if limit else "The body is too large."
        else:
            message = exc.description or _TITLES.get(status, "Error")
        return _answer(status, _HTTP_CODES.get(status, "error"), message, details, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error (request %s)", g.get("request_id"))
        return _answer(500, "internal_error", f"An unexpected error happened. Reference: {g.get('request_id')}.")
