"""The SCIM 2.0 service at /scim/v2: the bearer token picks the tenant; answers are application/scim+json."""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, request, url_for
from werkzeug.exceptions import HTTPException

from app.core.actors import client_ip
from app.core.db import db
from app.core.errors import Conflict, DomainError, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import reset_request_tenant, set_request_tenant
from app.scim import discovery, groups, users
from app.scim.errors import ScimError, invalid_syntax, invalid_value, not_found
from app.scim.filters import matches, parse_filter
from app.scim.resources import list_response, render_group, render_user
from app.scim.tokens import authenticate_scim_token

log = logging.getLogger(__name__)
bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

CONTENT_TYPE = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
DEFAULT_COUNT = 100


# --- plumbing --------------------------------------------------------------------------------


def scim_response(body: dict | None, status: int = 200, headers: dict | None = None) -> Response:
    text = "" if body is None else json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, headers=headers, mimetype=None if body is None else CONTENT_TYPE)


def _error(status: int, detail: str, scim_type: str | None = None, headers: dict | None = None) -> Response:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return scim_response(body, status, headers)


def _base() -> str:
    return url_for("scim.service_provider_config", _external=True).rsplit("/", 1)[0]


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@bp.before_request
def _authenticate():
    g.actor = authenticate_scim_token(_bearer(), client_ip())
    g.scim_tenant_token = set_request_tenant(g.actor.tenant)


@bp.teardown_request
def _reset_tenant(_exc):
    token = g.pop("scim_tenant_token", None)
    if token is not None:
        reset_request_tenant(token)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    if isinstance(exc, ScimError):
        return _error(exc.status, exc.message, exc.scim_type, exc.headers)
    if exc.status == 401:
        sent = _bearer() is not None
        return _error(401, exc.message, headers={
            "WWW-Authenticate": 'Bearer realm="vigil-scim"' + (', error="invalid_token"' if sent else "")})
    if isinstance(exc, ValidationFailed):
        return _error(400, exc.message, "invalidValue")
    # A Conflict from the member rules (the tenant's last admin) is not a uniqueness clash.
    return _error(409 if isinstance(exc, Conflict) else exc.status, exc.message)


@bp.errorhandler(sa.exc.IntegrityError)
def _race(_exc: sa.exc.IntegrityError):
    # Two requests creating the same userName or group name at once: the database's unique
    # constraint is the last word, and the loser gets the same answer as a sequential duplicate.
    db.session.rollback()
    return _error(409, "A resource with that userName or displayName was just created.", "uniqueness")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    db.session.rollback()
    log.exception("SCIM request failed (request %s)", g.get("request_id"))
    return _error(500, f"An unexpected error happened. Reference: {g.get('request_id')}.")


def _body() -> object:
    if request.mimetype not in (CONTENT_TYPE, "application/json"):
        raise ScimError(415, f"Send the body as {CONTENT_TYPE} (or application/json).")
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise invalid_syntax("The request body is not valid JSON.")


class ListParams:
    """filter, startIndex, count, attributes, excludedAttributes: from the query string, or a .search body."""

    def __init__(self, source: dict):
        self.source = {k.lower(): v for k, v in source.items()}
        self.conditions = parse_filter(self._text("filter"))
        self.start = max(1, self._number("startindex", 1))  # RFC 7644 §3.4.2.4: clamp, do not refuse
        self.count = min(max(0, self._number("count", DEFAULT_COUNT)), discovery.MAX_RESULTS)

    def _text(self, name: str) -> str | None:
        value = self.source.get(name)
        if isinstance(value, list):  # a .search body lists attributes
            value = ",".join(str(v) for v in value)
        return None if value is None else str(value)

    def _number(self, name: str, default: int) -> int:
        raw = self._text(name)
        try:
            return int(raw) if raw and raw.strip() else default
        except ValueError:
            raise invalid_value(f"“{name}” must be a whole number.")

    def names(self, name: str) -> set[str]:
        return {a.strip().lower() for a in (self._text(name) or "").split(",") if a.strip()}

    def page(self, items: list) -> list:
        return items[self.start - 1:self.start - 1 + self.count]

    def first(self, path: str) -> str | None:
        return next((c.value for c in self.conditions if c.path == path and isinstance(c.value, str)), None)


def _params() -> ListParams:
    if request.method == "POST":  # /.search (RFC 7644 §3.4.3)
        body = _body()
        if not isinstance(body, dict):
            raise invalid_value("The body must be a SearchRequest object.")
        return ListParams(body)
    return ListParams(request.args.to_dict())


def _project(resource: dict, params: ListParams) -> dict:
    """attributes / excludedAttributes on top-level names and `parent.sub`; id and schemas always stay."""
    wanted, excluded = params.names("attributes"), params.names("excludedattributes")
    keep = {"id", "schemas", "meta"}
    out = {}
    for key, value in resource.items():
        low = key.lower()
        if low not in keep and wanted and low not in wanted and not any(w.startswith(low + ".") for w in wanted):
            continue
        if low in excluded and low not in keep:
            continue
        if isinstance(value, dict):
            subs = {k: v for k, v in value.items() if f"{low}.{k.lower()}" not in excluded}
            partial = {w.split(".", 1)[1] for w in wanted if w.startswith(low + ".")}
            if partial and low not in wanted:
                subs = {k: v for k, v in subs.items() if k.lower() in partial}
            value = subs
        out[key] = value
    return out


def _created(resource: dict) -> Response:
    return scim_response(resource, 201, {"Location": resource["meta"]["location"]})


# --- discovery -------------------------------------------------------------------------------


@bp.get("/ServiceProviderConfig")
@require("member:read")
def service_provider_config():
    return scim_response(discovery.service_provider_config(_base(), url_for("home.dashboard", _external=True)))


@bp.get("/ResourceTypes")
@require("member:read")
def resource_types():
    found = discovery.resource_types(_base())
    return scim_response(list_response(found, total=len(found), start_index=1))


@bp.get("/ResourceTypes/<name>")
@require("member:read")
def resource_type(name: str):
    found = next((rt for rt in discovery.resource_types(_base()) if rt["id"] == name), None)
    if found is None:
        raise not_found(f"No resource type “{name}”.")
    return scim_response(found)


@bp.get("/Schemas")
@require("member:read")
def schemas():
    found = discovery.schemas(_base())
    return scim_response(list_response(found, total=len(found), start_index=1))


@bp.get("/Schemas/<path:schema_id>")
@require("member:read")
def schema(schema_id: str):
    found = next((s for s in discovery.schemas(_base()) if s["id"] == schema_id), None)
    if found is None:
        raise not_found(f"No schema “{schema_id}”.")
    return scim_response(found)


# --- Users -----------------------------------------------------------------------------------


def _user_resource(user, user_groups=None) -> dict:
    return render_user(user, _base(), groups.groups_of(user) if user_groups is None else user_groups)


@bp.get("/Users")
@bp.post("/Users/.search")
@require("member:read")
def list_users():
    params = _params()
    if params.conditions:
        candidates = users.find_users(user_name=params.first("username"), external_id=params.first("externalid"))
        needs_groups = any(c.path.startswith("groups") for c in params.conditions)
        base = _base()
        hits = [u for u in candidates
                if matches(render_user(u, base, groups.groups_of(u) if needs_groups else None), params.conditions)]
        page, total = params.page(hits), len(hits)
    else:  # the full list, paged in SQL: an IdP's import walks it 100 at a time
        page, total = users.users_page(offset=params.start - 1, limit=params.count), users.count_users()
    by_user = groups.groups_by_user([u.id for u in page])
    found = [_project(_user_resource(u, by_user[u.id]), params) for u in page]
    return scim_response(list_response(found, total=total, start_index=params.start))


@bp.post("/Users")
@require("member:write")
def create_user():
    return _created(_user_resource(users.create_user(_body(), actor=g.actor)))


@bp.get("/Users/<public_id>")
@require("member:read")
def get_user(public_id: str):
    return scim_response(_project(_user_resource(users.get_user(public_id)), _params()))


@bp.put("/Users/<public_id>")
@require("member:write")
def replace_user(public_id: str):
    return scim_response(_user_resource(users.replace_user(users.get_user(public_id), _body(), actor=g.actor)))


@bp.patch("/Users/<public_id>")
@require("member:write")
def patch_user(public_id: str):
    return scim_response(_user_resource(users.patch_user(users.get_user(public_id), _body(), actor=g.actor)))


@bp.delete("/Users/<public_id>")
@require("member:write")
def delete_user(public_id: str):
    users.delete_user(users.get_user(public_id), actor=g.actor)
    return scim_response(None, 204)


# --- Groups ----------------------------------------------------------------------------------


def _group_resource(group, *, with_members: bool = True) -> dict:
    return render_group(group, _base(), groups.member_refs(group) if with_members else None)


@bp.get("/Groups")
@bp.post("/Groups/.search")
@require("member:read")
def list_groups():
    params = _params()
    candidates = groups.list_groups(display_name=params.first("displayname"))
    needs_members = any(c.path.startswith("members") for c in params.conditions)
    hits = [grp for grp in candidates if not params.conditions
            or matches(_group_resource(grp, with_members=needs_members), params.conditions)]
    with_members = "members" not in params.names("excludedattributes")
    found = [_project(_group_resource(grp, with_members=with_members), params) for grp in params.page(hits)]
    return scim_response(list_response(found, total=len(hits), start_index=params.start))


@bp.post("/Groups")
@require("member:write")
def create_group():
    return _created(_group_resource(groups.create_group(_body(), actor=g.actor)))


@bp.get("/Groups/<public_id>")
@require("member:read")
def get_group(public_id: str):
    params = _params()
    group = groups.get_group(public_id)
    return scim_response(_project(_group_resource(group, with_members="members" not in params.names(
        "excludedattributes")), params))


@bp.put("/Groups/<public_id>")
@require("member:write")
def replace_group(public_id: str):
    return scim_response(_group_resource(groups.replace_group(groups.get_group(public_id), _body(), actor=g.actor)))


@bp.patch("/Groups/<public_id>")
@require("member:write")
def patch_group(public_id: str):
    group = groups.patch_group(groups.get_group(public_id), _body(), actor=g.actor)
    return scim_response(_group_resource(group))


@bp.delete("/Groups/<public_id>")
@require("member:write")
def delete_group(public_id: str):
    groups.delete_group(groups.get_group(public_id), actor=g.actor)
    return scim_response(None, 204)


@bp.post("/.search")
@require("member:read")
def search_all():
    """Search every resource type at once (RFC 7644 §3.4.3): Users, then Groups."""
    params = _params()
    hits = [_user_resource(u) for u in users.list_users()] + [_group_resource(grp) for grp in groups.list_groups()]
    hits = [r for r in hits if matches(r, params.conditions)]
    found = [_project(r, params) for r in params.page(hits)]
    return scim_response(list_response(found, total=len(hits), start_index=params.start))


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@require("member:read")
def unknown_endpoint(unknown: str):
    # This catch-all also matches a known path with a method it does not take: answer 405 then.
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "scim.unknown_endpoint":
            allowed.append(method)
    if allowed:
        raise ScimError(405, f"/{unknown} does not accept {request.method}; use {' or '.join(allowed)}.",
                        headers={"Allow": ", ".join(allowed)})
    raise not_found(f"There is no SCIM endpoint /{unknown}; see /ResourceTypes.")
