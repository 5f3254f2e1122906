"""The /api/v1 base: credential → actor and tenant, the envelope, cursor paging, rate limits."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.core import audit
from app.core.actors import Actor, client_ip
from app.core.crypto import token_digest
from app.core.db import db
from app.core.errors import Forbidden, Unauthorized, ValidationFailed
from app.core.tenancy import reset_request_tenant, set_request_tenant
from app.extensions import limiter

M = TypeVar("M", bound=BaseModel)

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

# Routes that answer without a credential (their own checks apply).
PUBLIC_ENDPOINTS = {"api.openapi", "api.identity_api.create_token"}


# --- envelope ------------------------------------------------------------------------------


def envelope(data: Any = None, *, status: int = 200, error: dict | None = None, **meta):
    meta = {"request_id": g.get("request_id"), **meta}
    body = {"success": error is None, "data": data, "error": error, "meta": meta}
    return jsonify(body), status


def ok(data: Any = None, *, status: int = 200, **meta):
    return envelope(data, status=status, **meta)


def fail(status: int, code: str, message: str, details: dict | None = None):
    return envelope(None, status=status, error={"code": code, "message": message, "details": details or {}})


# --- request parsing -----------------------------------------------------------------------


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against a pydantic model: 415 if not JSON, 400 if unparseable, 422 per field."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    try:
        payload = request.get_json()
    except BadRequest:
        raise BadRequest("The request body is not valid JSON.")
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        fields: dict[str, list[str]] = {}
        for err in exc.errors():
            fields.setdefault(".".join(str(p) for p in err["loc"]) or "_", []).append(err["msg"])
        raise ValidationFailed(fields)


def uploaded_file(field: str = "file") -> FileStorage:
    """The one file of a multipart/form-data upload: 415 for another body, 422 when the part or its name is missing."""
    if not request.mimetype.startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"Send the file as multipart/form-data in a field named {field}.")
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise ValidationFailed({field: [f"Send the file in a multipart field named {field}, with a filename."]})
    return upload


def documented(*, body: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
               paged: bool = False, tag: str | None = None, errors: tuple[int, ...] = (),
               enveloped: bool = True, upload: str | None = None, produces: tuple[str, ...] = ()) -> Callable:
    """Attach what the OpenAPI generator cannot read from the route itself.

    `response` is the model of `data` (of each item when `paged`); `errors` adds error statuses the
    generator cannot infer (a 409 from a service, a public route that still answers 401);
    `enveloped=False` marks the rare route whose success body is not the envelope, and `produces`
    names its media types (a file download, an export); `upload="file"` documents a
    multipart/form-data body carrying one file in that field.
    """

    def decorator(view: Callable) -> Callable:
        view.openapi = {"body": body, "response": response, "paged": paged, "tag": tag, "errors": errors,
                        "enveloped": enveloped, "upload": upload, "produces": produces}
        return view

    return decorator


# --- cursor pagination ---------------------------------------------------------------------


def _decode_cursor(cursor: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(value["k"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed({"cursor": ["The cursor is not valid; use meta.next_cursor as given."]})


def _encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": key}).encode()).decode().rstrip("=")


def page_limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed({"limit": [f"Use a whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


def paginate(stmt: sa.Select, key_column, *, limit: int, cursor: str | None = None) -> tuple[list, str | None]:
    """Keyset paging on a unique integer column, newest first: no OFFSET scans on big tables."""
    if cursor:
        stmt = stmt.where(key_column < _decode_cursor(cursor))
    rows = list(db.session.scalars(stmt.order_by(key_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(getattr(rows[-1], key_column.key)) if more and rows else None)


# --- authentication ------------------------------------------------------------------------


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate_request() -> Actor:
    from app.identity.api_keys import KEY_PREFIX, authenticate_api_key
    from app.identity.tokens import authenticate_token

    credential = _bearer()
    if credential is None:
        raise Unauthorized("Send Authorization: Bearer <token or API key>.")
    if credential.startswith(KEY_PREFIX):
        return authenticate_api_key(credential, client_ip())
    return authenticate_token(credential, client_ip())


@api_bp.before_request
def _load_actor():
    g.api = True
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    actor = authenticate_request()
    asked = request.headers.get("X-Tenant-ID")
    if asked and asked not in (actor.tenant.public_id, actor.tenant.slug):
        audit.record("api.tenant_mismatch", actor=actor, after={"asked": asked[:80]})
        db.session.commit()
        raise Forbidden("The credential is not valid for the tenant named in X-Tenant-ID.")
    g.actor = actor
    g.tenant_token = set_request_tenant(actor.tenant)
    return None


@api_bp.teardown_request
def _reset_tenant(_exc):
    token = g.pop("tenant_token", None)
    if token is not None:
        reset_request_tenant(token)


@api_bp.get("/openapi.json")
@documented(tag="meta", enveloped=False)
def openapi():
    """This document: OpenAPI 3.1, generated from the routes that exist.

    The one success answer that is not the envelope: tools read the document as it is.
    """
    from app.core.openapi import build_openapi

    # Built once per app: routes cannot be added after the first request.
    spec = current_app.extensions.get("vigil_openapi")
    if spec is None:
        spec = current_app.extensions["vigil_openapi"] = build_openapi(
            current_app, prefix=api_bp.url_prefix, public_endpoints=PUBLIC_ENDPOINTS)
    return jsonify(spec)


# --- rate limits ---------------------------------------------------------------------------


def _rate_key() -> str:
    """One bucket per member (not per token: minting tokens must not buy requests), per API key, or per IP."""
    from app.identity.tokens import token_subject

    credential = _bearer()
    if not credential:
        return f"ip:{client_ip()}"
    subject = token_subject(credential)
    return f"user:{subject}" if subject else f"cred:{token_digest(credential)}"


def _rate_limit() -> str:
    from app.identity.api_keys import KEY_PREFIX

    settings = current_app.extensions["vigil_settings"]
    credential = _bearer() or ""
    return settings.api_key_rate if credential.startswith(KEY_PREFIX) else settings.api_user_rate


# A shared limit: one bucket across every route of the API, nested domain blueprints included
# (a plain blueprint limit would count each endpoint separately).
limiter.shared_limit(_rate_limit, scope="api", key_func=_rate_key)(api_bp)
