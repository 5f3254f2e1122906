"""Read side of approvals: the inbox tabs and one request with everything its page shows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from app.approvals.models import ApprovalDecision, ApprovalRequest, ApprovalStep, RequestStatus
from app.core.db import db
from app.identity.models import User

TABS = {"waiting": "Waiting for me", "mine": "Requested by me", "decided": "Decided"}
TAB_LIMIT = 100


def _loaded(stmt: sa.Select) -> sa.Select:
    return stmt.options(orm.selectinload(ApprovalRequest.steps).selectinload(ApprovalStep.decisions))


def waiting_for(user) -> list[ApprovalRequest]:
    """Open requests whose current step names this member, who has not decided on it yet."""
    # approver_ids is JSON, so membership is checked here rather than in SQL (open requests are few).
    rows = db.session.scalars(_loaded(sa.select(ApprovalRequest).where(
        ApprovalRequest.status == RequestStatus.PENDING).order_by(ApprovalRequest.id.desc())))
    return [r for r in rows if r.current_step is not None and r.current_step.can_decide(user.id)][:TAB_LIMIT]


def requested_by(user) -> list[ApprovalRequest]:
    return list(db.session.scalars(_loaded(sa.select(ApprovalRequest).where(
        ApprovalRequest.requested_by_id == user.id).order_by(ApprovalRequest.id.desc()).limit(TAB_LIMIT))))


def decided_by(user) -> list[ApprovalRequest]:
    mine = sa.select(ApprovalDecision.request_id).where(ApprovalDecision.user_id == user.id)
    return list(db.session.scalars(_loaded(sa.select(ApprovalRequest).where(
        ApprovalRequest.id.in_(mine)).order_by(ApprovalRequest.id.desc()).limit(TAB_LIMIT))))


def tab_rows(tab: str, user) -> list[ApprovalRequest]:
    return {"waiting": waiting_for, "mine": requested_by, "decided": decided_by}[tab](user)


def for_subject(kind: str, subject_id: str) -> list[ApprovalRequest]:
    """Every request about one subject, newest first (a policy version's review history)."""
    return list(db.session.scalars(_loaded(sa.select(ApprovalRequest).where(
        ApprovalRequest.subject_kind == kind, ApprovalRequest.subject_id == subject_id)
        .order_by(ApprovalRequest.id.desc()))))


def list_statement(status: str | None = None) -> sa.Select:
    stmt = _loaded(sa.select(ApprovalRequest))
    return stmt.where(ApprovalRequest.status == RequestStatus(status)) if status else stmt


def people_of(request: ApprovalRequest) -> dict[int, User]:
    """Everyone named on the request's steps, by user id (for the approver lists)."""
    ids = {i for s in request.steps for i in s.approver_ids}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))} if ids else {}
