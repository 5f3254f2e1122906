"""The OpenAPI 3.1 document of /api/v1, generated from app.url_map so it lists exactly what exists.

Each rule under the API prefix becomes an operation: its methods and path parameters come from
the rule, summary and description from the view's docstring, security from `@require` (mapped
to the API key scopes that grant the permission), and bodies, responses, paging and tags from
`@documented(...)` in core/api.py.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

from flask import Flask
from pydantic import BaseModel

from app.core.permissions import PERMISSIONS, ROLE_PERMISSIONS, SCOPES, required_permission

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
_RULE_ARG = re.compile(r"<(?:(?P<converter>[A-Za-z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_]\w*)>")
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}

# Error responses: the status, the component name and what it means for a client.
ERRORS = {
    400: ("BadRequest", "The request is malformed (for example, the body is not valid JSON)."),
    401: ("Unauthorized", "No credential, or one that is invalid, expired, malformed or revoked; "
                          "the message says which."),
    403: ("Forbidden", "The credential lacks the permission (or scope), or X-Tenant-ID names "
                       "another tenant."),
    404: ("NotFound", "No such route, or no such object in the credential's tenant."),
    405: ("MethodNotAllowed", "The route does not accept this method; see the Allow header."),
    409: ("Conflict", "The change conflicts with the object's current state."),
    413: ("PayloadTooLarge", "The body is larger than the server accepts."),
    415: ("UnsupportedMediaType", "The body is not sent as application/json."),
    422: ("ValidationFailed", "Some fields, or the paging parameters, are not valid; "
                              "error.details.fields lists the messages per field."),
    429: ("RateLimited", "Too many requests for this credential; wait for Retry-After seconds."),
    500: ("InternalError", "An unexpected error; quote meta.request_id when reporting it."),
}

_RATE_HEADERS = {
    "X-RateLimit-Limit": ("integer", "Requests allowed in the current window."),
    "X-RateLimit-Remaining": ("integer", "Requests left in the current window."),
    "X-RateLimit-Reset": ("integer", "When the window resets, in seconds since the Unix epoch."),
}


def build_openapi(app: Flask, *, prefix: str = "/api/v1", public_endpoints: set[str] | frozenset[str] = frozenset(),
                  title: str = "Vigil API") -> dict[str, Any]:
    """Build the document for every rule under `prefix` (HEAD and OPTIONS left out)."""
    schemas = _base_schemas()
    paths: dict[str, dict[str, Any]] = {}
    tags: set[str] = set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if not (rule.rule == prefix or rule.rule.startswith(prefix + "/")):
            continue
        view = app.view_functions[rule.endpoint]
        methods = sorted((rule.methods or set()) - _IGNORED_METHODS)
        path, parameters = _path_and_parameters(rule.rule)
        for method in methods:
            operation = _operation(view, rule.endpoint, method, len(methods) > 1, parameters,
                                   public=rule.endpoint in public_endpoints, schemas=schemas)
            tags.update(operation["tags"])
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": _version(),
            "description": (
                "Every answer is the envelope `{success, data, error, meta}`; `meta.request_id` echoes "
                "X-Request-ID. Authenticate with `Authorization: Bearer <token>`, where the token is a JWT "
                "from POST /api/v1/auth/token or an API key (`vgl_...`). The credential names the tenant."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "headers": _rate_limit_headers(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "A member's token from POST /api/v1/auth/token."},
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "vgl_ API key",
                           "description": "An API key created by an admin; its scopes grant permissions."},
            },
        },
        "tags": [{"name": tag} for tag in sorted(tags)],
    }


def _version() -> str:
    try:
        return metadata.version("vigil")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _unwrapped_attr(view: Callable, name: str):
    """Read an attribute set by a decorator anywhere in the wrapper chain."""
    while view is not None:
        if hasattr(view, name):
            return getattr(view, name)
        view = getattr(view, "__wrapped__", None)
    return None


def _path_and_parameters(rule: str) -> tuple[str, list[dict]]:
    parameters = []
    for match in _RULE_ARG.finditer(rule):
        schema = dict(_CONVERTER_SCHEMAS.get(match["converter"] or "", {"type": "string"}))
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule), parameters


def _operation(view: Callable, endpoint: str, method: str, several_methods: bool, path_parameters: list[dict],
               *, public: bool, schemas: dict) -> dict[str, Any]:
    docs = _unwrapped_attr(view, "openapi") or {}
    permission = required_permission(view)
    summary, description = _docstring(view)
    operation_id = endpoint.removeprefix("api.").replace(".", "_")
    operation: dict[str, Any] = {
        "operationId": f"{operation_id}_{method.lower()}" if several_methods else operation_id,
        "summary": summary,
        "tags": [docs.get("tag") or _default_tag(endpoint)],
        "parameters": list(path_parameters),
        "security": [] if public else _security(permission),
    }
    if permission:
        description = "\n\n".join(filter(None, [description, _permission_note(permission)]))
        operation["x-required-permission"] = permission
        operation["x-api-key-scopes"] = scopes_granting(permission)
    if description:
        operation["description"] = description
    if docs.get("paged"):
        operation["parameters"] += _paging_parameters()
    body = docs.get("body")
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _model_ref(body, schemas, mode="validation")}},
        }
    if docs.get("upload"):
        field = docs["upload"]
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [field],
            "properties": {field: {"type": "string", "format": "binary"}}}}}}
    if not operation["parameters"]:
        del operation["parameters"]
    operation["responses"] = _responses(docs, schemas, public=public,
                                        has_body=body is not None or bool(docs.get("upload")),
                                        has_path_params=bool(path_parameters))
    return operation


def _docstring(view: Callable) -> tuple[str, str]:
    doc = inspect.cleandoc(view.__doc__ or "")
    first, _, rest = doc.partition("\n")
    return first.strip() or view.__name__.replace("_", " ").capitalize(), rest.strip()


def _default_tag(endpoint: str) -> str:
    # "api.identity_api.users_me" → "identity"; a route on the base blueprint → "api"
    parts = endpoint.split(".")
    return parts[-2].removesuffix("_api") if len(parts) > 2 else "api"


def scopes_granting(permission: str) -> list[str]:
    """The API key scopes any one of which grants the permission."""
    return sorted(scope for scope, granted in SCOPES.items() if permission in granted)


def _roles_granting(permission: str) -> list[str]:
    return [role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted]


def _permission_note(permission: str) -> str:
    scopes = ", ".join(f"`{s}`" for s in scopes_granting(permission)) or "none (members only)"
    roles = ", ".join(_roles_granting(permission))
    return (f"Requires the `{permission}` permission ({PERMISSIONS[permission]}): held by the roles {roles}; "
            f"granted to API keys by the scopes {scopes}.")


def _security(permission: str | None) -> list[dict[str, list[str]]]:
    # Alternatives: a member's JWT (the role decides), or an API key with any one granting scope.
    if permission is None:
        return [{"bearerAuth": []}, {"apiKey": []}]
    return [{"bearerAuth": []}] + [{"apiKey": [scope]} for scope in scopes_granting(permission)]


def _paging_parameters() -> list[dict]:
    from app.core.api import DEFAULT_LIMIT, MAX_LIMIT

    return [
        {"name": "limit", "in": "query", "required": False, "description": "Items per page.",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "cursor", "in": "query", "required": False,
         "description": "Opaque; pass meta.next_cursor of the previous page as given.",
         "schema": {"type": "string"}},
    ]


def _model_ref(model: type[BaseModel], schemas: dict, *, mode: str) -> dict:
    schema = model.model_json_schema(ref_template=SCHEMA_REF, mode=mode)
    for name, definition in schema.pop("$defs", {}).items():
        _add_schema(schemas, name, definition)
    _add_schema(schemas, model.__name__, schema)
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


def _add_schema(schemas: dict, name: str, schema: dict) -> None:
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different API models are both named {name!r}; rename one")
    schemas[name] = schema


def _success_envelope(data: dict, *, paged: bool) -> dict:
    meta: dict[str, Any] = {"$ref": SCHEMA_REF.format(model="Meta")}
    if paged:
        meta = {"allOf": [meta, {"type": "object", "required": ["next_cursor"]}]}
    return {
        "type": "object",
        "required": ["success", "data", "error", "meta"],
        "properties": {"success": {"const": True}, "data": data, "error": {"type": "null"}, "meta": meta},
    }


def _responses(docs: dict, schemas: dict, *, public: bool, has_body: bool, has_path_params: bool
               ) -> dict[str, Any]:
    response_model = docs.get("response")
    data = _model_ref(response_model, schemas, mode="serialization") if response_model else {}
    if docs.get("paged"):
        data = {"type": "array", "items": data}
    enveloped = docs.get("enveloped", True)
    success = _success_envelope(data, paged=bool(docs.get("paged"))) if enveloped else (data or {"type": "object"})
    responses: dict[str, Any] = {
        "200": {
            "description": "The envelope with success true." if enveloped else "The document itself.",
            "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS},
            "content": {"application/json": {"schema": success}},
        }
    }
    if not enveloped and docs.get("produces"):
        # A file (download, export): its bytes as sent, in any of the media types named.
        responses["200"]["content"] = {media: {"schema": {"type": "string"}} for media in docs["produces"]}
    # Only the errors the route can answer; a service's 409 is declared with @documented(errors=...).
    statuses = {429, 500}
    if not public:
        statuses |= {401, 403}
    if has_body:
        statuses |= {400, 413, 415, 422}
    if docs.get("paged"):
        statuses.add(422)
    if has_path_params:
        statuses.add(404)
    statuses |= set(docs.get("errors") or ())
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    return responses


def _base_schemas() -> dict[str, Any]:
    return {
        "Meta": {
            "type": "object",
            "required": ["request_id"],
            "properties": {
                "request_id": {"type": "string", "description": "Echoes a sane X-Request-ID, or a new id."},
                "next_cursor": {"type": ["string", "null"],
                                "description": "On lists: the cursor of the next page, null on the last."},
            },
            "additionalProperties": True,
        },
        "Error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_failed"]},
                "message": {"type": "string"},
                "details": {"type": "object", "description": "For 422: {fields: {name: [messages]}}."},
            },
        },
        "ErrorEnvelope": {
            "type": "object",
            "required": ["success", "data", "error", "meta"],
            "properties": {
                "success": {"const": False},
                "data": {"type": "null"},
                "error": {"$ref": SCHEMA_REF.format(model="Error")},
                "meta": {"$ref": SCHEMA_REF.format(model="Meta")},
            },
        },
    }


def _error_responses() -> dict[str, Any]:
    responses = {}
    for status, (name, description) in ERRORS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model="ErrorEnvelope")}}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
                **{name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS},
            }
        elif status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        elif status == 405:
            response["headers"] = {"Allow": {"schema": {"type": "string"}}}
        responses[name] = response
    return responses


def _rate_limit_headers() -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": kind}} for name, (kind, text) in _RATE_HEADERS.items()}
