"""Approval requests, their ordered steps and decisions, and the in-app notifications they raise."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User
from app.identity.passkey_models import StepUpProof


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class StepStatus(StrEnum):
    WAITING = "waiting"  # an earlier step is still open
    ACTIVE = "active"
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"  # the request ended (cancelled, expired) while this step was open or waiting


class Rule(StrEnum):
    ANY = "any"
    ALL = "all"
    N_OF_M = "n_of_m"


class Outcome(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


def _enum(kind: type[StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class ApprovalRequest(TenantScoped, Base):
    """A request to approve one subject of another domain (a policy version, a risk acceptance, ...)."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    subject_kind: Mapped[str] = mapped_column(sa.String(40), index=True)
    subject_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    high_impact: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus), default=RequestStatus.PENDING, index=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    # Bumped on every change; forms and API calls carry it so a stale decision is refused (409).
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = created_at_column()
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    requested_by: Mapped[User] = relationship(lazy="joined")
    steps: Mapped[list[ApprovalStep]] = relationship(
        back_populates="request", order_by="ApprovalStep.position", lazy="selectin", cascade="all, delete-orphan")

    @property
    def reference(self) -> str:
        return f"APR-{self.id}"

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.PENDING

    @property
    def current_step(self) -> ApprovalStep | None:
        return next((s for s in self.steps if s.status == StepStatus.ACTIVE), None)

    @property
    def decisions(self) -> list[ApprovalDecision]:
        return [d for s in self.steps for d in s.decisions]

    def decision_of(self, user_id: int) -> ApprovalDecision | None:
        """The member's latest decision on this request, if any."""
        return next((d for d in reversed(self.decisions) if d.user_id == user_id), None)


class ApprovalStep(TenantScoped, Base):
    """One ordered stage: who may approve (a role or named members, fixed when the request is made) and the rule."""

    __tablename__ = "approval_steps"
    __table_args__ = (sa.UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(120))
    rule: Mapped[Rule] = mapped_column(_enum(Rule), default=Rule.ANY)
    required: Mapped[int] = mapped_column(sa.Integer, default=1)  # approvals needed (N of M)
    approver_role: Mapped[str | None] = mapped_column(sa.String(20))
    # User ids eligible to decide, resolved when the request is made (the requester is never one).
    approver_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    due_hours: Mapped[int | None] = mapped_column(sa.Integer)
    status: Mapped[StepStatus] = mapped_column(_enum(StepStatus), default=StepStatus.WAITING)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[ApprovalRequest] = relationship(back_populates="steps")
    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="step", order_by="ApprovalDecision.id", lazy="selectin")

    @property
    def needed(self) -> int:
        if self.rule == Rule.ANY:
            return 1
        if self.rule == Rule.ALL:
            return len(self.approver_ids)
        return self.required

    @property
    def approvals(self) -> int:
        return sum(1 for d in self.decisions if d.outcome == Outcome.APPROVE)

    @property
    def rejections(self) -> int:
        return sum(1 for d in self.decisions if d.outcome == Outcome.REJECT)

    @property
    def rule_label(self) -> str:
        return {Rule.ANY: "any one of", Rule.ALL: "all of"}.get(self.rule, f"{self.required} of")

    @property
    def is_overdue(self) -> bool:
        return self.status == StepStatus.ACTIVE and self.deadline is not None and self.deadline <= utcnow()

    def can_decide(self, user_id: int) -> bool:
        return user_id in self.approver_ids and all(d.user_id != user_id for d in self.decisions)


class ApprovalDecision(TenantScoped, Base):
    """One approver's approve or reject on one step, with a comment and, for high impact, the step-up proof."""

    __tablename__ = "approval_decisions"
    __table_args__ = (sa.UniqueConstraint("step_id", "user_id"),)  # one decision per person per step

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(sa.ForeignKey("approval_steps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome, 10))
    comment: Mapped[str] = mapped_column(sa.Text)
    request_version: Mapped[int] = mapped_column(sa.Integer)  # the version the decider saw (bound in the proof)
    stepup_proof_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stepup_proofs.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()

    step: Mapped[ApprovalStep] = relationship(back_populates="decisions")
    user: Mapped[User] = relationship(lazy="joined")
    proof: Mapped[StepUpProof | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"{self.outcome.value} by {self.user.email}"


class Notification(TenantScoped, Base):
    """An in-app notice for one member (push delivery arrives with the responder work)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.String(1000), default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    @property
    def audit_label(self) -> str:
        return self.title
