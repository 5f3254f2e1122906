"""Risk register pages (no JS and HTMX): heatmap cell filter, bad input keeps what was typed, acceptance
through the page with a passkey approval, stale forms, settings; and the API."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.core.db import db
from app.governance.risks_models import Acceptance, Risk, Treatment
from tests import factories
from tests.conftest import csrf_from
from tests.governance.test_policies import approve_with_passkey
from tests.identity.authenticators import SoftAuthenticator
from tests.identity.test_passkeys import register

HX = {"HX-Request": "true"}


def _new(officer, **fields):
    form = officer.get("/governance/risks/new").forms[1]
    values = {"title": "Vendor outage", "category": "third_party", "inherent_likelihood": "4",
              "inherent_impact": "4", "residual_likelihood": "3", "residual_impact": "4"} | fields
    for key, value in values.items():
        form[key] = value
    return form.submit(status="*")


def _risk(tenant, in_tenant, title="Vendor outage") -> Risk:
    db.session.expire_all()
    with in_tenant(tenant):
        return db.session.scalar(sa.select(Risk).where(Risk.title == title))


def test_heatmap_cells_filter_the_list_with_htmx_and_without(login_as, tenant_a):
    factories.make_risk(tenant_a, title="High one", residual_likelihood=4, residual_impact=5)
    factories.make_risk(tenant_a, title="Low one", residual_likelihood=1, residual_impact=2)
    officer = login_as("compliance")
    page = officer.get("/governance/risks")
    cell = page.pyquery('a.heat-link[aria-label^="Likelihood 4, impact 5"]')
    assert "1 risk" in cell.attr("aria-label") and cell.find("title").text().endswith("1 risk")
    href = cell.attr("href")
    assert href == "/governance/risks?cell=4-5" and cell.attr("hx-push-url") == "true"
    assert page.pyquery('a.heat-link[aria-label^="Likelihood 1, impact 2"] rect').has_class("heat-cell--low")
    fragment = officer.get(href, headers=HX)
    assert fragment.text.lstrip().startswith("<div id=\"risk-register\"") and "<html" not in fragment.text
    assert "High one" in fragment.text and "Low one" not in fragment.text
    assert fragment.pyquery("a.heat-link rect.is-selected")
    # The selected cell links back to all cells; the full page (no JS) filters the same way.
    assert fragment.pyquery('a.heat-link[aria-label*="selected"]').attr("href") == "/governance/risks"
    full = officer.get(href)
    assert "High one" in full.text and "Low one" not in full.text and "<html" in full.text
    inherent = officer.get("/governance/risks?basis=inherent&cell=4-4")
    assert "High one" in inherent.text and "Low one" in inherent.text  # both inherent 4 × 4 (factory default)


def test_bad_filter_is_422_keeping_the_filters(login_as, tenant_a):
    officer = login_as("compliance")
    res = officer.get("/governance/risks?cell=9-9&treatment=mitigate", status=422)
    assert "A heatmap cell is likelihood-impact" in res.text
    assert res.pyquery('#rf-treatment option[value="mitigate"]').attr("selected") is not None


def test_create_with_bad_input_is_422_keeping_input(login_as, tenant_a, in_tenant):
    officer = login_as("compliance")
    res = _new(officer, title="", description="Kept **text**", residual_impact="")
    assert res.status_int == 422
    assert "Give the title." in res.text and "Choose from 1 (lowest) to 5" in res.text
    assert res.forms[1]["description"].value == "Kept **text**"
    assert res.forms[1]["inherent_likelihood"].value == "4"
    assert _risk(tenant_a, in_tenant, "") is None
    ok = _new(officer, description="<script>alert(1)</script>**bold**")
    assert ok.status_int == 303
    detail = ok.follow()
    assert "RSK-1 recorded." in detail.text and "<script>alert" not in detail.text and "<strong>bold</strong>" in \
        detail.text


def test_accept_above_threshold_through_the_page_and_passkey_approval(login_as, tenant_a, in_tenant):
    officer, admin = login_as("compliance"), login_as("admin")
    device = SoftAuthenticator()
    register(admin, device)
    detail = _new(officer, treatment="transfer").follow()
    form = detail.forms["risk-accept-form"]
    stale_version = form["version"].value
    res = officer.post(form.action, {"csrf_token": csrf_from(detail), "version": stale_version,
                                     "note": "Within appetite"}, headers=HX)
    assert "Acceptance pending" in res.text and "flash" in res.headers["HX-Trigger"]
    risk = _risk(tenant_a, in_tenant)
    assert (risk.treatment, risk.acceptance) == (Treatment.ACCEPT, Acceptance.PENDING)
    # The same (now stale) form again: a clear 409, nothing changes.
    again = officer.post(form.action, {"csrf_token": csrf_from(detail), "version": stale_version}, status=409)
    assert "changed while you were editing" in again.text
    request_id = re.search(r'href="/approvals/([0-9a-f-]{36})"', res.text).group(1)
    approve_with_passkey(admin, request_id, device)
    page = officer.get(f"/governance/risks/{risk.public_id}")
    assert "Accepted after approval by" in page.text
    assert _risk(tenant_a, in_tenant).acceptance == Acceptance.ACCEPTED


def test_edit_stale_form_is_409_keeping_input(login_as, tenant_a, in_tenant):
    officer = login_as("compliance")
    _new(officer)
    risk = _risk(tenant_a, in_tenant)
    edit = f"/governance/risks/{risk.public_id}/edit"
    first, second = officer.get(edit), officer.get(edit)
    form = first.forms[1]
    form["title"] = "Vendor outage (renamed)"
    form.submit(status=303)
    late = second.forms[1]
    late["treatment_plan"] = "My careful plan"
    res = late.submit(status=409)
    assert "changed while you were editing" in res.text and res.forms[1]["treatment_plan"].value == "My careful plan"
    assert _risk(tenant_a, in_tenant, "Vendor outage (renamed)").treatment_plan == ""


def test_threshold_setting_page(login_as, tenant_a):
    officer = login_as("compliance")
    form = officer.get("/governance/risks/settings").forms[1]
    form["acceptance_threshold"] = "30"
    res = form.submit(status=422)
    assert "from 1 to 25" in res.text and res.forms[1]["acceptance_threshold"].value == "30"
    form = res.forms[1]
    form["acceptance_threshold"] = "15"
    assert "threshold set to 15" in form.submit(status=303).follow().text
    login_as("auditor").get("/governance/risks/settings", status=403)


def test_api_create_list_filter_patch_accept_heatmap(client, tenant_a, member_token, in_tenant):
    _member, token = member_token(tenant_a, role="compliance")
    factories.make_member(tenant_a, role="admin")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"title": "Model drift", "category": "ai_model", "inherent_likelihood": 4, "inherent_impact": 4,
            "residual_likelihood": 2, "residual_impact": 3, "review_date": "2020-01-01"}
    created = client.post("/api/v1/risks", json=body, headers=headers)
    assert created.status_code == 201, created.json
    risk = created.json["data"]
    assert (risk["reference"], risk["residual_score"], risk["review_overdue"]) == ("RSK-1", 6, True)
    bad = client.post("/api/v1/risks", json=body | {"residual_impact": 9}, headers=headers)
    assert bad.status_code == 422 and "residual_impact" in bad.json["error"]["details"]["fields"]
    listed = client.get("/api/v1/risks?overdue=1&limit=1", headers=headers).json
    assert [r["id"] for r in listed["data"]] == [risk["id"]] and listed["meta"]["next_cursor"] is None
    assert client.get("/api/v1/risks?category=weather", headers=headers).status_code == 422
    heat = client.get("/api/v1/risks/heatmap", headers=headers).json["data"]
    assert len(heat["cells"]) == 25 and heat["threshold"] == 12
    assert next(c for c in heat["cells"] if (c["likelihood"], c["impact"]) == (2, 3))["count"] == 1
    stale = client.patch(f"/api/v1/risks/{risk['id']}", json={"version": 99, "title": "x"}, headers=headers)
    assert stale.status_code == 409
    patched = client.patch(f"/api/v1/risks/{risk['id']}", json={"version": risk["version"], "residual_impact": 5,
                                                                 "residual_likelihood": 3}, headers=headers)
    assert patched.json["data"]["residual_score"] == 15
    accepted = client.post(f"/api/v1/risks/{risk['id']}:accept", json={"note": "ok"}, headers=headers)
    assert accepted.status_code == 201 and accepted.json["data"]["approval"]["status"] == "pending"
    assert accepted.json["data"]["risk"]["acceptance"] == "pending"
    twice = client.post(f"/api/v1/risks/{risk['id']}:accept", json={}, headers=headers)
    assert twice.status_code == 409


def test_api_scopes_and_links(client, tenant_a):
    case = factories.make_case(tenant_a)
    risk = factories.make_risk(tenant_a)
    _key, read_only = factories.make_api_key(tenant_a, scopes=["risks:read"])
    _key, writer = factories.make_api_key(tenant_a, scopes=["compliance:write"])
    assert client.get("/api/v1/risks", headers={"Authorization": f"Bearer {read_only}"}).status_code == 200
    denied = client.put(f"/api/v1/risks/{risk.public_id}/links", json={"cases": [case.public_id]},
                        headers={"Authorization": f"Bearer {read_only}"})
    assert denied.status_code == 403
    linked = client.put(f"/api/v1/risks/{risk.public_id}/links", json={"cases": [case.public_id]},
                        headers={"Authorization": f"Bearer {writer}"})
    assert linked.status_code == 200 and linked.json["data"]["links"]["cases"] == [case.public_id]
    # Below the threshold an API key may accept directly (nobody's approval is needed).
    accepted = client.post(f"/api/v1/risks/{risk.public_id}:accept", json={},
                           headers={"Authorization": f"Bearer {writer}"})
    assert accepted.status_code == 200 and accepted.json["data"]["risk"]["acceptance"] == "accepted"
