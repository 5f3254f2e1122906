"""Risk register rules: numbering, scores, the acceptance threshold, acceptance through the approval engine
(approval accepts, rejection/cancellation/expiry restore the previous treatment), stale edits, overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest, RequestStatus
from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.errors import Conflict, Forbidden, ValidationFailed
from app.governance import risks_queries as queries
from app.governance import risks_services as services
from app.governance.risks_models import Acceptance, Treatment
from app.identity.auth import member_actor
from tests import factories
from tests.identity.authenticators import enrol_totp, next_code

BASE = {"title": "Ransomware on file servers", "category": "security", "inherent_likelihood": 4,
        "inherent_impact": 5, "residual_likelihood": 3, "residual_impact": 4}  # residual 12 = the default threshold


@pytest.fixture
def people(tenant_a):
    officer = factories.make_member(tenant_a, role="compliance")
    admin = factories.make_member(tenant_a, role="admin")
    return officer, admin


def _actions(risk) -> list[str]:
    return list(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.target_id == risk.public_id)
                                   .order_by(AuditRecord.seq)))


def test_numbers_scores_and_validation(tenant_a, tenant_b, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        first = services.create_risk(actor=actor, **BASE)
        second = services.create_risk(actor=actor, **BASE | {"title": "Second"})
        assert (first.reference, second.reference) == ("RSK-1", "RSK-2")
        assert (first.inherent_score, first.residual_score) == (20, 12)
        with pytest.raises(ValidationFailed) as exc:
            services.create_risk(actor=actor, **BASE | {"title": " ", "residual_impact": 6, "category": "weather",
                                                        "review_date": "31/12/2026"})
        assert set(exc.value.field_errors) == {"title", "residual_impact", "category", "review_date"}
    # Numbering is per tenant.
    other = factories.make_member(tenant_b, role="compliance")
    with in_tenant(tenant_b):
        assert services.create_risk(actor=member_actor(other), **BASE).reference == "RSK-1"


def test_below_threshold_is_accepted_directly_and_audited(tenant_a, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE | {"residual_likelihood": 2, "residual_impact": 5})  # 10
        assert services.accept_risk(risk, actor=actor, version=risk.version) is None
        assert (risk.treatment, risk.acceptance, risk.acceptance_by_id) == (Treatment.ACCEPT, Acceptance.ACCEPTED,
                                                                            officer.user_id)
        assert "risk.accepted" in _actions(risk)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 0
        with pytest.raises(Conflict, match="already accepted"):
            services.accept_risk(risk, actor=actor)


def test_threshold_is_a_tenant_setting_and_changes_the_outcome(tenant_a, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        assert services.acceptance_threshold() == 12
        services.set_acceptance_threshold(actor=actor, threshold=16)
        assert services.acceptance_threshold() == 16
        risk = services.create_risk(actor=actor, **BASE)  # residual 12 < 16
        assert services.accept_risk(risk, actor=actor) is None
        with pytest.raises(ValidationFailed):
            services.set_acceptance_threshold(actor=actor, threshold="26")
        assert services.acceptance_threshold() == 16
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "risk.threshold_changed")) == 1


def test_at_threshold_opens_an_approval_and_approval_accepts(tenant_a, people, in_tenant):
    officer, admin = people
    totp = enrol_totp(admin)
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE | {"treatment": "transfer"})
        request = services.accept_risk(risk, actor=actor, version=risk.version, note="Within appetite")
        assert request.subject_kind == "risk_acceptance" and request.high_impact
        assert (risk.treatment, risk.acceptance, risk.previous_treatment) == (Treatment.ACCEPT, Acceptance.PENDING,
                                                                              Treatment.TRANSFER)
        # A second request, or changing the locked fields meanwhile, is a conflict.
        with pytest.raises(Conflict, match="already waiting"):
            services.accept_risk(risk, actor=actor)
        with pytest.raises(Conflict, match="locked"):
            services.update_risk(risk, actor=actor, residual_impact=2)
        # The requester cannot approve their own acceptance.
        with pytest.raises(Forbidden):
            approvals.decide(request, actor=actor, outcome="approve", comment="mine", version=request.version)
        approvals.decide(request, actor=member_actor(admin), outcome="approve", comment="Agreed at the board",
                         version=request.version, step_up=approvals.StepUpAnswer(code=next_code(totp)))
        assert request.status == RequestStatus.APPROVED
        assert (risk.acceptance, risk.acceptance_outcome, risk.acceptance_by_id) == (Acceptance.ACCEPTED, "approved",
                                                                                     admin.user_id)
        assert risk.acceptance_at is not None
        assert _actions(risk)[-1] == "risk.accepted"


def test_rejection_restores_the_previous_treatment(tenant_a, people, in_tenant):
    officer, admin = people
    totp = enrol_totp(admin)
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE | {"treatment": "mitigate", "residual_likelihood": 5})
        request = services.accept_risk(risk, actor=actor)
        approvals.decide(request, actor=member_actor(admin), outcome="reject", comment="Too high, mitigate it",
                         version=request.version, step_up=approvals.StepUpAnswer(code=next_code(totp)))
        assert (risk.treatment, risk.acceptance, risk.acceptance_outcome) == (Treatment.MITIGATE,
                                                                              Acceptance.REJECTED, "rejected")
        assert "risk.acceptance_ended" in _actions(risk)
        # It can be asked again after a rejection.
        assert services.accept_risk(risk, actor=actor) is not None


def test_cancel_and_expiry_restore_too(tenant_a, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE | {"treatment": "avoid"})
        approvals.cancel(services.accept_risk(risk, actor=actor), actor=actor)
        assert (risk.treatment, risk.acceptance_outcome) == (Treatment.AVOID, "cancelled")
        services.accept_risk(risk, actor=actor)
        expired = approvals.expire_overdue(actor=system_actor(tenant_a), now=utcnow() + timedelta(days=8))
        assert len(expired) == 1
        assert (risk.treatment, risk.acceptance, risk.acceptance_outcome) == (Treatment.AVOID, Acceptance.REJECTED,
                                                                              "expired")


def test_choosing_accept_in_an_edit_goes_through_acceptance(tenant_a, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE)
        services.update_risk(risk, actor=actor, version=risk.version, treatment="accept", treatment_plan="Accept")
        assert risk.acceptance == Acceptance.PENDING
        assert services.open_acceptance(risk) is not None
        # Creating a risk with "accept" above the threshold also only asks.
        fresh = services.create_risk(actor=actor, **BASE | {"treatment": "accept"})
        assert (fresh.treatment, fresh.acceptance) == (Treatment.ACCEPT, Acceptance.PENDING)


def test_stale_edit_is_refused_and_changes_nothing(tenant_a, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE)
        seen = risk.version
        services.update_risk(risk, actor=actor, version=seen, title="Renamed")
        with pytest.raises(Conflict, match="changed while you were editing"):
            services.update_risk(risk, actor=actor, version=seen, title="Overwritten")
        db.session.expire_all()
        assert risk.title == "Renamed"


def test_overdue_and_filters(tenant_a, people, in_tenant):
    officer, _admin = people
    today = services.today()
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        late = services.create_risk(actor=actor, **BASE | {"review_date": today - timedelta(days=1)})
        due_today = services.create_risk(actor=actor, **BASE | {"review_date": today, "category": "privacy"})
        closed = services.create_risk(actor=actor, **BASE | {"review_date": today - timedelta(days=9)})
        services.update_risk(closed, actor=actor, status="closed")
        assert late.is_overdue(today) and not due_today.is_overdue(today) and not closed.is_overdue(today)
        overdue = queries.risk_list(queries.parse_filters({"overdue": "1"}), me=officer.user, today=today)
        assert [r.id for r in overdue] == [late.id]
        cell = queries.parse_filters({"cell": "3-4", "category": "privacy"})
        assert [r.id for r in queries.risk_list(cell, me=None, today=today)] == [due_today.id]
        assert queries.heatmap(queries.parse_filters({"basis": "inherent"}), me=None, today=today) == {(4, 5): 2}
        with pytest.raises(ValidationFailed):
            queries.parse_filters({"cell": "6-1"})


def test_links_are_tenant_scoped(tenant_a, tenant_b, people, in_tenant):
    officer, _admin = people
    case_a = factories.make_case(tenant_a)
    case_b = factories.make_case(tenant_b)
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE)
        services.set_links(risk, actor=actor, cases=[case_a.public_id])
        assert [c.id for c in services.linked(risk, "cases")] == [case_a.id]
        with pytest.raises(ValidationFailed, match="Not found here"):
            services.set_links(risk, actor=actor, cases=[case_b.public_id])
        services.set_links(risk, actor=actor, cases=[])
        assert services.linked(risk, "cases") == []


def test_new_residual_scores_on_an_accepted_risk_are_accepted_afresh(tenant_a, people, in_tenant):
    officer, _admin = people
    with in_tenant(tenant_a):
        actor = member_actor(officer)
        risk = services.create_risk(actor=actor, **BASE | {"residual_likelihood": 2, "treatment": "transfer"})  # 8
        services.accept_risk(risk, actor=actor)
        assert risk.acceptance == Acceptance.ACCEPTED
        services.update_risk(risk, actor=actor, residual_likelihood=4)  # 16: now above the threshold
        assert (risk.acceptance, risk.previous_treatment) == (Acceptance.PENDING, Treatment.TRANSFER)
        assert services.open_acceptance(risk) is not None
