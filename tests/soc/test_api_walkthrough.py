"""Done-when, through the API only: an OCSF batch ingested with an API key becomes a closed case with a
full timeline, and every change along the way is in the tenant's (intact) audit log."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from tests import factories
from tests.api.conftest import assert_error, bearer
from tests.soc.conftest import T0, detection_finding, security_finding

API = "/api/v1"


def _ok(res, status: int = 200) -> dict:
    assert res.status_code == status, (res.status_code, res.get_json())
    assert res.json["success"] is True
    return res.json


def _batch() -> list[dict]:
    phish = detection_finding(time=T0 + 60_000)
    phish["finding_info"] = {**phish["finding_info"], "uid": "f-2", "title": "Macro-enabled attachment opened",
                             "analytic": {"name": "Office-Child-Process", "type_id": 1}}
    return [
        detection_finding(),                    # created
        detection_finding(time=T0 + 30_000),    # the same fingerprint: deduplicated
        phish,                                  # created (another rule)
        security_finding(),                     # created (another product)
        {"class_uid": 2004, "severity_id": 4},  # rejected: no time
    ]


def test_from_ingest_to_closed_case_through_the_api(client, tenant_a):
    _key, ingest_key = factories.make_api_key(tenant_a, scopes=["alerts:write"], name="EDR connector")
    analyst = factories.make_member(tenant_a, role="analyst", name="Ana Lyst")
    token = client.post(f"{API}/auth/token", json={"email": analyst.user.email, "password": factories.PASSWORD,
                                                   "tenant": tenant_a.slug}).json["data"]["access_token"]
    me = bearer(token)

    # 1. The connector submits a batch: kept, merged and rejected per event.
    batch = _ok(client.post(f"{API}/alerts/submit", json={"events": _batch()}, headers=bearer(ingest_key)))["data"]
    assert [r["status"] for r in batch["results"]] == ["created", "deduplicated", "created", "created", "rejected"]
    assert "time" in batch["results"][4]["reason"]
    assert batch["results"][1]["alert_id"] == batch["results"][0]["alert_id"]

    # 2. The analyst filters the queue, reads one alert, acknowledges it and takes it.
    high = _ok(client.get(f"{API}/alerts?severity=high&status=new&assignee=unassigned", headers=me))["data"]
    assert {a["title"] for a in high} == {"Encoded PowerShell download cradle", "Macro-enabled attachment opened"}
    cradle_id = batch["results"][0]["alert_id"]
    cradle = _ok(client.get(f"{API}/alerts/{cradle_id}", headers=me))["data"]
    assert cradle["occurrences"] == 2 and cradle["raw_event"]["class_uid"] == 2004
    _ok(client.patch(f"{API}/alerts/{cradle_id}", json={"status": "acknowledged"}, headers=me))
    assigned = _ok(client.post(f"{API}/alerts/{cradle_id}/assign", json={"assignee": analyst.user.public_id},
                               headers=me))["data"]
    assert assigned["assignee"] == analyst.user.public_id and assigned["status"] == "acknowledged"

    # 3. A case from the phishing template, with the two high alerts linked.
    case = _ok(client.post(f"{API}/cases", json={"title": "Macro dropper on WS-0042", "template": "phishing",
                                                 "severity": "high", "assignee_id": analyst.user.public_id},
                           headers=me), 201)["data"]
    url = f"{API}/cases/{case['id']}"
    linked = _ok(client.post(f"{url}/alerts", json={"alert_ids": [a["id"] for a in high]}, headers=me))["data"]
    assert len(linked["linked"]) == 2
    assert _ok(client.get(f"{API}/alerts/{cradle_id}", headers=me))["data"]["status"] == "in_progress"

    # 4. The forensic timeline: events at the time they happened, a comment, evidence.
    t = datetime.fromtimestamp(T0 / 1000, UTC)
    for minutes, category, body in [(-5, "initial_access", "User opened invoice.docm from email"),
                                    (0, "execution", "powershell -enc fetched stage two"),
                                    (40, "containment_action", "WS-0042 isolated by EDR")]:
        _ok(client.post(f"{url}/timeline", json={"occurred_at": (t + timedelta(minutes=minutes)).isoformat(),
                                                 "category": category, "asset": "WS-0042", "body": body},
                        headers=me), 201)
    _ok(client.post(f"{url}/comments", json={"body": "Mail gateway **missed** the macro."}, headers=me), 201)
    att = _ok(client.post(f"{url}/evidence", headers=me, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(b"From: billing@evil.example\n"), "invoice.eml",
                                         "message/rfc822")}), 201)["data"]
    assert len(att["sha256"]) == 64

    # 5. Tasks: all done (one added, the template's completed).
    _ok(client.post(f"{url}/tasks", json={"title": "Reimage WS-0042",
                                          "due_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat()},
                    headers=me), 201)
    tasks = _ok(client.get(f"{url}/tasks", headers=me))["data"]
    for task in tasks:
        _ok(client.patch(f"{url}/tasks/{task['id']}", json={"done": True}, headers=me))

    # 6. Another alert turns out to belong here.
    guard = batch["results"][3]["alert_id"]
    _ok(client.post(f"{url}/alerts", json={"alert_ids": [guard]}, headers=me))

    # 7. The state machine to closed; an illegal move is a 409 naming the allowed ones.
    error = assert_error(client.post(f"{url}/transitions", json={"to": "recovered"}, headers=me), 409, "conflict")
    assert error["details"]["allowed"] == ["triage", "investigating", "closed"]
    for step in ("triage", "investigating", "contained", "eradicated", "recovered"):
        assert _ok(client.post(f"{url}/transitions", json={"to": step}, headers=me))["data"]["status"] == step
    assert_error(client.post(f"{url}/transitions", json={"to": "closed"}, headers=me), 422, "validation_failed")
    closed = _ok(client.post(f"{url}/transitions", json={"to": "closed", "resolution": "Dropper removed, "
                             "account reset, gateway rule added."}, headers=me))["data"]
    assert closed["status"] == "closed" and closed["closed_at"] and all(t["done"] for t in closed["tasks"])

    # The full timeline, in event-time order, holds every kind.
    export = client.get(f"{url}/timeline/export?format=json", headers=me).json["entries"]
    assert {"event", "comment", "alert_link", "attachment", "task_done", "status_change", "assignment"} <= {
        e["kind"] for e in export}
    events = [e["body"] for e in export if e["kind"] == "event"]
    assert events == ["User opened invoice.docm from email", "powershell -enc fetched stage two",
                      "WS-0042 isolated by EDR"]

    # Every change is in the audit log, and the chain is intact.
    _key, auditor_key = factories.make_api_key(tenant_a, scopes=["audit:read"], name="auditor")
    actions, cursor = [], ""
    while True:
        page = _ok(client.get(f"{API}/audit?limit=200{cursor}", headers=bearer(auditor_key)))
        actions += [r["action"] for r in page["data"]]
        if not page["meta"]["next_cursor"]:
            break
        cursor = f"&cursor={page['meta']['next_cursor']}"
    expected = {"alert.batch_ingested": 1, "alert.acknowledged": 1, "alert.assigned": 1, "case.created": 1,
                "case.alerts_linked": 2, "alert.started": 3, "case.timeline_event_added": 3, "case.commented": 1,
                "case.attachment_added": 1, "case.task_added": 1, "case.task_completed": len(tasks),
                "case.status_changed": 5, "case.closed": 1}
    assert {a: actions.count(a) for a in expected} == expected
    assert _ok(client.post(f"{API}/audit/verify", headers=bearer(auditor_key)))["data"]["ok"] is True
