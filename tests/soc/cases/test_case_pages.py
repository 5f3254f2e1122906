"""Case pages: list and filters, opening a case from a template, workflow controls, edit, tasks, evidence,
merge, roles. WebTest with the real CSRF token; HTMX endpoints are exercised plain and with HX-Request."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from webtest import Upload

from app.core.actors import system_actor
from app.core.db import db
from app.core.tenancy import tenant_context
from app.soc.cases import services
from app.soc.cases.models import Attachment, Case, CaseTask
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}


def _form(page, action_suffix: str):
    forms = [f for f in page.forms.values() if (f.action or "").endswith(action_suffix)]
    assert forms, f"no form posting to …{action_suffix}"
    return forms[0]


def _fresh(tenant, case) -> Case:
    db.session.expire_all()
    with tenant_context(tenant):
        return db.session.scalar(sa.select(Case).where(Case.id == case.id))


def _tasks(tenant, case) -> list[CaseTask]:
    db.session.expire_all()
    with tenant_context(tenant):
        return list(db.session.scalars(sa.select(CaseTask).where(CaseTask.case_id == case.id)
                                       .order_by(CaseTask.position)))


def _status_buttons(page) -> set[str]:
    return {f["to"].value for f in page.forms.values() if (f.action or "").endswith("/status")}


# --- list ----------------------------------------------------------------------------------


def test_list_filters_by_status_severity_assignee_tag_and_text(login_as, tenant_a):
    client = login_as("analyst")
    me = client.membership.user
    phishing = factories.make_case(tenant_a, title="Invoice lure", severity="medium", tags=["phishing"],
                                   assignee=me)
    ransom = factories.make_case(tenant_a, title="Encrypted shares", severity="critical")
    with tenant_context(tenant_a):
        services.close_case(db.session.get(Case, ransom.id), actor=system_actor(tenant_a, "t"), resolution="Done.")

    def refs(**params):
        page = client.get("/soc/cases", params)
        return {r.text().strip() for r in page.pyquery("tbody tr td:first-child strong").items()}

    assert refs() == {phishing.reference, ransom.reference}
    assert refs(status="open") == {phishing.reference}
    assert refs(status="closed") == {ransom.reference}
    assert refs(severity="critical") == {ransom.reference}
    assert refs(assignee="me") == {phishing.reference}
    assert refs(assignee="unassigned") == {ransom.reference}
    assert refs(tag="phishing") == {phishing.reference}
    assert refs(q="lure") == {phishing.reference}
    assert refs(q=ransom.reference) == {ransom.reference}
    # The filters are reflected in the form, so a shared URL shows what it filtered by.
    page = client.get("/soc/cases", {"status": "open", "q": "lure"})
    assert page.pyquery("#case-status option[selected]").attr("value") == "open"
    assert page.pyquery("#case-q").attr("value") == "lure"


def test_list_shows_counts_and_htmx_gets_the_results_fragment(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a, template="phishing")
    page = client.get("/soc/cases")
    row = page.pyquery(f"#case-{case.public_id}")
    assert "0/7" in row.text()
    form = page.pyquery("form.case-filters")
    assert form.attr("hx-get") == "/soc/cases" and form.attr("hx-push-url") == "true"
    res = client.get("/soc/cases", {"severity": "high"}, headers=HX)
    assert "<html" not in res.text and res.text.lstrip().startswith('<div id="case-results"')
    assert case.reference in res.text
    assert "HX-Request" in res.headers["Vary"]


def test_list_pages_with_load_more(login_as, tenant_a):
    client = login_as("analyst")
    cases = [factories.make_case(tenant_a, title=f"Case {i}") for i in range(53)]
    page = client.get("/soc/cases")
    assert len(page.pyquery("tbody tr[id^=case-]")) == 50
    more = page.pyquery(".load-more-row a")
    assert more.attr("hx-target") == "closest tr"
    rows = client.get(more.attr("href"), headers=HX)
    assert "<html" not in rows.text and rows.text.count('<tr id="case-') == 3
    assert cases[0].reference in rows.text and "load-more-row" not in rows.text
    plain = client.get(more.attr("href"))
    assert "<html" in plain.text and cases[0].reference in plain.text


def test_bad_filter_is_422_with_a_message(login_as):
    res = login_as("analyst").get("/soc/cases", {"status": "bogus"}, status=422)
    assert "Use open or any of" in res.text


# --- new case ------------------------------------------------------------------------------


def test_new_case_from_template_prefills_tasks_and_redirects_to_it(login_as, tenant_a):
    client = login_as("analyst")
    page = client.get("/soc/cases/new")
    form = _form(page, "/soc/cases/new")
    form["title"] = "Fake DocuSign mail"
    form["template"] = "ransomware"
    form["assignee"] = client.membership.user.public_id
    form["tags"] = "finance, urgent"
    form["techniques"] = "T1059.001"
    form["description"] = "Seen by **three** users"
    res = form.submit(status=303)
    with tenant_context(tenant_a):
        case = db.session.scalar(sa.select(Case))
        assert case.title == "Ransomware: Fake DocuSign mail"
        assert case.severity.value == "medium"  # the form's choice wins over the template default
        assert {"ransomware", "finance", "urgent"} <= set(case.tags)
        assert "T1059.001" in case.techniques and case.assignee_id == client.membership.user_id
    assert res.headers["Location"].endswith(f"/soc/cases/{case.public_id}")
    assert len(_tasks(tenant_a, case)) == 8
    detail = res.follow()
    assert "Capture memory and disk images of patient zero" in detail.text
    assert "<strong>three</strong>" in detail.text


def test_new_case_with_bad_technique_is_422_and_keeps_input(login_as, tenant_a):
    client = login_as("analyst")
    form = _form(client.get("/soc/cases/new"), "/soc/cases/new")
    form["title"], form["techniques"] = "Keep me", "X999"
    res = form.submit(status=422)
    assert "Not ATT&amp;CK technique ids" in res.text and 'value="Keep me"' in res.text
    with tenant_context(tenant_a):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


# --- workflow ------------------------------------------------------------------------------


def test_only_allowed_transitions_are_offered(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}")
    assert _status_buttons(page) == {"triage", "investigating"}
    assert page.pyquery(f'a[href="/soc/cases/{case.public_id}/close"]')
    form = [f for f in page.forms.values() if (f.action or "").endswith("/status") and f["to"].value == "triage"][0]
    res = form.submit(status=303)
    assert _fresh(tenant_a, case).status.value == "triage"
    page = res.follow()
    assert _status_buttons(page) == {"investigating"}
    assert "triage" in page.pyquery(".status-steps li.is-current").text()


def test_illegal_transition_is_409_naming_the_allowed_ones(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    token = csrf_from(client.get(f"/soc/cases/{case.public_id}"))
    res = client.post(f"/soc/cases/{case.public_id}/status", {"csrf_token": token, "to": "recovered"}, status=409)
    assert "it can move to: triage, investigating, closed" in res.pyquery("#case-status-control .form-error").text()
    assert _fresh(tenant_a, case).status.value == "new"


def test_close_needs_a_resolution(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}/close")
    form = page.forms["confirm-form"]
    res = form.submit(status=422)
    assert "Summarise the resolution to close the case." in res.text
    assert _fresh(tenant_a, case).status.value == "new"
    form = res.forms["confirm-form"]
    form["resolution"] = "False positive: the admin ran the scan."
    form.submit(status=303)
    fresh = _fresh(tenant_a, case)
    assert fresh.status.value == "closed" and fresh.resolution == "False positive: the admin ran the scan."
    page = client.get(f"/soc/cases/{case.public_id}")
    assert _status_buttons(page) == {"investigating"} and "Reopen" in page.pyquery(".status-actions").text()


# --- edit ----------------------------------------------------------------------------------


def test_edit_page_changes_fields_assignee_and_watchers(login_as, tenant_a):
    client = login_as("analyst")
    other = factories.make_member(tenant_a, role="responder")
    case = factories.make_case(tenant_a, tags=["old"])
    form = _form(client.get(f"/soc/cases/{case.public_id}/edit"), "/edit")
    form["title"], form["severity"], form["tags"] = "Renamed", "low", "new, tags"
    form["assignee"] = other.user.public_id
    form.set("watchers", True, index=0)
    form.submit(status=303)
    db.session.expire_all()
    with tenant_context(tenant_a):
        fresh = db.session.get(Case, case.id)
        assert (fresh.title, fresh.severity.value, fresh.tags) == ("Renamed", "low", ["new", "tags"])
        assert fresh.assignee_id == other.user_id and len(fresh.watchers) == 1


# --- tasks ---------------------------------------------------------------------------------


def test_task_add_complete_and_reopen_plain_and_htmx(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    page = client.get(f"/soc/cases/{case.public_id}")
    form = _form(page, "/tasks")
    form["title"] = "Pull proxy logs"
    form["due_at"] = "2030-01-02T09:30"
    form.submit(status=303)
    [task] = _tasks(tenant_a, case)
    assert task.title == "Pull proxy logs" and task.due_at is not None
    page = client.get(f"/soc/cases/{case.public_id}")
    complete = _form(page, f"/tasks/{task.public_id}/complete")
    complete.submit(status=303)
    assert _tasks(tenant_a, case)[0].is_done
    token = csrf_from(page)
    res = client.post(f"/soc/cases/{case.public_id}/tasks/{task.public_id}/reopen", {"csrf_token": token},
                      headers=HX)
    assert res.status_int == 200 and "<html" not in res.text
    assert res.text.lstrip().startswith(f'<li id="task-{task.public_id}"')
    assert json.loads(res.headers["HX-Trigger"])["flash"]["message"] == "Reopened: Pull proxy logs"
    assert not _tasks(tenant_a, case)[0].is_done
    res = client.post(f"/soc/cases/{case.public_id}/tasks/{task.public_id}/complete", {"csrf_token": token},
                      headers=HX)
    assert "is-done" in res.pyquery("li").attr("class") and _tasks(tenant_a, case)[0].is_done
    res = client.post(f"/soc/cases/{case.public_id}/tasks/{task.public_id}/complete", {"csrf_token": token},
                      headers=HX, status=409)
    assert "already done" in res.headers["HX-Trigger"]


# --- evidence ------------------------------------------------------------------------------


@pytest.fixture
def small_limit(app):
    app.config["VIGIL_ATTACHMENT_MAX_BYTES"] = 64
    yield
    app.config.pop("VIGIL_ATTACHMENT_MAX_BYTES", None)


def _attachments(tenant) -> list[Attachment]:
    with tenant_context(tenant):
        return list(db.session.scalars(sa.select(Attachment)))


def test_upload_shows_sha256_and_downloads_as_attachment(login_as, tenant_a):
    import hashlib

    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    form = _form(client.get(f"/soc/cases/{case.public_id}"), "/attachments")
    body = b"<html><script>alert(1)</script></html>\n"
    form["file"] = Upload("proxy <log>.txt", body, "text/plain")
    page = form.submit(status=303).follow()
    sha = hashlib.sha256(body).hexdigest()
    assert f"sha256 {sha}" in page.pyquery("#case-evidence").text()
    assert "proxy _log_.txt" in page.text  # the stored name has no markup characters
    [att] = _attachments(tenant_a)
    link = page.pyquery(f"#attachment-{att.public_id} a").attr("href")
    res = client.get(link)
    assert res.body == body
    assert res.headers["Content-Disposition"].startswith('attachment; filename="proxy _log_.txt"')
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Type"].startswith("text/plain")
    # The timeline records it with its hash too.
    assert sha in page.pyquery(".tl-entry--attachment").text()


@pytest.mark.usefixtures("small_limit")
def test_oversized_upload_is_a_form_error_and_nothing_is_stored(login_as, tenant_a, app):
    from pathlib import Path

    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    form = _form(client.get(f"/soc/cases/{case.public_id}"), "/attachments")
    form["file"] = Upload("big.txt", b"x" * 65, "text/plain")
    res = form.submit(status=422)
    assert "larger than the limit of 64 bytes" in res.pyquery("#case-evidence .field-error").text()
    assert _attachments(tenant_a) == []
    stored = [p for p in (Path(app.instance_path) / "storage" / tenant_a.public_id).rglob("*") if p.is_file()]
    assert stored == []


def test_disallowed_type_is_a_form_error_and_nothing_is_stored(login_as, tenant_a):
    client = login_as("analyst")
    case = factories.make_case(tenant_a)
    form = _form(client.get(f"/soc/cases/{case.public_id}"), "/attachments")
    form["file"] = Upload("run.html", b"<script>alert(1)</script>", "text/html")
    res = form.submit(status=422)
    assert "'text/html' are not accepted" in res.pyquery("#case-evidence .field-error").text()
    assert _attachments(tenant_a) == []


def test_download_of_another_cases_attachment_is_404(login_as, tenant_a):
    client = login_as("analyst")
    case, other = factories.make_case(tenant_a), factories.make_case(tenant_a)
    with tenant_context(tenant_a):
        att = services.add_attachment(db.session.get(Case, case.id), actor=system_actor(tenant_a, "t"),
                                      filename="a.txt", content_type="text/plain", stream=b"hi")
    client.get(f"/soc/cases/{other.public_id}/evidence", {"file": att.public_id}, status=404)
    assert client.get(f"/soc/cases/{case.public_id}/evidence", {"file": att.public_id}).body == b"hi"


# --- merge ---------------------------------------------------------------------------------


def test_merge_by_case_number(login_as, tenant_a):
    client = login_as("analyst")
    source = factories.make_case(tenant_a, template="phishing")
    survivor = factories.make_case(tenant_a)
    form = client.get(f"/soc/cases/{source.public_id}/merge").forms["confirm-form"]
    form["into"] = "CASE-999"
    res = form.submit(status=422)
    assert "There is no case" in res.text
    form = res.forms["confirm-form"]
    form["into"] = survivor.reference.lower()
    res = form.submit(status=303)
    assert res.headers["Location"].endswith(f"/soc/cases/{survivor.public_id}")
    merged = _fresh(tenant_a, source)
    assert merged.status.value == "closed" and merged.merged_into_id == survivor.id
    assert len(_tasks(tenant_a, survivor)) == 7
    page = client.get(f"/soc/cases/{source.public_id}")
    assert survivor.reference in page.pyquery(".case-meta").text()


# --- roles ---------------------------------------------------------------------------------


def test_compliance_cannot_see_cases(login_as, tenant_a):
    client = login_as("compliance")
    case = factories.make_case(tenant_a)
    client.get("/soc/cases", status=403)
    client.get(f"/soc/cases/{case.public_id}", status=403)


def test_auditor_reads_without_any_form(login_as, tenant_a):
    client = login_as("auditor")
    case = factories.make_case(tenant_a, template="phishing")
    page = client.get(f"/soc/cases/{case.public_id}")
    posting = [f for f in page.forms.values()
               if (f.method or "").lower() == "post" and "/soc/cases" in (f.action or "")]
    assert posting == []
    assert not page.pyquery(".tl-edit") and not page.pyquery('a[href$="/edit"]')
    assert "Collect the original message" in page.text
    assert not client.get("/soc/cases").pyquery('a[href="/soc/cases/new"]')
    client.get("/soc/cases/new", status=403)
    token = csrf_from(page)
    client.post(f"/soc/cases/{case.public_id}/comments", {"csrf_token": token, "comment-body": "hi"}, status=403)


def test_responder_reads_cases(login_as, tenant_a):
    case = factories.make_case(tenant_a)
    assert case.reference in login_as("responder").get("/soc/cases").text
