"""The dashboard's SOC tiles: the numbers, their links into the filtered queue, who sees them."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.home.charts import bar_chart, nice_ceiling
from app.soc import tallies
from app.soc.models import Alert
from app.soc.services import close_alert, start_alert
from tests import factories


def _tile_numbers(page, attr: str) -> dict[str, int]:
    return {a.attr(attr): int(a.find(".num").text().replace(",", "")) for a in page.pyquery(f"a[{attr}]").items()}


def _seed(tenant, in_tenant):
    made = [factories.make_alert(tenant, severity=sev, source=src)
            for sev, src in [("critical", "EDR"), ("critical", "EDR"), ("high", "Okta"), ("low", "Okta"),
                             ("medium", "GuardDuty"), ("info", "EDR")]]
    actor = system_actor(tenant)
    with in_tenant(tenant):
        alerts = [db.session.get(Alert, a.id) for a in made]
        start_alert(alerts[1], actor=actor)
        close_alert(alerts[0], "true_positive", actor=actor)
        close_alert(alerts[5], "benign", actor=actor)
    factories.make_case(tenant, title="Phishing wave")
    factories.make_case(tenant, title="Beaconing host")


def test_tiles_count_open_alerts_by_severity_status_source_and_open_cases(login_as, tenant_a, tenant_b, in_tenant):
    _seed(tenant_a, in_tenant)
    factories.make_alert(tenant_b, severity="critical", source="Elsewhere")  # another tenant's: never counted
    page = login_as("analyst").get("/dashboard")
    assert page.pyquery("#open-alerts").text() == "4"
    assert _tile_numbers(page, "data-severity") == {"critical": 1, "high": 1, "medium": 1, "low": 1, "info": 0}
    assert _tile_numbers(page, "data-status") == {"new": 3, "acknowledged": 0, "in_progress": 1, "closed": 2}
    assert _tile_numbers(page, "data-source") == {"Okta": 2, "EDR": 1, "GuardDuty": 1}
    assert [a.attr("data-source") for a in page.pyquery("a[data-source]").items()] == ["Okta", "EDR", "GuardDuty"]
    assert page.pyquery("#open-cases").text() == "2"
    assert _tile_numbers(page, "data-case-status")["new"] == 2
    assert "Elsewhere" not in page.text


def test_each_number_opens_the_queue_with_that_filter_and_shows_as_many(login_as, tenant_a, in_tenant):
    _seed(tenant_a, in_tenant)
    client = login_as("analyst")
    page = client.get("/dashboard")
    for attr in ("data-severity", "data-status", "data-source"):
        for link in page.pyquery(f"a[{attr}]").items():
            expected = int(link.find(".num").text())
            query = parse_qs(urlsplit(link.attr("href")).query)
            assert query[attr.removeprefix("data-")] == [link.attr(attr)]
            queue = client.get(link.attr("href"))
            assert len(queue.pyquery("td.cell-ref a")) == expected, link.attr("href")
    cases = page.pyquery("a[data-case-status=new]").attr("href")
    assert parse_qs(urlsplit(cases).query) == {"status": ["new"]}
    assert "Phishing wave" in client.get(cases).text


def test_daily_volume_chart_is_server_rendered_svg_with_a_bar_per_day(login_as, tenant_a, in_tenant):
    for _ in range(3):
        factories.make_alert(tenant_a)
    with in_tenant(tenant_a):  # two alerts first seen ten days ago, loaded in bulk and rebuilt as the bench does
        factories_ids = [factories.make_alert(tenant_a).id for _ in range(2)]
        db.session.execute(sa.update(Alert).where(Alert.id.in_(factories_ids))
                           .values(first_seen=utcnow() - timedelta(days=10)))
        tallies.rebuild(tenant_a.id)
        db.session.commit()
    page = login_as("analyst").get("/dashboard")
    bars = page.pyquery("svg.bar-chart rect.bar")
    assert len(bars) == 30
    titles = [b.text() for b in bars.items()]
    assert titles[-1].endswith(": 3 alerts") and titles[-11].endswith(": 2 alerts")
    assert sum(int(t.split(": ")[1].split()[0]) for t in titles) == 5
    assert float(bars.eq(-1).attr("height")) > float(bars.eq(-11).attr("height")) > 0
    assert float(bars.eq(0).attr("height")) == 0
    assert "style=" not in page.text and "<script>" not in page.text


def test_roles_without_alert_access_see_no_soc_tiles(login_as, tenant_a, in_tenant):
    _seed(tenant_a, in_tenant)
    page = login_as("compliance").get("/dashboard")
    assert not page.pyquery("#soc-tiles")
    assert login_as("responder").get("/dashboard").pyquery("#open-alerts").text() == "4"


def test_the_tiles_read_the_rollups_not_the_alerts(login_as, tenant_a, in_tenant):
    """What makes the tiles cheap at 200,000 alerts: an alert written behind the services' back is not counted."""
    factories.make_alert(tenant_a, severity="high")
    with in_tenant(tenant_a):
        db.session.execute(sa.update(Alert).values(severity="critical"))
        db.session.commit()
    page = login_as("analyst").get("/dashboard")
    assert _tile_numbers(page, "data-severity")["high"] == 1


def test_bar_chart_scales_to_a_round_ceiling():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 480, 5001)] == [1, 1, 5, 10, 10, 20, 500, 10000]
    chart = bar_chart([("a", 0, "a"), ("b", 25, None), ("c", 50, None)])
    assert chart.ceiling == 50 and chart.total == 75
    heights = [b.height for b in chart.bars]
    assert heights[0] == 0 and heights[1] * 2 == heights[2]
    assert chart.bars[2].y == chart.top and chart.bars[0].y + chart.bars[0].height == chart.baseline
