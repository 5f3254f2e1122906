"""Every API answer is the envelope, with the right status, and carries the request id."""

from __future__ import annotations

import uuid

import pytest
from flask import Blueprint

from app.core.errors import Conflict
from tests import factories
from tests.api.conftest import assert_error, bearer


@pytest.fixture
def reader_key(tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    return raw


def test_success_envelope_and_request_id_echo(client, reader_key):
    res = client.get("/api/v1/users/me", headers=bearer(reader_key, **{"X-Request-ID": "trace-42.a_b"}))
    assert res.status_code == 200
    assert res.content_type == "application/json"
    body = res.json
    assert set(body) == {"success", "data", "error", "meta"}
    assert body["success"] is True and body["error"] is None
    assert body["data"]["kind"] == "api_key"
    assert res.headers["X-Request-ID"] == "trace-42.a_b"
    assert body["meta"]["request_id"] == "trace-42.a_b"


@pytest.mark.parametrize("sent", [None, "", "has spaces", "x" * 65, "semi;colon", "<script>"])
def test_request_id_is_generated_when_missing_or_not_sane(client, reader_key, sent):
    headers = bearer(reader_key) if sent is None else bearer(reader_key, **{"X-Request-ID": sent})
    res = client.get("/api/v1/users/me", headers=headers)
    generated = res.headers["X-Request-ID"]
    assert generated and generated != sent
    assert res.json["meta"]["request_id"] == generated
    again = client.get("/api/v1/users/me", headers=headers)
    assert again.headers["X-Request-ID"] != generated  # one id per request


def test_400_malformed_json(client, tenant_a):
    res = client.post("/api/v1/auth/token", data='{"email": "a@b.c", "password": ', content_type="application/json",
                      headers={"X-Request-ID": "req-400"})
    error = assert_error(res, 400, "bad_request")
    assert "not valid JSON" in error["message"]
    assert res.json["meta"]["request_id"] == "req-400"


def test_415_body_not_sent_as_json(client, tenant_a):
    res = client.post("/api/v1/auth/token", data={"email": "a@b.c", "password": "x", "tenant": "tenant-a"})
    error = assert_error(res, 415, "unsupported_media_type")
    assert "application/json" in error["message"]


def test_401_without_credential(client):
    res = client.get("/api/v1/users")
    error = assert_error(res, 401, "unauthorized")
    assert "Authorization: Bearer" in error["message"]
    assert res.headers["WWW-Authenticate"].startswith("Bearer")


def test_403_lacking_permission_names_it(client, tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["audit:read"])
    error = assert_error(client.get("/api/v1/users", headers=bearer(raw)), 403, "forbidden")
    assert "member:read" in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/users/me/extra", "/api/v1/", "/api/v2/users"])
def test_404_unknown_route_under_api(client, reader_key, path):
    error = assert_error(client.get(path, headers=bearer(reader_key)), 404, "not_found")
    assert error["message"] == "There is nothing at this address."


def test_404_unknown_route_needs_no_credential_to_be_an_envelope(client):
    assert_error(client.post("/api/v1/nowhere", json={}), 404, "not_found")


def test_404_unknown_object(client, reader_key):
    res = client.get(f"/api/v1/users/{uuid.uuid4()}", headers=bearer(reader_key))
    error = assert_error(res, 404, "not_found")
    assert "no such member" in error["message"]


def test_405_wrong_method_lists_allowed(client, reader_key):
    res = client.delete("/api/v1/users/me", headers=bearer(reader_key))
    error = assert_error(res, 405, "method_not_allowed")
    assert "GET" in res.headers["Allow"]
    assert "DELETE" in error["message"]


def test_413_body_over_max_content_length(make_app, tenant_a):
    small = make_app({"MAX_CONTENT_LENGTH": 1024})
    res = small.test_client().post("/api/v1/auth/token",
                                   json={"email": "a@b.c", "password": "p" * 2048, "tenant": "tenant-a"})
    error = assert_error(res, 413, "payload_too_large")
    assert "1024 bytes" in error["message"]


def test_422_lists_every_invalid_field(client):
    res = client.post("/api/v1/auth/token", json={"email": "a@b.c", "tenant": "t" * 64})
    error = assert_error(res, 422, "validation_failed")
    fields = error["details"]["fields"]
    assert set(fields) == {"password", "tenant"}
    assert fields["password"] == ["Field required"]
    assert "63 characters" in fields["tenant"][0]


def test_422_json_that_is_not_an_object(client):
    error = assert_error(client.post("/api/v1/auth/token", json=["a", "b"]), 422, "validation_failed")
    assert error["details"]["fields"]


def _error_routes(app):
    # Test-only routes on a separate app: the API has no route yet that raises these.
    bp = Blueprint("api_error_probe", __name__, url_prefix="/api/v1/_probe")

    @bp.get("/conflict")
    def conflict():
        raise Conflict("This alert is already closed.")

    @bp.get("/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    app.register_blueprint(bp)


@pytest.fixture
def probe_app(make_app):
    return make_app(setup=_error_routes)


def test_409_conflict_from_a_service(probe_app):
    res = probe_app.test_client().get("/api/v1/_probe/conflict", headers={"X-Request-ID": "req-409"})
    error = assert_error(res, 409, "conflict")
    assert error["message"] == "This alert is already closed."
    assert res.json["meta"]["request_id"] == "req-409"


def test_500_unexpected_error_hides_internals(probe_app):
    res = probe_app.test_client().get("/api/v1/_probe/boom")
    error = assert_error(res, 500, "internal_error")
    assert res.json["meta"]["request_id"] in error["message"]  # the reference to quote
    assert "hunter2" not in res.get_data(as_text=True)
    assert "Traceback" not in res.get_data(as_text=True)


def test_every_error_carries_the_sent_request_id(client, reader_key):
    cases = [
        ("GET", "/api/v1/users", {}, 401),
        ("GET", "/api/v1/nowhere", bearer(reader_key), 404),
        ("PUT", "/api/v1/users", bearer(reader_key), 405),
        ("GET", "/api/v1/users?limit=0", bearer(reader_key), 422),
        ("GET", "/api/v1/users/me", bearer(reader_key, **{"X-Tenant-ID": "other"}), 403),
    ]
    for method, path, headers, status in cases:
        rid = f"case-{status}"
        res = client.open(path, method=method, headers={**headers, "X-Request-ID": rid})
        assert res.status_code == status, (method, path, res.json)
        assert res.headers["X-Request-ID"] == rid
        assert res.json["meta"]["request_id"] == rid
