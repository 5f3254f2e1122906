"""The compliance API: envelope, OpenAPI, controls CRUD, mappings, multipart evidence, review, scores, gaps."""

from __future__ import annotations

import io

import pytest

from tests.compliance.builders import PDF


@pytest.fixture
def api(client, member_token, tenant_a, library):
    _membership, token = member_token(tenant_a, role="compliance")
    headers = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, **kwargs):
        return client.open(f"/api/v1/compliance{path}", method=method, headers=headers, **kwargs)

    return call


def test_adopt_then_evidence_a_control_and_read_the_score_and_gaps(api):
    frameworks = api("GET", "/frameworks").json
    assert frameworks["success"] and {f["key"] for f in frameworks["data"]} >= {"eu-ai-act-2024", "soc2-2017"}
    assert api("POST", "/frameworks/eu-ai-act-2024/adopt", json={}).status_code == 201
    assert api("POST", "/frameworks/eu-ai-act-2024/adopt", json={}).status_code == 409
    controls = api("GET", "/controls?limit=2").json
    assert len(controls["data"]) == 2 and controls["meta"]["next_cursor"]
    vc01 = next(c for c in api("GET", "/controls").json["data"] if c["key"] == "VC-01")

    refused = api("PATCH", f"/controls/{vc01['id']}", json={"status": "not_applicable"})
    assert refused.status_code == 422 and "justification" in refused.json["error"]["details"]["fields"]
    done = api("PATCH", f"/controls/{vc01['id']}", json={"status": "implemented", "due_date": "2030-01-01"})
    assert done.json["data"]["status"] == "implemented"

    upload = api("POST", "/evidence", data={"file": (io.BytesIO(PDF), "risk.pdf"), "controls": vc01["id"],
                                            "title": "Risk register"}, content_type="multipart/form-data")
    assert upload.status_code == 201, upload.json
    ev = upload.json["data"]
    assert ev["content_type"] == "application/pdf" and len(ev["sha256"]) == 64 and ev["controls"] == [vc01["id"]]
    assert api("GET", "/frameworks/eu-ai-act-2024/score").json["data"]["met"] == 0
    reviewed = api("POST", f"/evidence/{ev['id']}/review", json={"decision": "accepted"})
    assert reviewed.json["data"]["review_status"] == "accepted"
    assert api("GET", "/frameworks/eu-ai-act-2024/score").json["data"] == {"met": 1, "applicable": 4, "total": 4,
                                                                          "percent": 25}
    gaps = api("GET", "/frameworks/eu-ai-act-2024/gaps").json["data"]
    assert {g["ref"] for g in gaps} == {"Art. 5(1)(a)", "Art. 10", "Art. 12"}
    assert [s["key"] for s in api("GET", "/scores").json["data"]] == ["eu-ai-act-2024"]


def test_disallowed_upload_and_link_evidence(api):
    bad = api("POST", "/evidence", data={"file": (io.BytesIO(b"MZ\x90\x00"), "tool.pdf")},
              content_type="multipart/form-data")
    assert bad.status_code == 422 and bad.json["error"]["code"] == "validation_failed"
    link = api("POST", "/evidence", json={"url": "https://wiki.example.com/dr-test", "title": "DR test"})
    assert link.status_code == 201 and link.json["data"]["kind"] == "link"
    assert api("GET", "/evidence").json["data"][0]["title"] == "DR test"


def test_controls_and_mappings_crud(api):
    created = api("POST", "/controls", json={"key": "ACME-1", "name": "Board AI briefing"})
    assert created.status_code == 201
    control = created.json["data"]
    assert api("POST", "/controls", json={"key": "ACME-1", "name": "Again"}).status_code == 422
    reqs = api("GET", "/frameworks/soc2-2017/requirements").json["data"]
    leaf = next(r for r in reqs if r["is_leaf"])
    group = next(r for r in reqs if not r["is_leaf"])
    assert api("POST", f"/controls/{control['id']}/mappings", json={"requirement": group["id"]}).status_code == 422
    mapped = api("POST", f"/controls/{control['id']}/mappings", json={"requirement": leaf["id"]})
    assert mapped.status_code == 201 and mapped.json["data"]["framework"] == "soc2-2017"
    assert [m["ref"] for m in api("GET", f"/controls/{control['id']}/mappings").json["data"]] == [leaf["ref"]]
    assert api("DELETE", f"/controls/{control['id']}/mappings/{leaf['id']}").status_code == 200
    assert api("GET", f"/requirements/{leaf['id']}").json["data"]["ref"] == leaf["ref"]
    assert api("DELETE", f"/controls/{control['id']}").status_code == 200
    assert api("GET", f"/controls/{control['id']}").status_code == 404


def test_a_read_only_key_cannot_write_and_openapi_lists_the_routes(client, tenant_a, library):
    from tests import factories

    _key, raw = factories.make_api_key(tenant_a, scopes=["compliance:read"])
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/compliance/frameworks", headers=headers).status_code == 200
    res = client.post("/api/v1/compliance/controls", headers=headers, json={"key": "X", "name": "Y"})
    assert res.status_code == 403
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/compliance/evidence/{evidence_id}/review" in spec["paths"]
    assert "multipart/form-data" in spec["paths"]["/api/v1/compliance/evidence"]["post"]["summary"]
