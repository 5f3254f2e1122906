"""The OpenAPI 3.1 document: valid, generated from the routes, and true to what the API answers."""

from __future__ import annotations

import re

import jsonschema
import pytest
from flask import Blueprint
from openapi_spec_validator import validate

from app.core.api import PUBLIC_ENDPOINTS, documented
from app.core.permissions import SCOPES, require, required_permission
from tests import factories
from tests.api.conftest import bearer, get_token

PREFIX = "/api/v1"


@pytest.fixture
def spec(app):
    res = app.test_client().get(f"{PREFIX}/openapi.json")  # public: no credential
    assert res.status_code == 200
    assert res.content_type == "application/json"
    return res.json


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _api_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX)]


def _openapi_path(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)



def test_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema, unresolvable $refs included


def test_lists_exactly_the_api_routes_in_the_url_map(app, spec):
    expected = set()
    for rule in _api_rules(app):
        path = _openapi_path(rule)
        expected |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented_ops = {(path, method) for path, method, _op in _operations(spec)}
    assert documented_ops == expected
    assert all(path.startswith(PREFIX) for path in spec["paths"])
    assert ("/api/v1/users", "GET") in documented_ops
    assert ("/api/v1/users/{user_id}", "GET") in documented_ops


def test_operations_carry_docstring_tags_and_unique_ids(app, spec):
    by_path = {(p, m): op for p, m, op in _operations(spec)}
    users = by_path[("/api/v1/users", "GET")]
    assert users["summary"] == app.view_functions["api.identity_api.users_list"].__doc__.strip().splitlines()[0]
    assert users["tags"] == ["users"]
    token = by_path[("/api/v1/auth/token", "POST")]
    assert token["tags"] == ["auth"]
    assert "API key" in token["description"]  # the docstring's body
    ids = [op["operationId"] for _p, _m, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert {t["name"] for t in spec["tags"]} == {t for _p, _m, op in _operations(spec) for t in op["tags"]}


def test_path_parameters(spec):
    op = spec["paths"]["/api/v1/users/{user_id}"]["get"]
    assert op["parameters"] == [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    assert "404" in op["responses"]


def test_security_follows_required_permission_and_scopes(app, spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                     "description": schemes["bearerAuth"]["description"]}
    assert schemes["apiKey"]["type"] == "http" and schemes["apiKey"]["scheme"] == "bearer"
    # By path and method: one path can have routes needing different permissions (GET reads, POST writes).
    rules = {(_openapi_path(r), m): r for r in _api_rules(app) for m in r.methods}
    for path, method, op in _operations(spec):
        endpoint = rules[path, method].endpoint
        permission = required_permission(app.view_functions[endpoint])
        if endpoint in PUBLIC_ENDPOINTS:
            assert op["security"] == [], path
            assert "401" not in op["responses"] or endpoint == "api.identity_api.create_token"
            continue
        assert {"bearerAuth": []} in op["security"], path
        assert op.get("x-required-permission") == permission, path
        if permission:
            granting = sorted(s for s, perms in SCOPES.items() if permission in perms)
            assert op["x-api-key-scopes"] == granting
            assert [s for s in op["security"] if "apiKey" in s] == [{"apiKey": [s]} for s in granting]
            assert f"`{permission}`" in op["description"]
        assert {"401", "403"} <= set(op["responses"]), path
    users = spec["paths"]["/api/v1/users"]["get"]
    assert users["security"] == [{"bearerAuth": []}, {"apiKey": ["users:read"]}]


def test_request_body_schema_comes_from_the_pydantic_model(spec):
    body = spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/TokenRequest"
    model = spec["components"]["schemas"]["TokenRequest"]
    assert set(model["required"]) == {"email", "password", "tenant"}
    assert model["properties"]["tenant"]["maxLength"] == 63
    assert {"400", "413", "415", "422"} <= set(spec["paths"]["/api/v1/auth/token"]["post"]["responses"])


def test_nested_models_land_in_components(spec):
    me = spec["components"]["schemas"]["MeOut"]
    assert "$defs" not in me
    refs = str(me)
    for name in ("TenantOut", "MeUser", "MeApiKey"):
        assert f"#/components/schemas/{name}" in refs
        assert name in spec["components"]["schemas"]


def test_paged_routes_document_limit_and_cursor(spec):
    op = spec["paths"]["/api/v1/users"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"]["in"] == "query" and params["limit"]["schema"]["maximum"] == 200
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["cursor"]["schema"] == {"type": "string"}
    data = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data == {"type": "array", "items": {"$ref": "#/components/schemas/MemberOut"}}
    assert "limit" not in str(spec["paths"]["/api/v1/users/me"]["get"].get("parameters", []))


def test_error_responses_use_the_envelope(spec):
    responses = spec["components"]["responses"]
    for status, name in [(400, "BadRequest"), (401, "Unauthorized"), (403, "Forbidden"), (404, "NotFound"),
                         (409, "Conflict"), (422, "ValidationFailed"), (429, "RateLimited")]:
        schema = responses[name]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, status
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
        responses["RateLimited"]["headers"])
    for _path, _method, op in _operations(spec):
        assert "429" in op["responses"]


def _validator(spec, path, method, status="200"):
    operation = spec["paths"][path][method]
    response = operation["responses"][status]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_real_answers_match_the_documented_schemas(client, spec, tenant_a):
    member = factories.make_member(tenant_a, role="admin")
    res = client.post("/api/v1/auth/token", json={"email": member.user.email, "password": factories.PASSWORD,
                                                  "tenant": tenant_a.slug})
    _validator(spec, "/api/v1/auth/token", "post").validate(res.json)
    token = res.json["data"]["access_token"]
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    for credential in (token, raw):
        _validator(spec, "/api/v1/users/me", "get").validate(
            client.get("/api/v1/users/me", headers=bearer(credential)).json)
    listed = client.get("/api/v1/users?limit=1", headers=bearer(raw)).json
    _validator(spec, "/api/v1/users", "get").validate(listed)
    one = client.get(f"/api/v1/users/{member.user.public_id}", headers=bearer(raw)).json
    _validator(spec, "/api/v1/users/{user_id}", "get").validate(one)
    for bad, status in [(client.get("/api/v1/users"), "401"),
                        (client.get("/api/v1/users?limit=0", headers=bearer(raw)), "422")]:
        _validator(spec, "/api/v1/users", "get", status).validate(bad.json)
    with pytest.raises(jsonschema.ValidationError):  # the schemas do constrain
        _validator(spec, "/api/v1/users", "get").validate({**listed, "data": [{"id": 1}]})


def _extra_routes(new_app):
    bp = Blueprint("api_doc_probe", __name__, url_prefix="/api/v1/_probe")

    @bp.route("/cases/<int:number>/notes", methods=["GET", "POST"])
    @require("case:write")
    @documented(tag="cases", errors=(409,))
    def case_notes(number: int):
        """Notes on a case.

        Second paragraph.
        """
        return {}

    new_app.register_blueprint(bp)

    @new_app.get("/not-api/thing")
    def not_api():
        return "x"


def test_a_new_route_appears_with_its_converter_and_methods(make_app):
    probe = make_app(setup=_extra_routes)
    spec = probe.test_client().get(f"{PREFIX}/openapi.json").json
    validate(spec)
    item = spec["paths"]["/api/v1/_probe/cases/{number}/notes"]
    assert set(item) == {"get", "post"}
    assert item["get"]["operationId"] != item["post"]["operationId"]
    assert item["post"]["parameters"][0]["schema"] == {"type": "integer"}
    assert item["post"]["summary"] == "Notes on a case."
    assert item["post"]["description"].startswith("Second paragraph.")
    assert item["post"]["x-api-key-scopes"] == ["cases:write"]
    assert "409" in item["post"]["responses"]
    assert not any(p.startswith("/not-api") for p in spec["paths"])


def test_document_is_public_but_rate_limited(client, tenant_a):
    member = factories.make_member(tenant_a)
    token = get_token(client, member.user.email, tenant_a)
    res = client.get(f"{PREFIX}/openapi.json", headers=bearer(token))
    assert res.status_code == 200
    assert "X-RateLimit-Limit" in res.headers
