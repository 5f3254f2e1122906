"""The SLA API: targets (read, replace), breaches with filters and paging, metrics; roles and tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.soc.sla import check_breaches
from tests import factories
from tests.api.conftest import assert_error, audit_actions, bearer
from tests.soc.sla_helpers import alert_at, case_at

BASE = "/api/v1/sla"


@pytest.fixture
def admin(client, member_token, tenant_a):
    _m, token = member_token(tenant_a, role="admin")
    return bearer(token)


@pytest.fixture
def breached(tenant_a):
    """Three breaches due within the last hour: two critical alerts and a high case."""
    now = utcnow()
    alerts = [alert_at(tenant_a, created=now - timedelta(minutes=30 + i), title=f"Alert {i}") for i in range(2)]
    case = case_at(tenant_a, severity="high", created=now - timedelta(minutes=90))
    check_breaches(now)
    return alerts, case


def test_targets_list_every_severity_with_defaults(client, admin):
    res = client.get(f"{BASE}/targets", headers=admin)
    assert res.status_code == 200 and res.json["success"]
    assert res.json["data"][0] == {"severity": "critical", "ack_minutes": 15, "resolve_minutes": 240,
                                   "is_default": True}
    assert [t["severity"] for t in res.json["data"]] == ["critical", "high", "medium", "low", "info"]


def test_put_replaces_the_listed_severities(client, admin):
    res = client.put(f"{BASE}/targets", headers=admin, json={"targets": [
        {"severity": "high", "ack_minutes": 20, "resolve_minutes": 600},
        {"severity": "info", "resolve_minutes": 10080}]})
    assert res.status_code == 200, res.json
    by = {t["severity"]: t for t in res.json["data"]}
    assert by["high"] == {"severity": "high", "ack_minutes": 20, "resolve_minutes": 600, "is_default": False}
    assert (by["info"]["ack_minutes"], by["info"]["resolve_minutes"]) == (None, 10080)
    assert by["critical"]["is_default"] is True
    assert client.get(f"{BASE}/targets", headers=admin).json["data"][1]["ack_minutes"] == 20
    assert len(audit_actions("sla.targets_changed")) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"targets": [{"severity": "high", "ack_minutes": 90, "resolve_minutes": 30}]}, "high.resolve_minutes"),
    ({"targets": [{"severity": "high", "ack_minutes": -1}]}, "high.ack_minutes"),
    ({"targets": [{"severity": "urgent", "ack_minutes": 5}]}, "urgent"),
    ({"targets": [{"severity": "high", "ack_minutes": "soon"}]}, "targets.0.ack_minutes"),
    ({"targets": []}, "targets"),
])
def test_put_rejects_bad_targets_with_the_field(client, admin, body, field):
    res = client.put(f"{BASE}/targets", headers=admin, json=body)
    error = assert_error(res, 422, "validation_failed")
    assert field in error["details"]["fields"]
    assert client.get(f"{BASE}/targets", headers=admin).json["data"][1]["ack_minutes"] == 60


def test_only_admins_may_put_targets(client, member_token, tenant_a):
    _m, token = member_token(tenant_a, role="analyst")
    headers = bearer(token)
    assert client.get(f"{BASE}/targets", headers=headers).status_code == 200
    res = client.put(f"{BASE}/targets", headers=headers, json={"targets": [{"severity": "high", "ack_minutes": 5}]})
    assert_error(res, 403, "forbidden")
    _k, raw = factories.make_api_key(tenant_a, scopes=["alerts:write", "cases:write"])
    res = client.put(f"{BASE}/targets", headers=bearer(raw), json={"targets": [{"severity": "high"}]})
    assert_error(res, 403, "forbidden")


def test_breaches_list_filters_and_pages(client, admin, breached):
    alerts, case = breached
    res = client.get(f"{BASE}/breaches", headers=admin)
    assert res.status_code == 200
    rows = res.json["data"]
    assert {(r["subject_reference"], r["kind"]) for r in rows} == {
        (alerts[0].reference, "acknowledge"), (alerts[1].reference, "acknowledge"), (case.reference, "acknowledge")}
    case_row = next(r for r in rows if r["subject_type"] == "case")
    assert (case_row["subject_id"], case_row["severity"], case_row["target_minutes"]) == (case.public_id, "high", 60)
    only_cases = client.get(f"{BASE}/breaches?subject_type=case", headers=admin).json["data"]
    assert [r["subject_id"] for r in only_cases] == [case.public_id]
    assert client.get(f"{BASE}/breaches?severity=critical&kind=acknowledge", headers=admin).json["data"][0][
        "severity"] == "critical"
    assert client.get(f"{BASE}/breaches?kind=resolve", headers=admin).json["data"] == []
    first = client.get(f"{BASE}/breaches?limit=2", headers=admin).json
    second = client.get(f"{BASE}/breaches?limit=2&cursor={first['meta']['next_cursor']}", headers=admin).json
    assert len(first["data"]) == 2 and len(second["data"]) == 1 and second["meta"]["next_cursor"] is None
    assert {r["id"] for r in first["data"] + second["data"]} == {r["id"] for r in rows}


def test_bad_breach_filters_are_422(client, admin):
    error = assert_error(client.get(f"{BASE}/breaches?kind=late&window=5", headers=admin), 422, "validation_failed")
    assert set(error["details"]["fields"]) == {"kind", "window"}


def test_metrics(client, admin, breached):
    res = client.get(f"{BASE}/metrics?window=7", headers=admin)
    assert res.status_code == 200
    data = res.json["data"]
    assert data["window_days"] == 7
    critical = data["alerts"][0]
    assert (critical["severity"], critical["count"], critical["ack_within_target_pct"]) == ("critical", 2, 0.0)
    assert data["cases"][1]["severity"] == "high" and data["cases"][1]["count"] == 1
    assert_error(client.get(f"{BASE}/metrics?window=365", headers=admin), 422, "validation_failed")


def test_api_keys_with_alert_read_may_read(client, tenant_a, breached):
    _k, raw = factories.make_api_key(tenant_a, scopes=["alerts:read"])
    for path in ("targets", "breaches", "metrics"):
        assert client.get(f"{BASE}/{path}", headers=bearer(raw)).status_code == 200
    _k, raw = factories.make_api_key(tenant_a, scopes=["compliance:read"])
    assert_error(client.get(f"{BASE}/breaches", headers=bearer(raw)), 403, "forbidden")


def test_another_tenant_sees_none_of_it(client, member_token, tenant_a, tenant_b, breached):
    _m, token = member_token(tenant_b, role="admin")
    headers = bearer(token)
    assert client.get(f"{BASE}/breaches", headers=headers).json["data"] == []
    assert client.get(f"{BASE}/metrics", headers=headers).json["data"]["alerts"][-1]["count"] == 0
    res = client.put(f"{BASE}/targets", headers=headers, json={"targets": [
        {"severity": "critical", "ack_minutes": 1, "resolve_minutes": 2}]})
    assert res.status_code == 200
    _k, raw = factories.make_api_key(tenant_a, scopes=["alerts:read"])
    assert client.get(f"{BASE}/targets", headers=bearer(raw)).json["data"][0]["ack_minutes"] == 15


def test_openapi_documents_the_sla_routes(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, method in (("/api/v1/sla/targets", "get"), ("/api/v1/sla/targets", "put"),
                         ("/api/v1/sla/breaches", "get"), ("/api/v1/sla/metrics", "get")):
        assert spec["paths"][path][method]["tags"] == ["sla"], (path, method)
    assert "TargetsIn" in spec["components"]["schemas"] and "MetricsOut" in spec["components"]["schemas"]
