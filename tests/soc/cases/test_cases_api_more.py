"""The cases API's timeline edit and export, evidence upload/list/download, linked alerts and unlink."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.api.conftest import assert_error, bearer

BASE = "/api/v1/cases"


@pytest.fixture
def token(member_token, tenant_a):
    _membership, jwt = member_token(tenant_a, role="analyst")
    return jwt


def _event(client, token, case, body="Macro ran", days=1):
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    res = client.post(f"{BASE}/{case.public_id}/timeline", json={"occurred_at": when, "body": body},
                      headers=bearer(token))
    assert res.status_code == 201, res.json
    return res.json["data"]


def test_edit_an_event_and_a_comment_but_not_a_system_entry(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    entry = _event(client, token, case)
    url = f"{BASE}/{case.public_id}/timeline/{entry['id']}"
    when = datetime(2025, 6, 1, 8, 30, tzinfo=UTC).isoformat()
    res = client.patch(url, json={"occurred_at": when, "category": "execution", "asset": "WS-7"},
                       headers=bearer(token))
    data = res.json["data"]
    assert res.status_code == 200 and data["occurred_at"].startswith("2025-06-01T08:30")
    assert data["category"] == "execution" and data["asset"] == "WS-7" and data["edited_at"]
    error = assert_error(client.patch(url, json={"category": "teleportation"}, headers=bearer(token)), 422,
                         "validation_failed")
    assert "exfiltration" in error["details"]["fields"]["category"][0]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert_error(client.patch(url, json={"occurred_at": future}, headers=bearer(token)), 422, "validation_failed")
    comment = client.post(f"{BASE}/{case.public_id}/comments", json={"body": "first"}, headers=bearer(token)).json
    res = client.patch(f"{BASE}/{case.public_id}/timeline/{comment['data']['id']}", json={"body": "second"},
                       headers=bearer(token))
    assert res.json["data"]["body"] == "second"
    client.post(f"{BASE}/{case.public_id}/transitions", json={"to": "triage"}, headers=bearer(token))
    system = client.get(f"{BASE}/{case.public_id}/timeline?kind=status_change", headers=bearer(token)).json["data"][0]
    assert_error(client.patch(f"{BASE}/{case.public_id}/timeline/{system['id']}", json={"body": "rewritten"},
                              headers=bearer(token)), 409, "conflict")
    other = factories.make_case(tenant_a)
    assert_error(client.patch(f"{BASE}/{other.public_id}/timeline/{entry['id']}", json={"body": "x"},
                              headers=bearer(token)), 404, "not_found")


def test_timeline_pages_with_a_keyset_cursor_and_exports_everything(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    for n in range(5):
        _event(client, token, case, body=f"=cmd|' /C calc'!A{n}", days=5 - n)
    seen, cursor = [], ""
    while True:
        res = client.get(f"{BASE}/{case.public_id}/timeline?limit=2{cursor}", headers=bearer(token)).json
        seen += [e["body"] for e in res["data"]]
        if not res["meta"]["next_cursor"]:
            break
        cursor = f"&cursor={res['meta']['next_cursor']}"
    assert len(seen) == 5 and seen == sorted(seen, key=lambda b: b[-1])
    assert_error(client.get(f"{BASE}/{case.public_id}/timeline?cursor=garbage", headers=bearer(token)), 422,
                 "validation_failed")
    res = client.get(f"{BASE}/{case.public_id}/timeline/export?format=csv", headers=bearer(token))
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert res.headers["Content-Disposition"] == f'attachment; filename="{case.reference}-timeline.csv"'
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert len(rows) == 5 and all(r["body"].startswith("'=") for r in rows)  # formulas neutralised
    res = client.get(f"{BASE}/{case.public_id}/timeline/export?format=json&order=recorded", headers=bearer(token))
    assert res.mimetype == "application/json" and len(res.json["entries"]) == 5
    assert res.json["case"] == case.reference
    assert_error(client.get(f"{BASE}/{case.public_id}/timeline/export?format=xlsx", headers=bearer(token)), 422,
                 "validation_failed")


def test_evidence_upload_list_and_download(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    body = b"GET /payload.ps1 HTTP/1.1\n"
    res = client.post(f"{BASE}/{case.public_id}/evidence", headers=bearer(token), content_type="multipart/form-data",
                      data={"file": (io.BytesIO(body), "proxy.log", "text/plain")})
    assert res.status_code == 201, res.json
    att = res.json["data"]
    assert att["sha256"] == hashlib.sha256(body).hexdigest() and att["size"] == len(body)
    listed = client.get(f"{BASE}/{case.public_id}/evidence", headers=bearer(token)).json
    assert [a["id"] for a in listed["data"]] == [att["id"]] and listed["meta"]["next_cursor"] is None
    res = client.get(att["download"], headers=bearer(token))
    assert res.status_code == 200 and res.data == body
    assert res.headers["Content-Disposition"].startswith('attachment; filename="proxy.log"')
    assert res.headers["X-Content-SHA256"] == att["sha256"] and res.headers["X-Content-Type-Options"] == "nosniff"
    kinds = [e["kind"] for e in client.get(f"{BASE}/{case.public_id}/timeline", headers=bearer(token)).json["data"]]
    assert "attachment" in kinds


def test_evidence_refusals_store_nothing(client, token, tenant_a, app):
    case = factories.make_case(tenant_a)
    url = f"{BASE}/{case.public_id}/evidence"
    error = assert_error(client.post(url, headers=bearer(token), content_type="multipart/form-data",
                                     data={"file": (io.BytesIO(b"<script>"), "x.html", "text/html")}),
                         422, "validation_failed")
    assert "text/html" in error["details"]["fields"]["file"][0]
    assert_error(client.post(url, headers=bearer(token), content_type="multipart/form-data", data={}), 422,
                 "validation_failed")
    assert_error(client.post(url, headers=bearer(token), json={"file": "x"}), 415, "unsupported_media_type")
    original = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        res = client.post(url, headers=bearer(token), content_type="multipart/form-data",
                          data={"file": (io.BytesIO(b"x" * 4096), "big.txt", "text/plain")})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = original
    assert_error(res, 413, "payload_too_large")
    assert client.get(url, headers=bearer(token)).json["data"] == []


def test_linked_alerts_list_and_unlink(client, token, tenant_a):
    case = factories.make_case(tenant_a)
    first, second = factories.make_alert(tenant_a), factories.make_alert(tenant_a)
    client.post(f"{BASE}/{case.public_id}/alerts", json={"alert_ids": [first.public_id, second.public_id]},
                headers=bearer(token))
    res = client.get(f"{BASE}/{case.public_id}/alerts?limit=1", headers=bearer(token)).json
    assert [a["reference"] for a in res["data"]] == [second.reference] and res["meta"]["next_cursor"]
    assert res["data"][0]["status"] == "in_progress"
    res = client.delete(f"{BASE}/{case.public_id}/alerts/{first.public_id}", headers=bearer(token))
    assert res.status_code == 200 and res.json["data"]["alerts"] == [second.reference]
    assert_error(client.delete(f"{BASE}/{case.public_id}/alerts/{first.public_id}", headers=bearer(token)), 404,
                 "not_found")
    entries = client.get(f"{BASE}/{case.public_id}/timeline?kind=alert_link", headers=bearer(token)).json["data"]
    assert entries[-1]["details"]["unlinked"] is True


def test_read_only_key_reads_evidence_but_cannot_upload(client, tenant_a):
    case = factories.make_case(tenant_a)
    att = factories.make_attachment(tenant_a, case)
    _key, raw = factories.make_api_key(tenant_a, scopes=["cases:read"])
    assert client.get(f"/api/v1/evidence/{att.public_id}", headers=bearer(raw)).data == b"evidence\n"
    assert_error(client.post(f"{BASE}/{case.public_id}/evidence", headers=bearer(raw),
                             content_type="multipart/form-data",
                             data={"file": (io.BytesIO(b"x"), "a.txt", "text/plain")}), 403, "forbidden")


def test_openapi_documents_the_upload_and_the_file_answers(client):
    spec = client.get("/api/v1/openapi.json").json
    upload = spec["paths"]["/api/v1/cases/{case_id}/evidence"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"] and schema["properties"]["file"]["format"] == "binary"
    assert {"413", "415", "422"} <= set(upload["responses"])
    export = spec["paths"]["/api/v1/cases/{case_id}/timeline/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"text/csv", "application/json"}
    assert "application/octet-stream" in spec["paths"]["/api/v1/evidence/{attachment_id}"]["get"]["responses"]["200"][
        "content"]
    for path, method in [("/api/v1/cases/{case_id}/timeline/{entry_id}", "patch"),
                         ("/api/v1/cases/{case_id}/alerts", "get"),
                         ("/api/v1/cases/{case_id}/alerts/{alert_id}", "delete"),
                         ("/api/v1/alerts/settings", "patch")]:
        assert method in spec["paths"][path], path
