"""Policies in the browser (no JS): draft, request approval, approve with a passkey, publish, diff, attest."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from app.approvals.models import ApprovalRequest, RequestStatus
from app.core.audit import AuditRecord
from app.core.db import db
from app.governance.policies_models import Policy, VersionStatus
from app.identity.passkey_models import StepUpProof
from tests.conftest import csrf_from
from tests.identity.authenticators import SoftAuthenticator, enrol_totp, next_code
from tests.identity.test_passkeys import register

HX = {"HX-Request": "true"}
BODY_V1 = "# Acceptable use\n\n1. Use approved AI tools only.\n2. Keep customer data out of prompts.\n"
BODY_V2 = BODY_V1.replace("2. Keep customer", "2. Never put customer") + "3. Label AI output <script>x</script>\n"


def _draft(officer, title="AI acceptable use", body=BODY_V1):
    form = officer.get("/governance/policies/new").forms["policy-form"]
    form["title"], form["summary"], form["body"] = title, "How staff use AI", body
    page = form.submit(status=303).follow()
    return page


def _request_review(page):
    form = page.forms["review-form"]
    form["approver_role"] = "admin"
    return form.submit(status=303).follow()


def _policy(tenant, in_tenant) -> Policy:
    db.session.expire_all()
    with in_tenant(tenant):
        return db.session.scalar(sa.select(Policy))


def _request_id(page) -> str:
    return re.search(r'href="/approvals/([0-9a-f-]{36})"', page.text).group(1)


def approve_with_passkey(admin, request_id, device, comment="Approved at the AI board"):
    page = admin.get(f"/approvals/{request_id}")
    form = page.forms["decision-form"]
    form["comment"] = comment
    stepup = form.submit(status=401)  # the high-impact decision asks for the passkey, keeping the comment
    assert "Confirm it’s you to approve" in stepup.text
    step_form = stepup.forms["stepup-form"]
    assert step_form["comment"].value == comment
    options_url = stepup.pyquery("#stepup-form").attr("data-options-url")
    options = admin.post_json(options_url, {"action": "approval"}, headers={"X-CSRFToken": csrf_from(stepup)}).json
    step_form["_stepup_assertion"] = json.dumps(device.get(options))
    return step_form.submit(status=303).follow()


def test_draft_review_passkey_approval_publishes_and_reverifies(login_as, tenant_a, in_tenant):
    officer, admin = login_as("compliance"), login_as("admin")
    device = SoftAuthenticator()
    register(admin, device)
    page = _draft(officer)
    assert "Version 1" in page.text and page.forms["review-form"]
    page = _request_review(page)
    assert "sent for approval" in page.text
    assert _policy(tenant_a, in_tenant).versions[0].status == VersionStatus.IN_REVIEW
    request_id = _request_id(page)
    # The admin sees it waiting, in the bell and the inbox.
    inbox = admin.get("/approvals")
    assert inbox.pyquery(f"#approval-{request_id}") and inbox.pyquery("#notification-bell .bell-count").text() == "1"
    detail = approve_with_passkey(admin, request_id, device)
    assert "Approved:" in detail.text and "passkey-signed" in detail.text
    policy = _policy(tenant_a, in_tenant)
    assert policy.versions[0].status == VersionStatus.PUBLISHED
    # The decision re-verifies from the stored proof.
    verified = admin.post(f"/approvals/{request_id}/verify", {"csrf_token": csrf_from(detail)}, headers=HX)
    assert "<html" not in verified.text and "Verified" in verified.text
    with in_tenant(tenant_a):
        proof = db.session.scalar(sa.select(StepUpProof))
        assert proof.action.startswith(f"approval:approve:{request_id}:v")
        proof.signature = proof.signature[:-1] + bytes([proof.signature[-1] ^ 1])
        db.session.commit()
    tampered = admin.post(f"/approvals/{request_id}/verify", {"csrf_token": csrf_from(detail)}, headers=HX)
    assert "does NOT verify" in tampered.text


def test_a_new_version_retires_the_old_one_and_the_diff_is_escaped(login_as, tenant_a, in_tenant):
    officer, admin = login_as("compliance"), login_as("admin")
    device = SoftAuthenticator()
    register(admin, device)
    approve_with_passkey(admin, _request_id(_request_review(_draft(officer))), device)
    policy = _policy(tenant_a, in_tenant)
    form = officer.get(f"/governance/policies/{policy.public_id}/versions/new").forms["version-form"]
    assert form["body"].value.strip() == BODY_V1.strip()  # starts from the latest text
    form["body"], form["change_note"] = BODY_V2, "Stricter data rule"
    page = form.submit(status=303).follow()
    # A second open version is refused while this one is a draft.
    again = officer.get(f"/governance/policies/{policy.public_id}/versions/new").forms["version-form"]
    assert "still a draft" in again.submit(status=409).text
    approve_with_passkey(admin, _request_id(_request_review(page)), device, comment="Fine")
    policy = _policy(tenant_a, in_tenant)
    assert [v.status for v in policy.versions] == [VersionStatus.RETIRED, VersionStatus.PUBLISHED]
    shown = officer.get(f"/governance/policies/{policy.public_id}")
    assert "<script>x" not in shown.text and "Published v2" in shown.text
    diff = officer.get(f"/governance/policies/{policy.public_id}/diff?from=1&to=2")
    assert diff.pyquery(".diff-add").length == 2 and diff.pyquery(".diff-del").length == 1
    assert "&lt;script&gt;x&lt;/script&gt;" in diff.text and "<script>x" not in diff.text
    fragment = officer.get(f"/governance/policies/{policy.public_id}/diff?from=2&to=1", headers=HX)
    assert "<html" not in fragment.text and fragment.pyquery("#policy-diff")
    assert officer.get(f"/governance/policies/{policy.public_id}/diff?from=1&to=9", status=422)


def test_members_acknowledge_the_published_version_once(login_as, tenant_a, in_tenant):
    officer, admin, analyst = login_as("compliance"), login_as("admin"), login_as("analyst")
    device = SoftAuthenticator()
    register(admin, device)
    approve_with_passkey(admin, _request_id(_request_review(_draft(officer))), device)
    policy = _policy(tenant_a, in_tenant)
    page = analyst.get(f"/governance/policies/{policy.public_id}")
    assert "0 of 3" in page.text
    res = analyst.post(f"/governance/policies/{policy.public_id}/acknowledge", {"csrf_token": csrf_from(page)},
                       headers=HX)
    assert "<html" not in res.text and "1 of 3" in res.text and "Acknowledged" in res.text
    again = analyst.post(f"/governance/policies/{policy.public_id}/acknowledge", {"csrf_token": csrf_from(page)},
                         status=409)
    assert "already acknowledged" in again.text
    names = [li.text() for li in officer.get(f"/governance/policies/{policy.public_id}").pyquery(
        ".ack-list li").items()]
    assert sum("not yet" in n for n in names) == 2
    assert db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "policy.acknowledged")).all()


def test_a_failed_step_up_leaves_the_request_untouched(login_as, tenant_a, in_tenant):
    officer, admin = login_as("compliance"), login_as("admin")
    totp = enrol_totp(admin.membership)
    request_id = _request_id(_request_review(_draft(officer)))
    form = admin.get(f"/approvals/{request_id}").forms["decision-form"]
    form["comment"] = "ok"
    stepup = form.submit(status=401)
    step_form = stepup.forms["stepup-form"]
    step_form["_stepup_code"] = "000000"
    wrong = step_form.submit(status=401)
    assert "not valid" in wrong.text and wrong.forms["stepup-form"]["comment"].value == "ok"
    with in_tenant(tenant_a):
        req = db.session.scalar(sa.select(ApprovalRequest))
        assert req.status == RequestStatus.PENDING and req.decisions == [] and req.version == 1
    right = wrong.forms["stepup-form"]
    right["_stepup_code"] = next_code(totp)
    right.submit(status=303)
    assert _policy(tenant_a, in_tenant).versions[0].status == VersionStatus.PUBLISHED
    verify = admin.post(f"/approvals/{request_id}/verify", {"csrf_token": csrf_from(stepup)}, headers=HX)
    assert "no signature to re-check" in verify.text


def test_inbox_htmx_decision_in_place_and_stale_form_is_409(login_as, tenant_a, in_tenant):
    officer, admin = login_as("compliance"), login_as("admin")
    request_id = _request_id(_request_review(_draft(officer)))
    # The officer cannot decide their own request, and sees it under "requested by me".
    assert not officer.get("/approvals").pyquery(f"#approval-{request_id}")
    assert officer.get("/approvals?tab=mine").pyquery(f"#approval-{request_id}")
    inbox = admin.get("/approvals")
    assert inbox.pyquery(f"#approval-{request_id} form.decision-form")
    # Someone else changed the request meanwhile: the form's version is stale.
    with in_tenant(tenant_a):
        req = db.session.scalar(sa.select(ApprovalRequest))
        req.version += 1
        db.session.commit()
    res = admin.post(f"/approvals/{request_id}/approve", {"csrf_token": csrf_from(inbox), "version": "1",
                     "comment": "yes", "from": "inbox"}, headers=HX, status=409)
    assert "changed while you were looking" in res.text and "<html" not in res.text
    assert res.pyquery(f"#approval-{request_id} textarea").text() == "yes"  # the comment is kept
    # Without a comment (no JS, plain POST): 422 on the request page, nothing saved.
    res = admin.post(f"/approvals/{request_id}/reject", {"csrf_token": csrf_from(inbox), "version": "2",
                                                         "comment": ""}, status=422)
    assert "Say why" in res.text
    with in_tenant(tenant_a):
        db.session.expire_all()
        assert db.session.scalar(sa.select(ApprovalRequest)).decisions == []
