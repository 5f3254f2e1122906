"""The compliance pages as a compliance officer uses them, without JavaScript and with HTMX."""

from __future__ import annotations

import sqlalchemy as sa
from webtest import Upload

from app.compliance.models import Control, Evidence
from app.core.db import db
from app.core.tenancy import tenant_context

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HX = {"HX-Request": "true"}


def _adopt(client, key="eu-ai-act-2024"):
    page = client.get(f"/compliance/frameworks/{key}/adopt")
    assert "Proposed controls" in page.text
    return page.forms["adopt-form"].submit().follow()


def _control(tenant, key) -> Control:
    with tenant_context(tenant):
        return db.session.scalar(sa.select(Control).where(Control.key == key))


def test_adopt_from_the_library_and_see_the_tree(library, login_as):
    client = login_as("compliance")
    listing = client.get("/compliance/")
    assert "Library" in listing.text and "EU AI Act" in listing.text
    adopt_page = client.get("/compliance/frameworks/eu-ai-act-2024/adopt")
    assert "VC-01" in adopt_page.text and "AI RMF 1.0" in adopt_page.text  # also counts for AI RMF
    page = _adopt(client)
    assert "0%" in page.text and "0 of 4 applicable met" in page.text
    assert page.pyquery("details summary .req-ref").text().split() == ["Art.", "5", "HR"]
    # Groups are collapsed and load their children on demand; the no-JS link opens them in the page.
    hr = page.pyquery("li.tree-group details").eq(1)
    lazy_url = hr.find(".tree-lazy").attr("hx-get")
    fragment = client.get(lazy_url, headers=HX)
    assert "<html" not in fragment.text and "Art. 9" in fragment.text and "VC-01" in fragment.text
    opened = client.get("/compliance/frameworks/eu-ai-act-2024?open=HR")
    assert "Risk management system" in opened.text


def test_filters_show_only_gaps_and_return_a_fragment_to_htmx(library, login_as):
    client = login_as("compliance")
    _adopt(client)
    res = client.get("/compliance/frameworks/eu-ai-act-2024?gaps=1&status=not_started", headers=HX)
    assert res.text.lstrip().startswith('<div id="framework-tree"')
    assert "Art. 9" in res.text and "Art. 5(1)(a)" not in res.text  # no control: not "not started"
    bad = client.get("/compliance/frameworks/eu-ai-act-2024?status=bogus", status=422)
    assert "Choose a control status" in bad.text


def test_not_applicable_without_justification_is_422_and_keeps_the_input(library, login_as, tenant_a):
    client = login_as("compliance")
    _adopt(client)
    control = _control(tenant_a, "VC-03")
    page = client.get(f"/compliance/controls/{control.public_id}")
    form = page.forms["control-form"]
    form["status"] = "not_applicable"
    form["due_date"] = "2031-03-01"
    res = form.submit(status=422)
    assert "justification is required" in res.text
    assert 'value="2031-03-01"' in res.text
    assert _control(tenant_a, "VC-03").status.value == "not_started"


def test_upload_accept_and_the_score_moves_in_both_frameworks(library, login_as, tenant_a):
    client = login_as("compliance")
    _adopt(client)
    _adopt(client, "nist-ai-rmf-1.0")
    control = _control(tenant_a, "VC-01")
    assert client.get("/compliance/frameworks/eu-ai-act-2024").pyquery(".score-value").text() == "0%"  # now cached
    page = client.get(f"/compliance/controls/{control.public_id}")
    form = page.forms["control-form"]
    form["status"] = "implemented"
    form.submit().follow()
    page = client.get(f"/compliance/controls/{control.public_id}")
    assert "evidence missing" in page.text
    form = page.forms["evidence-form"]
    form["title"] = "Risk register Q3"
    form["file"] = Upload("risk-register.pdf", PDF, "application/pdf")
    page = form.submit().follow()
    assert "awaiting review" in page.text.lower()
    with tenant_context(tenant_a):
        ev = db.session.scalar(sa.select(Evidence))
    detail = client.get(f"/compliance/evidence/{ev.public_id}")
    assert ev.sha256 in detail.text
    review = page.forms[[k for k in page.forms if isinstance(k, int) and "decision" in page.forms[k].fields][0]]
    review.submit("decision", value="accepted").follow()
    listing = client.get("/compliance/")
    assert listing.pyquery("#fw-eu-ai-act-2024 .score-value").text() == "25%"
    tree = client.get("/compliance/frameworks/eu-ai-act-2024")  # the cached tree follows the change
    assert tree.pyquery(".score-value").text() == "25%"
    assert listing.pyquery("[id='fw-nist-ai-rmf-1.0'] .score-value").text() == "50%"
    history = client.get(f"/compliance/controls/{control.public_id}")
    assert "control status changed" in history.text


def test_a_disguised_or_disallowed_file_is_refused_and_nothing_stored(library, login_as, tenant_a, app):
    client = login_as("compliance")
    _adopt(client)
    control = _control(tenant_a, "VC-01")
    for name, data, message in [("policy.pdf", b"MZ\x90\x00 this is a windows program", "not accepted"),
                                ("report.pdf", b"\x89PNG\r\n\x1a\n rest", "its content is PNG image"),
                                ("page.txt", b"<html><script>alert(1)</script></html>", "text/html")]:
        page = client.get(f"/compliance/controls/{control.public_id}")
        form = page.forms["evidence-form"]
        form["file"] = Upload(name, data, "application/pdf")
        res = form.submit(status=422)
        assert message in res.text
    with tenant_context(tenant_a):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0
    stored = app.instance_path + "/storage/" + tenant_a.public_id
    import os

    assert not os.path.exists(stored) or not any(files for _, _, files in os.walk(stored))


def test_gaps_csv_and_tasks(library, login_as):
    client = login_as("compliance")
    _adopt(client)
    gaps = client.get("/compliance/frameworks/eu-ai-act-2024/gaps")
    assert "no control mapped" in gaps.text and "VC-01: not started" in gaps.text
    csv = client.get("/compliance/frameworks/eu-ai-act-2024/gaps.csv")
    assert csv.content_type == "text/csv"
    lines = csv.text.strip().splitlines()
    assert lines[0] == "framework,requirement,title,why,owner,due date" and len(lines) == 5
    gaps.forms["gap-tasks-form"].submit().follow()
    tasks = client.get("/compliance/tasks")
    assert tasks.pyquery("tbody tr").length == 4


def test_auditor_reads_but_cannot_change(library, login_as):
    client = login_as("auditor")
    assert client.get("/compliance/frameworks/eu-ai-act-2024").status_int == 200
    client.get("/compliance/frameworks/eu-ai-act-2024/adopt", status=403)
