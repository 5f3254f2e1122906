"""Cursor paging on API lists: every item exactly once, a null cursor at the end, bad input is a 422."""

from __future__ import annotations

import base64

import pytest

from tests import factories
from tests.api.conftest import assert_error, bearer


@pytest.fixture
def seven_members(tenant_a, tenant_b):
    members = [factories.make_member(tenant_a, role="analyst", password=None) for _ in range(7)]
    factories.make_member(tenant_b, password=None)  # another tenant's member must never appear
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    return members, raw


def _walk(client, raw, limit):
    pages, cursor = [], None
    while True:
        url = f"/api/v1/users?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        res = client.get(url, headers=bearer(raw))
        assert res.status_code == 200, res.json
        pages.append([m["id"] for m in res.json["data"]])
        cursor = res.json["meta"]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10, "paging does not end"


def test_limit_3_over_7_members_returns_each_exactly_once(client, seven_members):
    members, raw = seven_members
    pages = _walk(client, raw, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [i for page in pages for i in page]
    assert len(ids) == len(set(ids)) == 7
    # Newest first, and exactly this tenant's members.
    assert ids == [m.user.public_id for m in reversed(members)]


def test_next_cursor_is_present_in_meta_and_null_on_the_last_page(client, seven_members):
    _members, raw = seven_members
    first = client.get("/api/v1/users?limit=7", headers=bearer(raw)).json
    assert len(first["data"]) == 7
    assert "next_cursor" in first["meta"] and first["meta"]["next_cursor"] is None
    some = client.get("/api/v1/users?limit=6", headers=bearer(raw)).json
    assert isinstance(some["meta"]["next_cursor"], str)


def test_default_and_maximum_limit(client, seven_members):
    _members, raw = seven_members
    assert len(client.get("/api/v1/users", headers=bearer(raw)).json["data"]) == 7
    assert client.get("/api/v1/users?limit=200", headers=bearer(raw)).status_code == 200


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "3.5", ""])
def test_bad_limit_is_422(client, seven_members, limit):
    _members, raw = seven_members
    error = assert_error(client.get(f"/api/v1/users?limit={limit}", headers=bearer(raw)), 422, "validation_failed")
    assert error["details"]["fields"]["limit"] == ["Use a whole number from 1 to 200."]


@pytest.mark.parametrize("cursor", [
    "not-a-cursor",
    "%%%",
    base64.urlsafe_b64encode(b'{"x": 1}').decode(),
    base64.urlsafe_b64encode(b'{"k": "abc"}').decode(),
    base64.urlsafe_b64encode(b"[1, 2]").decode(),
])
def test_bad_cursor_is_422(client, seven_members, cursor):
    _members, raw = seven_members
    res = client.get("/api/v1/users", query_string={"limit": 3, "cursor": cursor}, headers=bearer(raw))
    error = assert_error(res, 422, "validation_failed")
    assert "cursor" in error["details"]["fields"]
