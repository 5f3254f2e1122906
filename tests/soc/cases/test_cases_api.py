"""The cases API: happy paths, envelope errors, and tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.api.conftest import assert_error, bearer

BASE = "/api/v1/cases"


@pytest.fixture
def token(member_token, tenant_a):
    _membership, jwt = member_token(tenant_a, role="analyst")
    return jwt


def test_create_get_patch_and_list(client, token, tenant_a):
    res = client.post(BASE, json={"title": "Credential phish", "template": "phishing",
                                  "description": "<script>x</script> **urgent**"}, headers=bearer(token))
    assert res.status_code == 201, res.json
    case = res.json["data"]
    assert case["reference"] == "CASE-1"
    assert case["severity"] == "medium"
    assert len(case["tasks"]) >= 5
    assert "<script>" not in case["description_html"] and "<strong>urgent</strong>" in case["description_html"]
    assert case["allowed_transitions"] == ["triage", "investigating", "closed"]
    res = client.patch(f"{BASE}/{case['id']}", json={"severity": "critical", "tags": ["vip"]}, headers=bearer(token))
    assert res.json["data"]["severity"] == "critical"
    res = client.get(f"{BASE}?severity=critical&tag=vip", headers=bearer(token))
    assert [c["id"] for c in res.json["data"]] == [case["id"]]
    res = client.get(f"{BASE}?assignee=unassigned&status=open", headers=bearer(token))
    assert len(res.json["data"]) == 1
    res = client.get(f"{BASE}?assignee=me", headers=bearer(token))
    assert res.json["data"] == []


def test_list_pages_with_a_cursor(client, token, tenant_a):
    for n in range(3):
        factories.make_case(tenant_a, title=f"Case {n}")
    res = client.get(f"{BASE}?limit=2", headers=bearer(token))
    assert len(res.json["data"]) == 2 and res.json["meta"]["next_cursor"]
    res = client.get(f"{BASE}?limit=2&cursor={res.json['meta']['next_cursor']}", headers=bearer(token))
    assert len(res.json["data"]) == 1 and res.json["meta"]["next_cursor"] is None


def test_transitions_document_is_not_shadowed_by_the_case_route(client, token):
    res = client.get(f"{BASE}/transitions", headers=bearer(token))
    assert res.status_code == 200
    assert res.json["data"]["transitions"]["closed"] == ["investigating"]
    assert res.json["data"]["resolution_required"] == ["closed"]


def test_illegal_transition_is_409_naming_the_allowed(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    res = client.post(f"{BASE}/{case.public_id}/transitions", json={"to": "recovered"}, headers=bearer(token))
    error = assert_error(res, 409, "conflict")
    assert error["details"]["allowed"] == ["triage", "investigating", "closed"]
    assert "triage" in error["message"]


def test_close_without_resolution_is_422_then_close_and_reopen(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    url = f"{BASE}/{case.public_id}/transitions"
    error = assert_error(client.post(url, json={"to": "closed"}, headers=bearer(token)), 422, "validation_failed")
    assert "resolution" in error["details"]["fields"]
    res = client.post(url, json={"to": "closed", "resolution": "Benign admin activity"}, headers=bearer(token))
    assert res.json["data"]["status"] == "closed" and res.json["data"]["closed_at"]
    res = client.post(url, json={"to": "investigating"}, headers=bearer(token))
    assert res.json["data"]["status"] == "investigating"


def test_unknown_severity_is_422_naming_the_values(client, token):
    error = assert_error(client.post(BASE, json={"title": "x", "severity": "apocalyptic"}, headers=bearer(token)),
                         422, "validation_failed")
    assert "critical" in error["details"]["fields"]["severity"][0]


def test_timeline_comments_tasks_and_alerts(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    alert = factories.make_alert(tenant_a)
    url = f"{BASE}/{case.public_id}"
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    res = client.post(f"{url}/timeline", json={"occurred_at": when, "body": "Macro ran", "category": "execution",
                                               "asset": "WS-7"}, headers=bearer(token))
    assert res.status_code == 201 and res.json["data"]["category"] == "execution"
    res = client.post(f"{url}/comments", json={"body": "<b>hi</b>"}, headers=bearer(token))
    assert res.json["data"]["body_html"].startswith("<p>&lt;b&gt;")
    res = client.post(f"{url}/tasks", json={"title": "Reset password"}, headers=bearer(token))
    task_id = res.json["data"]["id"]
    res = client.patch(f"{url}/tasks/{task_id}", json={"done": True}, headers=bearer(token))
    assert res.json["data"]["done"] is True
    res = client.post(f"{url}/alerts", json={"alert_ids": [alert.public_id]}, headers=bearer(token))
    assert res.json["data"]["linked"] == [alert.reference]
    res = client.get(f"{url}/timeline?order=occurred", headers=bearer(token))
    kinds = [e["kind"] for e in res.json["data"]]
    assert kinds[0] == "event"
    assert {"comment", "task_done", "alert_link"} <= set(kinds)
    res = client.get(f"{url}/timeline?kind=comment&limit=1", headers=bearer(token))
    assert [e["kind"] for e in res.json["data"]] == ["comment"]
    res = client.get(f"{url}/tasks", headers=bearer(token))
    assert [t["title"] for t in res.json["data"]] == ["Reset password"]


def test_merge_through_the_api(client, token, tenant_a):
    source, target = factories.make_case(tenant_a), factories.make_case(tenant_a)
    res = client.post(f"{BASE}/{source.public_id}/merge", json={"into": target.public_id}, headers=bearer(token))
    assert res.status_code == 200 and res.json["data"]["id"] == target.public_id
    res = client.get(f"{BASE}/{source.public_id}", headers=bearer(token))
    assert res.json["data"]["merged_into"] == target.public_id and res.json["data"]["status"] == "closed"


def test_another_tenants_case_is_404_everywhere(client, member_token, tenant_a, tenant_b):
    case = factories.make_case(tenant_a)
    task_res = None
    _m, token_b = member_token(tenant_b, role="admin")
    for method, path, body in (
        ("GET", f"{BASE}/{case.public_id}", None),
        ("PATCH", f"{BASE}/{case.public_id}", {"title": "mine"}),
        ("POST", f"{BASE}/{case.public_id}/transitions", {"to": "triage"}),
        ("GET", f"{BASE}/{case.public_id}/timeline", None),
        ("POST", f"{BASE}/{case.public_id}/comments", {"body": "x"}),
        ("GET", f"{BASE}/{case.public_id}/tasks", None),
    ):
        task_res = client.open(path, method=method, json=body, headers=bearer(token_b))
        assert_error(task_res, 404, "not_found")
    own = factories.make_case(tenant_b)
    res = client.post(f"{BASE}/{own.public_id}/merge", json={"into": case.public_id}, headers=bearer(token_b))
    assert_error(res, 404, "not_found")
    assert client.get(BASE, headers=bearer(token_b)).json["data"][0]["id"] == own.public_id


def test_read_only_key_cannot_write(client, tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["cases:read"])
    assert client.get(BASE, headers=bearer(raw)).status_code == 200
    assert_error(client.post(BASE, json={"title": "x"}, headers=bearer(raw)), 403, "forbidden")
