"""The alerts API: create, batch submit, list with filters and cursors, get, patch, assign."""

from __future__ import annotations

import pytest

from tests import factories
from tests.api.conftest import assert_error, audit_actions, bearer, get_token
from tests.soc.conftest import T0, detection_finding, security_finding

URL = "/api/v1/alerts"


@pytest.fixture
def writer(tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["alerts:write"])
    return bearer(raw)


def _new(client, headers, **body):
    data = {"title": "Impossible travel", "severity": "high", "source": "Entra ID", **body}
    res = client.post(URL, json=data, headers=headers)
    assert res.status_code == 201, res.json
    return res.json["data"]


def test_create_returns_201_with_the_alert(client, writer):
    alert = _new(client, writer, observables=[{"kind": "email", "value": "Eve@Example.com"}], techniques=["T1078"])
    assert (alert["reference"], alert["status"], alert["severity_id"]) == ("ALR-1", "new", 4)
    assert alert["observables"] == [{"kind": "email", "value": "eve@example.com"}]
    assert audit_actions("alert.created")[0].target_id == alert["id"]


def test_html_in_fields_is_returned_verbatim(client, writer):
    alert = _new(client, writer, title="<img src=x onerror=alert(1)>", description="<b>bold</b>")
    fetched = client.get(f"{URL}/{alert['id']}", headers=writer).json["data"]
    assert (fetched["title"], fetched["description"]) == ("<img src=x onerror=alert(1)>", "<b>bold</b>")


def test_unknown_severity_is_422_naming_the_values(client, writer):
    res = client.post(URL, json={"title": "x", "severity": "urgent", "source": "EDR"}, headers=writer)
    error = assert_error(res, 422, "validation_failed")
    assert "info, low, medium, high, critical" in error["details"]["fields"]["severity"][0]


def test_malformed_json_is_400(client, writer):
    for url in (URL, f"{URL}/submit"):
        res = client.post(url, data="{not json", headers={**writer, "Content-Type": "application/json"})
        assert_error(res, 400, "bad_request")


def test_submit_answers_per_event_and_keeps_the_valid_ones(client, writer):
    bad = detection_finding()
    del bad["finding_info"]["title"]
    del bad["message"]
    events = [detection_finding(), bad, security_finding(), detection_finding(time=T0 + 60_000)]
    res = client.post(f"{URL}/submit", json={"events": events}, headers=writer)
    assert res.status_code == 200, res.json
    data = res.json["data"]
    assert (data["total"], data["created"], data["deduplicated"], data["rejected"]) == (4, 2, 1, 1)
    assert data["results"][0] == {"index": 0, "status": "created", "alert_number": 1,
                                  "alert_id": data["results"][0]["alert_id"]}
    assert data["results"][1] == {"index": 1, "status": "rejected",
                                  "reason": "finding_info.title: required (or message)"}
    assert data["results"][3]["status"] == "deduplicated"
    assert data["results"][3]["alert_number"] == 1
    listed = client.get(URL, headers=writer).json["data"]
    assert sorted(a["number"] for a in listed) == [1, 2]
    assert len(audit_actions("alert.batch_ingested")) == 1


def test_submit_accepts_a_bare_array(client, writer):
    res = client.post(f"{URL}/submit", json=[security_finding()], headers=writer)
    assert res.json["data"]["created"] == 1


def test_submit_over_1000_events_is_413(client, writer):
    res = client.post(f"{URL}/submit", json={"events": [detection_finding()] * 1001}, headers=writer)
    error = assert_error(res, 413, "payload_too_large")
    assert "1000" in error["message"]
    assert client.get(URL, headers=writer).json["data"] == []


def test_read_scope_cannot_ingest(client, tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["alerts:read"])
    assert_error(client.post(f"{URL}/submit", json=[detection_finding()], headers=bearer(raw)), 403, "forbidden")


def test_list_filters_and_cursor_paging(client, writer):
    for i in range(5):
        _new(client, writer, title=f"alert {i}", severity="low" if i % 2 else "critical",
             observables=[{"kind": "ip", "value": f"192.0.2.{i}"}], seen_at=f"2025-11-2{i}T10:00:00Z")
    res = client.get(f"{URL}?limit=2", headers=writer)
    first = res.json
    assert [a["title"] for a in first["data"]] == ["alert 4", "alert 3"]
    second = client.get(f"{URL}?limit=2&cursor={first['meta']['next_cursor']}", headers=writer).json
    assert [a["title"] for a in second["data"]] == ["alert 2", "alert 1"]
    crit = client.get(f"{URL}?severity=critical&sort=number", headers=writer).json["data"]
    assert [a["number"] for a in crit] == [5, 3, 1]
    assert [a["title"] for a in client.get(f"{URL}?q=192.0.2.3", headers=writer).json["data"]] == ["alert 3"]
    since = client.get(f"{URL}?since=2025-11-23T00:00:00Z", headers=writer).json["data"]
    assert [a["title"] for a in since] == ["alert 4", "alert 3"]
    assert_error(client.get(f"{URL}?status=bogus", headers=writer), 422, "validation_failed")


def test_patch_status_close_and_illegal_transition(client, writer):
    alert = _new(client, writer)
    res = client.patch(f"{URL}/{alert['id']}", json={"status": "closed"}, headers=writer)
    assert "true_positive" in assert_error(res, 422, "validation_failed")["details"]["fields"]["close_reason"][0]
    res = client.patch(f"{URL}/{alert['id']}", json={"status": "closed", "close_reason": "benign"}, headers=writer)
    assert (res.json["data"]["status"], res.json["data"]["close_reason"]) == ("closed", "benign")
    res = client.patch(f"{URL}/{alert['id']}", json={"status": "in_progress"}, headers=writer)
    error = assert_error(res, 409, "conflict")
    assert error["details"]["allowed"] == ["new"]


def test_assign_and_unassign(client, writer, tenant_a):
    membership = factories.make_member(tenant_a, role="analyst")
    token = get_token(client, membership.user.email, tenant_a)
    alert = _new(client, writer)
    res = client.post(f"{URL}/{alert['id']}/assign", json={"assignee": membership.user.public_id}, headers=writer)
    assert res.json["data"]["assignee"] == membership.user.public_id
    mine = client.get(f"{URL}?assignee=me", headers=bearer(token)).json["data"]
    assert [a["id"] for a in mine] == [alert["id"]]
    res = client.patch(f"{URL}/{alert['id']}", json={"assignee": None}, headers=writer)
    assert res.json["data"]["assignee"] is None
    assert len(client.get(f"{URL}?assignee=unassigned", headers=writer).json["data"]) == 1
    res = client.post(f"{URL}/{alert['id']}/assign", json={"assignee": "no-such-user"}, headers=writer)
    assert_error(res, 422, "validation_failed")


def test_another_tenants_alert_is_404(client, writer, tenant_b):
    alert = _new(client, writer)
    _key, raw = factories.make_api_key(tenant_b, scopes=["alerts:write"])
    other = bearer(raw)
    assert_error(client.get(f"{URL}/{alert['id']}", headers=other), 404, "not_found")
    assert_error(client.patch(f"{URL}/{alert['id']}", json={"status": "acknowledged"}, headers=other), 404,
                 "not_found")
    assert_error(client.post(f"{URL}/{alert['id']}/assign", json={"assignee": None}, headers=other), 404,
                 "not_found")
    assert client.get(URL, headers=other).json["data"] == []
    assert client.get(f"{URL}/{alert['id']}", headers=writer).json["data"]["status"] == "new"
