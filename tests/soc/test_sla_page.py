"""The SLA page: mean times, breach list with filters in the URL, HTMX swaps and paging, window choice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.soc.sla import check_breaches
from tests.soc.sla_helpers import alert_at, case_at

URL = "/soc/sla"
HX = {"HX-Request": "true"}


@pytest.fixture
def breached(tenant_a, tenant_b):
    now = utcnow()
    crit = alert_at(tenant_a, created=now - timedelta(minutes=40), title="Ransomware note dropped")
    old = alert_at(tenant_a, severity="low", created=now - timedelta(days=60), title="Old low alert")
    case = case_at(tenant_a, severity="high", created=now - timedelta(hours=3), title="Phishing wave")
    other = alert_at(tenant_b, created=now - timedelta(minutes=40), title="Tenant B secret alert")
    check_breaches(now)
    return {"crit": crit, "old": old, "case": case, "other": other}


def _subjects(res) -> list[str]:
    return [a.text() for a in res.pyquery("#sla-breaches tbody tr td.cell-subject a").items()]


def test_page_lists_breaches_and_mean_times(login_as, breached):
    res = login_as("responder").get(URL)
    assert set(_subjects(res)) == {breached["crit"].reference, breached["case"].reference}
    assert "Tenant B secret alert" not in res.text
    assert res.pyquery(".sla-times caption").text() == "Alerts Cases"
    alerts_table = res.pyquery(".sla-times").eq(0)
    assert "Critical" in alerts_table.find("tbody tr").eq(0).text()
    assert "0.0%" in alerts_table.find("tbody tr").eq(0).text()  # one critical alert, acknowledged late
    row = res.pyquery("#sla-breaches tbody tr").filter(lambda i, tr: "Phishing wave" in tr.text_content())
    assert "Acknowledge" in row.text() and "within 1 h" in row.text()
    assert "Targets" not in res.pyquery(".page-actions").text()  # responders do not manage targets


def test_window_choice_is_in_the_url(login_as, breached):
    client = login_as("analyst")
    assert breached["old"].reference not in _subjects(client.get(URL))
    wide = client.get(URL + "?window=90")
    assert breached["old"].reference in _subjects(wide)
    assert wide.pyquery(".sla-windows [aria-current]").text() == "90 days"
    assert "last 90 days" in wide.pyquery(".sla-cards").text()
    assert client.get(URL + "?window=12", status=422).pyquery("#sla-breaches .form-error")


def test_filters_swap_the_list_with_htmx(login_as, breached):
    client = login_as("analyst")
    res = client.get(URL + "?subject_type=case", headers=HX)
    assert "<html" not in res.text and res.pyquery("#sla-breaches")
    assert _subjects(res) == [breached["case"].reference]
    assert _subjects(client.get(URL + "?severity=critical&kind=acknowledge")) == [breached["crit"].reference]
    none = client.get(URL + "?kind=resolve")
    assert _subjects(none) == [] and "No breaches" in none.text
    bad = client.get(URL + "?kind=late", headers=HX, status=422)
    assert "<html" not in bad.text and "kind" in bad.pyquery(".form-error").text()


def test_load_more_pages_the_breaches(login_as, tenant_a, monkeypatch):
    from app.soc.sla import views

    now = utcnow()
    for i in range(5):
        alert_at(tenant_a, created=now - timedelta(minutes=30 + i))
    check_breaches(now)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client = login_as("analyst")
    page = client.get(URL)
    assert len(_subjects(page)) == 2
    more = page.pyquery("#breach-more a")
    res = client.get(more.attr("hx-get"), headers=HX)
    assert "<html" not in res.text and len(res.pyquery("tr[id^=breach-]").not_("#breach-more")) == 2
    plain = client.get(more.attr("href"))
    assert "<html" in plain.text and len(_subjects(plain)) == 2


def test_admins_get_a_link_to_the_targets(login_as):
    res = login_as("admin").get(URL)
    assert res.pyquery(".page-actions a").attr("href") == "/soc/sla/targets"
