"""The targets admin page and service: defaults, human units, validation, audit, who may change them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import Forbidden, ValidationFailed
from app.core.tenancy import tenant_context
from app.soc.models import AlertSeverity as S
from app.soc.sla import current_targets, update_targets
from tests.conftest import csrf_from

URL = "/soc/sla/targets"
HX = {"HX-Request": "true"}


def _targets(tenant) -> dict[str, tuple]:
    with tenant_context(tenant):
        return {s.value: (t.ack_minutes, t.resolve_minutes) for s, t in current_targets().items()}


def _post(client, page, headers=None, **values):
    data = {"csrf_token": csrf_from(page)}
    for field in page.pyquery("#sla-targets-form input[type=text], #sla-targets-form select").items():
        data[field.attr("name")] = field.val() or ""
    data.update(values)
    return client.post(URL, data, headers=headers or {}, status="*")


def test_defaults_are_shown_in_human_units(login_as):
    page = login_as("admin").get(URL)
    form = page.pyquery("#sla-targets-form")
    assert (form.find("#critical-ack").val(), form.find("#critical-ack-unit option[selected]").val()) == ("15", "min")
    assert (form.find("#critical-resolve").val(), form.find("#critical-resolve-unit option[selected]").val()) == (
        "4", "h")
    assert (form.find("#medium-resolve").val(), form.find("#medium-resolve-unit option[selected]").val()) == ("3", "d")
    assert form.find("#info-ack").val() == ""
    assert "15 min / 4 h" in form.text() and "default" in form.text()


def test_saving_targets_converts_units_and_is_audited(login_as, tenant_a):
    client = login_as("admin")
    page = client.get(URL)
    res = _post(client, page, **{"high-ack": "30", "high-ack-unit": "min", "high-resolve": "2",
                                 "high-resolve-unit": "d", "info-resolve": "14", "info-resolve-unit": "d"})
    assert res.status_int == 303 and res.location.endswith(URL)
    assert _targets(tenant_a)["high"] == (30, 2 * 24 * 60)
    assert _targets(tenant_a)["info"] == (None, 14 * 24 * 60)
    assert _targets(tenant_a)["critical"] == (15, 240)  # unchanged
    record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "sla.targets_changed"))
    assert record.before == {"high": {"ack_minutes": 60, "resolve_minutes": 1440},
                             "info": {"ack_minutes": None, "resolve_minutes": None}}
    assert record.after["high"] == {"ack_minutes": 30, "resolve_minutes": 2880}
    again = client.get(URL).pyquery("#sla-targets-form")
    assert (again.find("#high-resolve").val(), again.find("#high-resolve-unit option[selected]").val()) == ("2", "d")


def test_saving_with_htmx_returns_the_form_and_a_flash(login_as, tenant_a):
    client = login_as("admin")
    res = _post(client, client.get(URL), headers=HX, **{"low-ack": "12", "low-ack-unit": "h"})
    assert res.status_int == 200 and "<html" not in res.text
    assert "SLA targets saved." in res.headers["HX-Trigger"]
    assert res.pyquery("#low-ack").val() == "12"
    assert _targets(tenant_a)["low"] == (12 * 60, 7 * 24 * 60)


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"high-ack": "abc"}, "high-ack", "whole number greater than 0"),
    ({"high-ack": "0"}, "high-ack", "whole number greater than 0"),
    ({"high-ack": "-5"}, "high-ack", "whole number greater than 0"),
    ({"high-ack": "1.5"}, "high-ack", "whole number greater than 0"),
    ({"high-ack": "3", "high-ack-unit": "d", "high-resolve": "1", "high-resolve-unit": "d"}, "high-resolve",
     "cannot be shorter than time to acknowledge"),
    ({"high-resolve": "400", "high-resolve-unit": "d"}, "high-resolve", "at most 365 days"),
    ({"high-ack": "5", "high-ack-unit": "weeks"}, "high-ack", "minutes, hours or days"),
])
def test_bad_targets_are_422_with_the_message_by_the_field(login_as, tenant_a, values, field, message):
    client = login_as("admin")
    res = _post(client, client.get(URL), **values)
    assert res.status_int == 422
    assert message in res.pyquery(f"#{field}-error").text()
    assert res.pyquery(f"#{field}").attr("aria-invalid") == "true"
    assert "nothing was saved" in res.pyquery(".form-error").text()
    if "high-ack" in values:
        assert res.pyquery("#high-ack").val() == values["high-ack"]  # what was typed is kept
    assert _targets(tenant_a)["high"] == (60, 1440)


def test_all_errors_are_reported_at_once(login_as):
    client = login_as("admin")
    res = _post(client, client.get(URL), headers=HX, **{"high-ack": "x", "low-ack": "9", "low-ack-unit": "d",
                                                        "low-resolve": "1", "low-resolve-unit": "d"})
    assert res.status_int == 422 and "<html" not in res.text
    assert res.pyquery("#high-ack-error") and res.pyquery("#low-resolve-error")


@pytest.mark.parametrize("role", ["analyst", "responder", "auditor", "compliance"])
def test_only_admins_manage_targets(login_as, tenant_a, role):
    client = login_as(role)
    assert client.get(URL, status="*").status_int == 403
    token = csrf_from(client.get("/account/security"))
    assert client.post(URL, {"csrf_token": token, "high-ack": "1", "high-ack-unit": "min"},
                       status="*").status_int == 403
    assert _targets(tenant_a)["high"] == (60, 1440)


def test_service_refuses_without_the_permission(tenant_a):
    from app.core.actors import Actor

    analyst = Actor(tenant=tenant_a, permissions=frozenset({"alert:read", "alert:write"}), label="ana")
    with tenant_context(tenant_a), pytest.raises(Forbidden):
        update_targets({"high": {"ack_minutes": 5, "resolve_minutes": 10}}, actor=analyst)


def test_service_validation_names_each_field(tenant_a):
    with tenant_context(tenant_a), pytest.raises(ValidationFailed) as info:
        update_targets({"critical": {"ack_minutes": 0, "resolve_minutes": True}, "urgent": {}},
                       actor=system_actor(tenant_a))
    assert set(info.value.field_errors) == {"critical.ack_minutes", "critical.resolve_minutes", "urgent"}


def test_targets_are_per_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        update_targets({S.CRITICAL.value: {"ack_minutes": 5, "resolve_minutes": 60}}, actor=system_actor(tenant_a))
    assert _targets(tenant_a)["critical"] == (5, 60)
    assert _targets(tenant_b)["critical"] == (15, 240)


def test_a_post_without_a_severitys_fields_keeps_its_targets(login_as, tenant_a):
    client = login_as("admin")
    token = csrf_from(client.get(URL))
    res = client.post(URL, {"csrf_token": token, "high-ack": "", "high-resolve": "2", "high-resolve-unit": "d"})
    assert res.status_int == 303
    assert _targets(tenant_a)["high"] == (None, 2 * 24 * 60)  # emptied: no target
    assert _targets(tenant_a)["critical"] == (15, 240)  # not sent: unchanged
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "sla.targets_changed")) == 1
