"""Rate limits: one bucket per member or API key across the whole API, nested blueprints included."""

from __future__ import annotations

import time

import pytest

from tests import factories
from tests.api.conftest import assert_error, bearer, get_token


@pytest.fixture
def limited(make_app):
    """An app allowing 3 requests a minute per member token and 5 per API key."""
    return make_app({"api_user_rate": "3 per minute", "api_key_rate": "5 per minute"})


def _assert_429(res, limit: int) -> None:
    error = assert_error(res, 429, "rate_limited")
    assert error["details"]["limit"] == f"{limit} per 1 minute"
    retry_after = int(res.headers["Retry-After"])
    assert 0 < retry_after <= 60
    assert res.headers["X-RateLimit-Limit"] == str(limit)
    assert res.headers["X-RateLimit-Remaining"] == "0"
    assert time.time() < int(res.headers["X-RateLimit-Reset"]) <= time.time() + 61


def test_member_token_limit_is_shared_across_routes_of_every_api_blueprint(limited, tenant_a):
    member = factories.make_member(tenant_a, role="admin")
    client = limited.test_client()
    token = get_token(client, member.user.email, tenant_a)
    # Routes of the nested identity blueprint and of the base api blueprint draw on one bucket.
    remaining = []
    for path in ("/api/v1/users/me", "/api/v1/users", "/api/v1/openapi.json"):
        res = client.get(path, headers=bearer(token))
        assert res.status_code == 200, (path, res.json)
        assert res.headers["X-RateLimit-Limit"] == "3"
        remaining.append(res.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    _assert_429(client.get("/api/v1/users/me", headers=bearer(token, **{"X-Request-ID": "slow-down"})), 3)


def test_a_fresh_token_does_not_reset_the_members_limit(limited, tenant_a):
    member = factories.make_member(tenant_a, role="admin")
    client = limited.test_client()
    first = get_token(client, member.user.email, tenant_a)
    for _ in range(3):
        assert client.get("/api/v1/users/me", headers=bearer(first)).status_code == 200
    second = get_token(client, member.user.email, tenant_a)
    _assert_429(client.get("/api/v1/users/me", headers=bearer(second)), 3)


def test_each_member_and_key_has_its_own_bucket(limited, tenant_a):
    one, two = factories.make_member(tenant_a, role="admin"), factories.make_member(tenant_a, role="admin")
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    client = limited.test_client()
    token_one, token_two = (get_token(client, m.user.email, tenant_a) for m in (one, two))
    for _ in range(3):
        assert client.get("/api/v1/users", headers=bearer(token_one)).status_code == 200
    _assert_429(client.get("/api/v1/users", headers=bearer(token_one)), 3)
    assert client.get("/api/v1/users", headers=bearer(token_two)).status_code == 200
    for _ in range(5):
        res = client.get("/api/v1/users", headers=bearer(raw))
        assert res.status_code == 200
        assert res.headers["X-RateLimit-Limit"] == "5"
    _assert_429(client.get("/api/v1/users/me", headers=bearer(raw)), 5)


def test_rejected_credentials_are_limited_too(limited, tenant_a):
    client = limited.test_client()
    for _ in range(3):
        assert_error(client.get("/api/v1/users", headers=bearer("not-a-token")), 401, "unauthorized")
    _assert_429(client.get("/api/v1/users", headers=bearer("not-a-token")), 3)


def test_unauthenticated_requests_are_limited_per_address(limited, tenant_a):
    client = limited.test_client()
    for _ in range(3):
        res = client.post("/api/v1/auth/token", json={"email": "x@y.test", "password": "wrong", "tenant": "tenant-a"})
        assert res.status_code == 401
    _assert_429(client.post("/api/v1/auth/token", json={"email": "x@y.test", "password": "wrong",
                                                        "tenant": "tenant-a"}), 3)
    other = limited.test_client()
    res = other.get("/api/v1/openapi.json", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert res.status_code == 200


def test_default_limits_from_settings(client, member_token, tenant_a):
    _member, token = member_token(tenant_a)
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    assert client.get("/api/v1/users", headers=bearer(token)).headers["X-RateLimit-Limit"] == "100"
    assert client.get("/api/v1/users", headers=bearer(raw)).headers["X-RateLimit-Limit"] == "1000"


def test_html_pages_are_not_under_the_api_limit(limited, tenant_a):
    client = limited.test_client()
    for _ in range(5):
        res = client.get("/login")
        assert res.status_code == 200
        assert "X-RateLimit-Limit" not in res.headers
