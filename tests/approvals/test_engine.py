"""The approval engine's rules, called as every domain calls them (through the services)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.approvals import notifications, services
from app.approvals.models import ApprovalDecision, ApprovalRequest, RequestStatus, StepStatus
from app.approvals.services import StepSpec
from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.errors import Conflict, Forbidden, ValidationFailed


def _request(requester, *steps: StepSpec, subject: str = "chg-1") -> ApprovalRequest:
    return services.create_request(actor=requester, subject_kind="test_change", subject_id=subject, steps=list(steps))


def _decide(req, actor, outcome="approve", comment="Looks right", version=None):
    return services.decide(req, actor=actor, outcome=outcome, comment=comment,
                           version=req.version if version is None else version)


def _audit(action):
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == action)))


def test_any_one_approver_is_enough_and_the_domain_hears_of_it(tenant_a, in_tenant, members, calls):
    requester, a1, a2 = members("compliance", "admin", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin", rule="any"))
        assert sorted(req.steps[0].approver_ids) == sorted([a1.user.id, a2.user.id])
        _decide(req, a1)
        assert req.status == RequestStatus.APPROVED and req.steps[0].status == StepStatus.APPROVED
        assert calls == [("approved", "chg-1", "approved")]
        assert [r.after["outcome"] for r in _audit("approval.decided")] == ["approve"]
        assert _audit("approval.approved")


def test_all_needs_every_approver_and_one_rejection_rejects(tenant_a, in_tenant, members, calls):
    requester, a1, a2 = members("compliance", "admin", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin", rule="all"))
        _decide(req, a1)
        assert req.status == RequestStatus.PENDING and req.steps[0].approvals == 1
        other = _request(requester, StepSpec(role="admin", rule="all"), subject="chg-2")
        _decide(other, a1, "reject", "Not without a rollback plan")
        assert other.status == RequestStatus.REJECTED
        _decide(req, a2)
        assert req.status == RequestStatus.APPROVED
        assert calls == [("rejected", "chg-2", "rejected"), ("approved", "chg-1", "approved")]


def test_n_of_m_counts_approvals_and_rejects_once_unreachable(tenant_a, in_tenant, members):
    requester, a1, a2, a3 = members("compliance", "admin", "admin", "admin")
    ids = [a.user.public_id for a in (a1, a2, a3)]
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(user_ids=ids, rule="n_of_m", required=2))
        _decide(req, a1)
        assert req.status == RequestStatus.PENDING
        _decide(req, a2, "reject", "No")
        assert req.status == RequestStatus.PENDING  # 2 of 3 is still reachable
        _decide(req, a3)
        assert req.status == RequestStatus.APPROVED
        doomed = _request(requester, StepSpec(user_ids=ids, rule="n_of_m", required=2), subject="chg-2")
        _decide(doomed, a1, "reject", "No")
        assert doomed.status == RequestStatus.PENDING
        _decide(doomed, a2, "reject", "No")
        assert doomed.status == RequestStatus.REJECTED  # only one approver left: 2 can no longer be reached


def test_steps_run_in_order_and_notify_each_steps_approvers(tenant_a, in_tenant, members):
    requester, admin, officer = members("analyst", "admin", "compliance")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(name="Security", role="admin"), StepSpec(name="Compliance",
                                                                                    role="compliance"))
        assert [s.status for s in req.steps] == [StepStatus.ACTIVE, StepStatus.WAITING]
        assert notifications.unread_count(admin.user) == 1 and notifications.unread_count(officer.user) == 0
        with pytest.raises(Forbidden):
            _decide(req, officer)  # not an approver of the current step
        _decide(req, admin)
        assert [s.status for s in req.steps] == [StepStatus.APPROVED, StepStatus.ACTIVE]
        assert notifications.unread_count(officer.user) == 1
        _decide(req, officer)
        assert req.status == RequestStatus.APPROVED
        [notice] = [n for n in notifications.list_for(requester.user) if n.kind == "approval.approved"]
        assert req.title in notice.title


def test_requester_cannot_approve_their_own_request_and_the_attempt_is_audited(tenant_a, in_tenant, members):
    requester, admin = members("admin", "admin")
    with in_tenant(tenant_a):
        with pytest.raises(ValidationFailed, match="cannot approve your own"):
            _request(requester, StepSpec(user_ids=[requester.user.public_id]))
        req = _request(requester, StepSpec(role="admin"))
        assert requester.user.id not in req.steps[0].approver_ids
        version = req.version
        with pytest.raises(Forbidden, match="You requested this"):
            _decide(req, requester)
        db.session.expire_all()
        assert req.version == version and req.status == RequestStatus.PENDING
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalDecision)) == 0
        assert [r.after["reason"] for r in _audit("approval.decision_refused")] == ["own request"]
        assert admin.user.id in req.steps[0].approver_ids


def test_deciding_twice_and_after_the_end_is_refused_without_change(tenant_a, in_tenant, members):
    requester, a1, a2 = members("compliance", "admin", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin", rule="all"))
        _decide(req, a1)
        with pytest.raises(Conflict, match="already approved"):
            _decide(req, a1)
        services.cancel(req, actor=requester, reason="Superseded")
        with pytest.raises(Conflict, match="already cancelled"):
            _decide(req, a2)
        db.session.expire_all()
        assert req.status == RequestStatus.CANCELLED and len(req.decisions) == 1


def test_a_stale_version_is_a_409_and_nothing_is_saved(tenant_a, in_tenant, members):
    requester, a1, a2 = members("compliance", "admin", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin", rule="all"))
        seen = req.version
        _decide(req, a1)
        with pytest.raises(Conflict, match="changed while you were looking") as exc:
            _decide(req, a2, version=seen)
        assert exc.value.status == 409 and exc.value.details["current_version"] == req.version
        db.session.expire_all()
        assert len(req.decisions) == 1


def test_a_comment_is_required(tenant_a, in_tenant, members):
    requester, admin = members("compliance", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin"))
        with pytest.raises(ValidationFailed, match="comment"):
            _decide(req, admin, comment="   ")
        assert req.status == RequestStatus.PENDING


def test_overdue_requests_expire_and_then_refuse_decisions(tenant_a, in_tenant, members, calls):
    requester, admin = members("compliance", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin", due_hours=24))
        assert req.steps[0].deadline is not None
        assert services.expire_overdue(actor=system_actor(tenant_a), now=utcnow()) == []
        expired = services.expire_overdue(actor=system_actor(tenant_a), now=utcnow() + timedelta(hours=25))
        assert expired == [req] and req.status == RequestStatus.EXPIRED
        assert calls == [("rejected", "chg-1", "expired")]
        with pytest.raises(Conflict, match="already expired"):
            _decide(req, admin)


def test_only_the_requester_or_an_admin_may_cancel(tenant_a, in_tenant, members, calls):
    requester, officer, admin = members("analyst", "compliance", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="compliance"))
        with pytest.raises(Forbidden):
            services.cancel(req, actor=officer)
        services.cancel(req, actor=admin, reason="Duplicate")
        assert req.status == RequestStatus.CANCELLED and calls == [("rejected", "chg-1", "cancelled")]
        with pytest.raises(Conflict):
            services.cancel(req, actor=admin)


def test_bad_requests_are_refused_with_the_field_named(tenant_a, in_tenant, members):
    requester, _admin = members("compliance", "admin")
    with in_tenant(tenant_a):
        cases = [
            ({"subject_kind": "nope", "subject_id": "x", "steps": [StepSpec(role="admin")]}, "subject_type"),
            ({"subject_kind": "test_change", "subject_id": "missing", "steps": [StepSpec(role="admin")]}, "subject_id"),
            ({"subject_kind": "test_change", "subject_id": "chg-9", "steps": []}, "steps"),
            ({"subject_kind": "test_change", "subject_id": "chg-9", "steps": [StepSpec(role="auditor")]}, "steps.0"),
            ({"subject_kind": "test_change", "subject_id": "chg-9",
              "steps": [StepSpec(role="admin", rule="n_of_m", required=3)]}, "steps.0.required"),
        ]
        for kwargs, field in cases:
            with pytest.raises(ValidationFailed) as exc:
                services.create_request(actor=requester, **kwargs)
            assert field in exc.value.field_errors, (kwargs, exc.value.field_errors)
        _request(requester, StepSpec(role="admin"), subject="chg-9")
        with pytest.raises(Conflict, match="already has an open approval"):
            _request(requester, StepSpec(role="admin"), subject="chg-9")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 1


def test_another_tenants_members_are_never_approvers(tenant_a, tenant_b, in_tenant, members):
    from app.identity.auth import member_actor
    from tests import factories

    requester, admin_a = members("compliance", "admin")
    admin_b = factories.make_member(tenant_b, role="admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin"))
        assert req.steps[0].approver_ids == [admin_a.user.id]
        with pytest.raises(ValidationFailed):
            _request(requester, StepSpec(user_ids=[admin_b.user.public_id]), subject="chg-2")
    with in_tenant(tenant_b):
        assert db.session.scalar(sa.select(ApprovalRequest).where(ApprovalRequest.id == req.id)) is None
        with pytest.raises(Forbidden):
            _decide(req, member_actor(admin_b))


def test_the_expire_command_expires_overdue_requests_in_every_tenant(app, tenant_a, in_tenant, members):
    requester, _admin = members("compliance", "admin")
    with in_tenant(tenant_a):
        req = _request(requester, StepSpec(role="admin", due_hours=1))
        req.steps[0].deadline = utcnow() - timedelta(minutes=1)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["approvals", "expire"])
    assert result.exit_code == 0 and "Expired 1 overdue" in result.output, result.output
    db.session.expire_all()
    with in_tenant(tenant_a):
        assert db.session.get(ApprovalRequest, req.id).status == RequestStatus.EXPIRED
        assert _audit("approval.expired")[0].actor_label == "approval expiry"
