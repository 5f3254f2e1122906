"""AI systems: inventory pages, the questionnaire (drafts kept), classification history, go-live through the
approval engine, and the API (filters, paging, 422 naming the answer, cross-tenant 404)."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest, RequestStatus
from app.compliance.loader import load_library
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import Conflict
from app.core.tenancy import tenant_context
from app.governance import ai_services as services
from app.governance.ai_models import AIClassification, AISystem, ClassificationStatus, DeploymentStatus, RiskTier
from app.identity.auth import member_actor
from app.identity.passkey_models import StepUpProof  # noqa: F401  (models loaded for the approval tables)
from tests import factories
from tests.conftest import csrf_from
from tests.governance.test_ai_classification import answers
from tests.identity.authenticators import enrol_totp, next_code

HX = {"HX-Request": "true"}
CV = {"name": "CV screening", "purpose": "Ranks incoming job applications for recruiters.", "provider": "In-house",
      "models": "ranker v3", "data_categories": "CVs, work history", "personal_data": "on",
      "affected_users": "Job applicants", "human_oversight": "A recruiter reviews every shortlist.",
      "links": "Model card | https://wiki.example/cv-ranker"}
HIGH = answers(roles=["provider"], annex3="yes", annex3_area="employment", annex3_profiling="yes",
               annex3_derogation="no")


@pytest.fixture
def eu_ai_act(tmp_path):
    """The real EU AI Act catalogue loaded into the library (obligations link to its requirement pages)."""
    shutil.copy("app/compliance/frameworks/eu-ai-act-2024.yaml", tmp_path)
    return load_library(tmp_path)


def _system(tenant, role="compliance", **values):
    officer = factories.make_member(tenant, role=role)
    with tenant_context(tenant):
        actor = member_actor(officer)
        system = services.create_system(actor=actor, **({"name": "CV screening", "purpose": "Ranks CVs"} | values))
        return system, actor


def _reload(tenant, system_id) -> AISystem:
    db.session.expire_all()
    with tenant_context(tenant):
        return db.session.scalar(sa.select(AISystem).where(AISystem.public_id == system_id))


def _create_page(officer, **values):
    form = officer.get("/governance/ai-systems/new").forms["ai-system-form"]
    for key, value in (CV | values).items():
        if key in ("personal_data", "special_category_data"):
            form[key] = bool(value)
        else:
            form[key] = value
    return form.submit(status="*")


# --- pages -----------------------------------------------------------------------------------------


def test_create_with_field_errors_keeps_what_was_typed_then_saves(login_as, tenant_a):
    officer = login_as("compliance")
    res = _create_page(officer, purpose="", links="not a url")
    assert res.status_int == 422
    assert res.pyquery("#purpose-error").text() == "Give the intended purpose."
    assert "is not a web address" in res.pyquery("#links-error").text()
    assert res.forms["ai-system-form"]["name"].value == "CV screening"
    assert res.forms["ai-system-form"]["human_oversight"].value == CV["human_oversight"]
    res = _create_page(officer)
    assert res.status_int == 303 and "/classify" in res.location
    system = _reload(tenant_a, res.location.split("/")[-2])
    assert system.models == ["ranker v3"] and system.personal_data and not system.special_category_data
    assert system.links == [{"label": "Model card", "url": "https://wiki.example/cv-ranker"}]
    assert _create_page(officer).status_int == 422  # the name is taken


def test_questionnaire_walk_keeps_a_draft_and_completes_with_linked_obligations(login_as, tenant_a, eu_ai_act):
    officer = login_as("compliance")
    system_id = _create_page(officer).location.split("/")[-2]
    page = officer.get(f"/governance/ai-systems/{system_id}/classify")
    assert "Step 1 of 6" in page.text
    form = page.forms["classify-form"]
    # Next without an answer: 422 naming the question, nothing lost.
    res = form.submit("go", value="gpai", status=422)
    assert res.pyquery("#roles-error").text() == "Choose at least one."
    form = res.forms["classify-form"]
    form.get("roles", index=0).checked = True  # provider
    res = form.submit("go", value="gpai", status=303).follow()
    assert "Step 2 of 6" in res.text
    # HTMX: the step swaps in place; a half-answered step is saved as a draft.
    token = csrf_from(res)
    frag = officer.post(f"/governance/ai-systems/{system_id}/classify", {"csrf_token": token, "step": "gpai",
                        "gpai": "yes", "go": "prohibited"}, headers=HX, status=422)
    assert "<html" not in frag.text and frag.pyquery("#gpai_systemic-error")
    with tenant_context(tenant_a):
        draft = db.session.scalar(sa.select(AIClassification))
        assert draft.status == ClassificationStatus.DRAFT and draft.answers == {"roles": ["provider"], "gpai": "yes"}
    # Resuming later opens the first unanswered step with the saved answers.
    resumed = officer.get(f"/governance/ai-systems/{system_id}/classify")
    assert "Step 2 of 6" in resumed.text and resumed.forms["classify-form"]["gpai"].value == "yes"
    assert "questionnaire is in progress" in officer.get(f"/governance/ai-systems/{system_id}").text
    for step, go in (("gpai", "prohibited"), ("prohibited", "annex1"), ("annex1", "annex3"),
                     ("annex3", "transparency")):
        values = {k: v for k, v in HIGH.items() if k in {q.key for q in _step(step).questions}}
        frag = officer.post(f"/governance/ai-systems/{system_id}/classify", {"csrf_token": token, "step": step,
                            "go": go, **values}, headers=HX)
        assert "<html" not in frag.text
    # Finishing with a gap lands on the step that lacks it.
    res = officer.post(f"/governance/ai-systems/{system_id}/classify/complete", {"csrf_token": token,
                       "step": "transparency", "art50_interacts": "no"}, status=422)
    assert "still need an answer" in res.text and res.pyquery("#art50_synthetic-error")
    res = officer.post(f"/governance/ai-systems/{system_id}/classify/complete", {
        "csrf_token": token, "step": "transparency", "art50_interacts": "no", "art50_synthetic": "no",
        "art50_emotion": "no"}, status=303).follow()
    assert "Classified: High-risk (Annex III — employment)." in res.text
    assert res.pyquery(".ai-result-label").text() == "High-risk (Annex III — employment)"
    links = {a.text(): a.attr("href") for a in res.pyquery(".obligations a.ref").items()}
    assert links["Art. 9"].startswith("/compliance/requirements/") and "Art. 73" in links
    assert "Art. 43" not in links and "Art. 43" in res.pyquery(".obligations").text()  # not in the library: text
    assert officer.get(links["Art. 9"]).status_int == 200
    system = _reload(tenant_a, system_id)
    assert system.risk_tier == RiskTier.HIGH and system.ai_act_role.value == "provider"


def _step(key):
    from app.governance.ai_classification import step_by_key

    return step_by_key(key)


def test_reclassification_supersedes_and_keeps_history(login_as, tenant_a):
    system, actor = _system(tenant_a)
    with tenant_context(tenant_a):
        first = services.complete_classification(system, actor=actor, answers=HIGH)
        second = services.complete_classification(system, actor=actor, answers=answers(art50_interacts="yes"))
        assert first.status == ClassificationStatus.SUPERSEDED and first.superseded_at
        assert second.status == ClassificationStatus.COMPLETED and system.risk_tier == RiskTier.TRANSPARENCY
        actions = [r.action for r in services.system_history(system, tenant_a)]
        assert actions.count("ai_system.classified") == 2 and "ai_system.created" in actions
    officer = login_as("compliance")
    page = officer.get(f"/governance/ai-systems/{system.public_id}")
    items = page.pyquery(".ai-history li")
    assert len(items) == 2 and "Superseded" in items.eq(1).text() and "High-risk" in items.eq(1).text()
    assert "Load the EU AI Act framework" in page.text  # not loaded here: obligations are plain text
    # Reclassifying starts from the current answers.
    form = officer.get(f"/governance/ai-systems/{system.public_id}/classify?step=transparency").forms["classify-form"]
    assert form["art50_interacts"].value == "yes"


def test_list_filters_are_in_the_url_and_tier_chips_count(login_as, tenant_a):
    system, actor = _system(tenant_a)
    with tenant_context(tenant_a):
        services.complete_classification(system, actor=actor, answers=HIGH)
        services.create_system(actor=actor, name="Spam filter", purpose="Filters mail", provider="Mailco")
    viewer = login_as("auditor")
    page = viewer.get("/governance/ai-systems")
    assert len(page.pyquery(".ai-table tbody tr")) == 2
    assert "High-risk 1" in page.pyquery(".tier-chip--high").text()
    res = viewer.get("/governance/ai-systems?tier=high", headers=HX)
    assert "<html" not in res.text and len(res.pyquery(".ai-table tbody tr")) == 1
    assert "CV screening" in viewer.get("/governance/ai-systems?q=rank").text
    assert "No AI system matches" in viewer.get("/governance/ai-systems?q=mailco&tier=high").text
    assert viewer.get("/governance/ai-systems?tier=nonsense", status=422)
    assert not page.pyquery("a[href='/governance/ai-systems/new']")  # read-only role


def test_edit_keeps_values_on_error_and_audits_changes(login_as, tenant_a):
    system, _actor = _system(tenant_a)
    officer = login_as("compliance")
    form = officer.get(f"/governance/ai-systems/{system.public_id}/edit").forms["ai-system-form"]
    form["name"], form["affected_users"] = "", "All staff"
    res = form.submit(status=422)
    assert res.forms["ai-system-form"]["affected_users"].value == "All staff" and res.pyquery("#name-error")
    form = res.forms["ai-system-form"]
    form["name"], form["special_category_data"] = "CV screening v2", True
    form.submit(status=303)
    system = _reload(tenant_a, system.public_id)
    assert system.name == "CV screening v2" and system.special_category_data and system.personal_data
    rec = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "ai_system.updated"))
    assert rec.after["name"] == "CV screening v2" and rec.before["affected_users"] == ""


# --- go-live -------------------------------------------------------------------------------------------


def test_high_risk_go_live_waits_for_approval_then_goes_live(login_as, tenant_a):
    system, actor = _system(tenant_a, deployment_status="pilot")
    admin = factories.make_member(tenant_a, role="admin")
    totp = enrol_totp(admin)
    with tenant_context(tenant_a):
        services.complete_classification(system, actor=actor, answers=HIGH)
        approval = services.update_system(system, actor=actor, deployment_status="live")
        assert system.deployment_status == DeploymentStatus.AWAITING_GO_LIVE and approval.high_impact
        assert approval.subject_kind == "ai_go_live" and approval.status == RequestStatus.PENDING
        with pytest.raises(Conflict, match="already waiting"):
            services.request_go_live(system, actor=actor)
        with pytest.raises(Conflict, match="go-live approval is open"):
            services.update_system(system, actor=actor, deployment_status="retired")
        approvals.decide(approval, actor=member_actor(admin), outcome="approve", comment="Conformity done",
                         version=approval.version, step_up=approvals.StepUpAnswer(code=next_code(totp)))
        assert system.deployment_status == DeploymentStatus.LIVE and system.status_before_go_live is None
    page = login_as("compliance").get(f"/governance/ai-systems/{system.public_id}")
    assert approval.reference in page.pyquery(".side-card").text() and "Approved" in page.text


@pytest.mark.parametrize("how", ["reject", "cancel", "expire"])
def test_rejected_cancelled_or_expired_go_live_returns_to_the_previous_status(tenant_a, how):
    system, actor = _system(tenant_a, deployment_status="pilot")
    admin = factories.make_member(tenant_a, role="admin")
    totp = enrol_totp(admin)
    with tenant_context(tenant_a):
        services.complete_classification(system, actor=actor, answers=HIGH)
        approval = services.request_go_live(system, actor=actor)
        if how == "reject":
            approvals.decide(approval, actor=member_actor(admin), outcome="reject", comment="Not yet",
                             version=approval.version, step_up=approvals.StepUpAnswer(code=next_code(totp)))
        elif how == "cancel":
            approvals.cancel(approval, actor=actor)
        else:
            approvals.expire_overdue(actor=actor, now=approval.steps[0].deadline)
        assert approval.status != RequestStatus.PENDING
        assert system.deployment_status == DeploymentStatus.PILOT
        assert db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "ai_system.go_live_ended"))


def test_minimal_goes_live_directly_prohibited_and_unclassified_are_refused(login_as, tenant_a):
    system, actor = _system(tenant_a)
    officer = login_as("compliance")
    page = officer.get(f"/governance/ai-systems/{system.public_id}/edit")
    form = page.forms["ai-system-form"]
    form["deployment_status"] = "live"
    res = form.submit(status=409)
    assert "Classify CV screening under the EU AI Act before it goes live" in res.text
    with tenant_context(tenant_a):
        services.complete_classification(system, actor=actor, answers=answers(art5_c="yes"))
    res = officer.post(f"/governance/ai-systems/{system.public_id}/go-live", {"csrf_token": csrf_from(page)},
                       status=409)
    assert "prohibited AI practice (EU AI Act Article 5) and cannot go live" in res.text
    with tenant_context(tenant_a):
        services.complete_classification(system, actor=actor, answers=answers())
    officer.post(f"/governance/ai-systems/{system.public_id}/go-live", {"csrf_token": csrf_from(page)}, status=303)
    assert _reload(tenant_a, system.public_id).deployment_status == DeploymentStatus.LIVE
    with tenant_context(tenant_a):
        assert not db.session.scalar(sa.select(ApprovalRequest))


# --- API ---------------------------------------------------------------------------------------------------


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_api_create_classify_and_go_live(client, member_token, tenant_a):
    factories.make_member(tenant_a, role="admin")
    _m, token = member_token(tenant_a, role="compliance")
    res = client.post("/api/v1/ai-systems", json={"name": "CV screening", "purpose": "Ranks CVs",
                      "models": ["ranker"], "links": [{"label": "Card", "url": "https://x.example/c"}]},
                      headers=_auth(token))
    assert res.status_code == 201, res.json
    system_id = res.json["data"]["id"]
    bad = client.post(f"/api/v1/ai-systems/{system_id}/classifications",
                      json={"answers": {"roles": ["provider"], "gpai": "perhaps"}}, headers=_auth(token))
    assert bad.status_code == 422
    fields = bad.json["error"]["details"]["fields"]
    assert fields["answers.gpai"] == ["Answer yes or no."] and "answers.annex1" in fields
    res = client.post(f"/api/v1/ai-systems/{system_id}/classifications", json={"answers": HIGH}, headers=_auth(token))
    assert res.status_code == 201
    data = res.json["data"]
    assert data["result"] == "High-risk (Annex III — employment)" and data["status"] == "completed"
    assert "Art.9" in [o["ref"] for o in data["obligations"]] and data["reasoning"]
    listed = client.get(f"/api/v1/ai-systems/{system_id}/classifications", headers=_auth(token)).json["data"]
    assert [c["status"] for c in listed] == ["completed"]
    res = client.post(f"/api/v1/ai-systems/{system_id}:request-go-live", json={}, headers=_auth(token))
    assert res.status_code == 201 and res.json["data"]["approval"]["subject_type"] == "ai_go_live"
    assert res.json["data"]["system"]["deployment_status"] == "awaiting_go_live"
    res = client.patch(f"/api/v1/ai-systems/{system_id}", json={"deployment_status": "live"}, headers=_auth(token))
    assert res.status_code == 409


def test_api_list_filters_and_pages(client, member_token, tenant_a):
    _m, token = member_token(tenant_a, role="auditor")
    with tenant_context(tenant_a):
        actor = member_actor(factories.make_member(tenant_a, role="compliance"))
        for n in range(5):
            system = services.create_system(actor=actor, name=f"System {n}", purpose="p")
            if n % 2:
                services.complete_classification(system, actor=actor, answers=answers())
    page = client.get("/api/v1/ai-systems?limit=2", headers=_auth(token)).json
    assert len(page["data"]) == 2 and page["meta"]["next_cursor"]
    rest = client.get(f"/api/v1/ai-systems?limit=5&cursor={page['meta']['next_cursor']}", headers=_auth(token)).json
    assert len(rest["data"]) == 3 and rest["meta"]["next_cursor"] is None
    minimal = client.get("/api/v1/ai-systems?tier=minimal", headers=_auth(token)).json["data"]
    assert sorted(s["name"] for s in minimal) == ["System 1", "System 3"]
    assert client.get("/api/v1/ai-systems?status=flying", headers=_auth(token)).status_code == 422
    res = client.post("/api/v1/ai-systems", json={"name": "x", "purpose": "y"}, headers=_auth(token))
    assert res.status_code == 403


def test_cross_tenant_ids_are_404(client, member_token, login_as, tenant_a, tenant_b):
    system, _actor = _system(tenant_b)
    _m, token = member_token(tenant_a, role="compliance")
    for path in ("", "/classifications"):
        assert client.get(f"/api/v1/ai-systems/{system.public_id}{path}", headers=_auth(token)).status_code == 404
    assert client.post(f"/api/v1/ai-systems/{system.public_id}/classifications", json={"answers": HIGH},
                       headers=_auth(token)).status_code == 404
    officer = login_as("compliance")
    for path in ("", "/edit", "/classify"):
        officer.get(f"/governance/ai-systems/{system.public_id}{path}", status=404)
    token_page = officer.get("/governance/ai-systems")
    officer.post(f"/governance/ai-systems/{system.public_id}/go-live", {"csrf_token": csrf_from(token_page)},
                 status=404)


def test_an_unfinished_questionnaire_can_be_discarded(login_as, tenant_a):
    system, _actor = _system(tenant_a)
    officer = login_as("compliance")
    page = officer.get(f"/governance/ai-systems/{system.public_id}/classify")
    form = page.forms["classify-form"]
    form.get("roles", index=1).checked = True
    form.submit("go", value="gpai", status=303)
    detail = officer.get(f"/governance/ai-systems/{system.public_id}")
    assert "questionnaire is in progress (1 answer saved" in detail.text
    detail = detail.forms[[k for k, f in detail.forms.items() if "discard" in f.action][0]].submit(status=303).follow()
    assert "discarded" in detail.text and "in progress" not in detail.text
    officer.post(f"/governance/ai-systems/{system.public_id}/classify/discard", {"csrf_token": csrf_from(detail)},
                 status=409)
    assert db.session.scalar(sa.select(AuditRecord).where(
        AuditRecord.action == "ai_classification.draft_discarded")).after["answers"] == 1
