"""Deduplication settings: the admin page and the API change them, validated and audited, and ingest follows."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.soc.models import Alert
from app.soc.services import ingest_ocsf_batch
from tests import factories
from tests.api.conftest import assert_error, bearer
from tests.conftest import csrf_from
from tests.soc.conftest import detection_finding

HX = {"HX-Request": "true"}


def _settings_audit() -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "alert.settings_changed")))


def _alert_count(tenant) -> int:
    db.session.expire_all()
    with tenant_context(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(Alert))


def test_admin_changes_fields_and_window_and_ingest_follows(login_as, tenant_a):
    client = login_as("admin")
    page = client.get("/soc/settings")
    form = page.forms["dedup-form"]
    ticked = {f.value for f in form.fields["fingerprint_fields"] if f.checked}
    assert ticked == {"source", "rule_name", "primary_observable"}
    assert form["window"].value == "1440"
    for field in form.fields["fingerprint_fields"]:
        field.checked = field._value in ("source", "rule_name")
    form["window"] = "60"
    res = form.submit(status=303)
    assert "Deduplication settings saved." in res.follow().text
    [record] = _settings_audit()
    assert record.before["fingerprint_fields"] == ["source", "rule_name", "primary_observable"]
    assert record.after == {"fingerprint_fields": ["source", "rule_name"], "dedup_window_minutes": 60}
    # Two events from different hosts now merge (the observable is no longer in the fingerprint).
    other_host = detection_finding(observables=[{"name": "ip", "type_id": 2, "value": "198.51.100.99"}])
    with tenant_context(tenant_a):
        results = ingest_ocsf_batch([detection_finding(), other_host], actor=system_actor(tenant_a))
    assert [r.status for r in results] == ["created", "deduplicated"]


def test_bad_values_are_422_beside_the_fields_and_nothing_changes(login_as, tenant_a):
    client = login_as("admin")
    form = client.get("/soc/settings").forms["dedup-form"]
    for field in form.fields["fingerprint_fields"]:
        field.checked = False
    form["window"] = "99999999"
    res = form.submit(headers=HX, status=422)
    assert res.text.lstrip().startswith('<article id="dedup-settings"')
    assert "Choose at least one field." in res.pyquery("fieldset").text()
    assert "90 days" in res.pyquery("#dedup-window-error").text()
    assert res.pyquery("#dedup-window").attr("value") == "99999999"  # what was typed stays
    form["window"] = "two hours"
    res = form.submit(status=422)
    assert "<html" in res.text and "whole number of minutes" in res.text
    assert _settings_audit() == []


def test_the_htmx_save_answers_the_fragment(login_as):
    client = login_as("admin")
    form = client.get("/soc/settings").forms["dedup-form"]
    form["window"] = "0"
    res = form.submit(headers=HX)
    assert res.status_int == 200 and "<html" not in res.text
    assert res.pyquery("#dedup-window").attr("value") == "0"
    assert json.loads(res.headers["HX-Trigger"])["flash"]["message"] == "Deduplication settings saved."


def test_only_admins_change_settings(login_as):
    analyst = login_as("analyst")
    assert analyst.get("/soc/settings", status=403)
    token = csrf_from(analyst.get("/account/security"))
    assert analyst.post("/soc/settings/dedup", {"window": "5", "csrf_token": token}, status=403)
    assert _settings_audit() == []


def test_api_reads_and_changes_settings(client, member_token, tenant_a):
    _m, admin = member_token(tenant_a, role="admin")
    _m, analyst = member_token(tenant_a, role="analyst")
    res = client.get("/api/v1/alerts/settings", headers=bearer(analyst))
    data = res.json["data"]
    assert data["fingerprint_fields"] == ["source", "rule_name", "primary_observable"]
    assert data["dedup_window_minutes"] == 1440 and data["max_window_minutes"] == 129_600
    assert "observable:ip" in data["available_fields"]
    assert_error(client.patch("/api/v1/alerts/settings", json={"dedup_window_minutes": 5}, headers=bearer(analyst)),
                 403, "forbidden")
    error = assert_error(client.patch("/api/v1/alerts/settings", json={"fingerprint_fields": ["colour"]},
                                      headers=bearer(admin)), 422, "validation_failed")
    assert "colour" in error["details"]["fields"]["fingerprint_fields"][0]
    res = client.patch("/api/v1/alerts/settings", json={"fingerprint_fields": ["source", "title"],
                                                        "dedup_window_minutes": 30}, headers=bearer(admin))
    assert res.status_code == 200
    assert res.json["data"]["fingerprint_fields"] == ["source", "title"]
    assert [r.after["dedup_window_minutes"] for r in _settings_audit()] == [30]


def test_settings_are_per_tenant(client, member_token, tenant_a, tenant_b):
    _m, admin_a = member_token(tenant_a, role="admin")
    _m, admin_b = member_token(tenant_b, role="admin")
    client.patch("/api/v1/alerts/settings", json={"dedup_window_minutes": 0}, headers=bearer(admin_a))
    assert client.get("/api/v1/alerts/settings", headers=bearer(admin_b)).json["data"]["dedup_window_minutes"] == 1440
    factories.make_alert(tenant_b)
    assert _alert_count(tenant_b) == 1
