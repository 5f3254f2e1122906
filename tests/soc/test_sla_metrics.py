"""MTTA and MTTR per severity, checked against figures worked out by hand."""

from __future__ import annotations

import pytest

from app.core.tenancy import tenant_context
from app.soc.sla import mean_times
from tests.soc.sla_helpers import NOW, alert_at, case_at, minutes_ago


def _by_severity(rows) -> dict:
    return {r["severity"]: r for r in rows}


@pytest.fixture
def month(tenant_a, tenant_b):
    """Critical targets 15 min / 4 h, high 1 h / 24 h (defaults); times in minutes before NOW."""
    alert_at(tenant_a, created=minutes_ago(60), acknowledged=minutes_ago(50), closed=minutes_ago(-40))  # ack 600 s
    alert_at(tenant_a, created=minutes_ago(600), acknowledged=minutes_ago(580), closed=minutes_ago(300))  # late both
    alert_at(tenant_a, created=minutes_ago(30))  # not acknowledged, overdue: a miss
    alert_at(tenant_a, created=minutes_ago(5))  # not acknowledged, not due yet: not counted in the share
    alert_at(tenant_a, created=minutes_ago(8 * 24 * 60), acknowledged=minutes_ago(8 * 24 * 60 - 1))  # outside 7 d
    alert_at(tenant_a, severity="high", created=minutes_ago(120), acknowledged=minutes_ago(90))  # ack 1800 s
    alert_at(tenant_a, severity="info", created=minutes_ago(100), acknowledged=minutes_ago(50))  # ack 3000 s
    case_at(tenant_a, severity="high", created=minutes_ago(3000), acknowledged=minutes_ago(2940),  # exactly 1 h
            closed=minutes_ago(1000))  # resolved after 2000 min: late
    alert_at(tenant_b, created=minutes_ago(40), acknowledged=minutes_ago(39))  # another tenant's


def test_alert_mean_times_per_severity(month, tenant_a):
    with tenant_context(tenant_a):
        figures = mean_times(7, now=NOW)
    alerts = _by_severity(figures["alerts"])
    assert alerts["critical"] == {
        "severity": "critical", "count": 4, "ack_target_minutes": 15, "resolve_target_minutes": 240,
        "acknowledged": 2, "mtta_seconds": 900, "ack_within_target_pct": 33.3,
        "resolved": 2, "mttr_seconds": 12000, "resolve_within_target_pct": 50.0}
    assert alerts["high"] | {} == {
        "severity": "high", "count": 1, "ack_target_minutes": 60, "resolve_target_minutes": 1440,
        "acknowledged": 1, "mtta_seconds": 1800, "ack_within_target_pct": 100.0,
        "resolved": 0, "mttr_seconds": None, "resolve_within_target_pct": None}
    assert (alerts["info"]["mtta_seconds"], alerts["info"]["ack_within_target_pct"]) == (3000, None)
    assert alerts["low"]["count"] == 0 and alerts["low"]["mtta_seconds"] is None
    assert alerts["all"] | {} == {
        "severity": "all", "count": 6, "ack_target_minutes": None, "resolve_target_minutes": None,
        "acknowledged": 4, "mtta_seconds": 1650, "ack_within_target_pct": 50.0,
        "resolved": 2, "mttr_seconds": 12000, "resolve_within_target_pct": 50.0}


def test_case_mean_times(month, tenant_a):
    with tenant_context(tenant_a):
        cases = _by_severity(mean_times(7, now=NOW)["cases"])
    assert (cases["high"]["mtta_seconds"], cases["high"]["ack_within_target_pct"]) == (3600, 100.0)
    assert (cases["high"]["mttr_seconds"], cases["high"]["resolve_within_target_pct"]) == (120000, 0.0)
    assert cases["critical"]["count"] == 0


def test_the_window_bounds_what_counts(month, tenant_a):
    with tenant_context(tenant_a):
        wide = _by_severity(mean_times(30, now=NOW)["alerts"])
    assert (wide["critical"]["count"], wide["critical"]["acknowledged"]) == (5, 3)
    assert wide["critical"]["mtta_seconds"] == round((600 + 1200 + 60) / 3)


def test_mean_times_is_plain_data_ordered_by_urgency(month, tenant_a):
    import json

    with tenant_context(tenant_a):
        figures = mean_times(30, now=NOW)
    assert [r["severity"] for r in figures["alerts"]] == ["critical", "high", "medium", "low", "info", "all"]
    assert figures["window_days"] == 30 and figures["until"] == NOW.isoformat()
    json.dumps(figures)  # dashboards and reports can store it as is


def test_another_tenant_sees_only_its_own(month, tenant_b):
    with tenant_context(tenant_b):
        alerts = _by_severity(mean_times(7, now=NOW)["alerts"])
    assert (alerts["critical"]["count"], alerts["critical"]["mtta_seconds"]) == (1, 60)
