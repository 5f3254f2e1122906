"""Cases and what hangs off them: timeline entries, tasks, attachments, watchers, linked alerts."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User
from app.soc.cases.workflow import CaseStatus
from app.soc.models import AlertSeverity as Severity

TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def _enum(cls: type[StrEnum], length: int = 30) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
                   validate_strings=True)


class TimelineKind(StrEnum):
    EVENT = "event"
    COMMENT = "comment"
    STATUS_CHANGE = "status_change"
    ASSIGNMENT = "assignment"
    ALERT_LINK = "alert_link"
    ATTACHMENT = "attachment"
    TASK_DONE = "task_done"
    SLA_BREACH = "sla_breach"


class EventCategory(StrEnum):
    INITIAL_ACCESS = "initial_access"
    EXECUTION = "execution"
    PERSISTENCE = "persistence"
    LATERAL_MOVEMENT = "lateral_movement"
    EXFILTRATION = "exfiltration"
    CONTAINMENT_ACTION = "containment_action"
    COMMUNICATION = "communication"
    OTHER = "other"


case_watchers = sa.Table(
    "case_watchers",
    Base.metadata,
    # Reached only through a tenant-scoped case, so it needs no tenant column of its own.
    sa.Column("case_id", sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class CaseCounter(TenantScoped, Base):
    """The last case number each tenant gave out; updated in place so concurrent creates never collide."""

    __tablename__ = "case_counters"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(sa.Integer, default=0)


class Case(TenantScoped, Base):
    """An incident under investigation, with a per-tenant number people can say out loud (CASE-42)."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "number"),
        sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_has_time"),
        sa.Index("ix_cases_list_status", "tenant_id", "status", "id"),
        sa.Index("ix_cases_list_assignee", "tenant_id", "assignee_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    number: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")  # Markdown source
    severity: Mapped[Severity] = mapped_column(_enum(Severity, 20))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.NEW)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    techniques: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    template: Mapped[str | None] = mapped_column(sa.String(40))
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # left new or got an owner
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    assignee: Mapped[User | None] = relationship(lazy="joined")
    merged_into: Mapped[Case | None] = relationship(remote_side=[id], lazy="select")
    watchers: Mapped[list[User]] = relationship(secondary=case_watchers, lazy="select", order_by=User.email)
    tasks: Mapped[list[CaseTask]] = relationship(back_populates="case", lazy="select",
                                                 order_by="(CaseTask.position, CaseTask.id)")

    @property
    def reference(self) -> str:
        return f"CASE-{self.number}"

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title[:200]}"

    @property
    def is_open(self) -> bool:
        return self.status != CaseStatus.CLOSED

    def __repr__(self) -> str:
        return f"<Case {self.reference}>"


class CaseAlertLink(TenantScoped, Base):
    """An alert linked to a case; an alert belongs to at most one case (alert_id is the key)."""

    __tablename__ = "case_alerts"
    # (tenant, case): a case page reads its links here first, not every alert of the tenant (0006_soc_speed).
    __table_args__ = (sa.Index("ix_case_alerts_case", "tenant_id", "case_id"),)

    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = created_at_column()
    linked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    linked_by_label: Mapped[str] = mapped_column(sa.String(320), default="")


class CaseTask(TenantScoped, Base):
    """A checklist item inside a case."""

    __tablename__ = "case_tasks"
    __table_args__ = (sa.Index("ix_case_tasks_case", "tenant_id", "case_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(300))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()

    case: Mapped[Case] = relationship(back_populates="tasks", lazy="select")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id], lazy="joined")

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_overdue(self) -> bool:
        return not self.is_done and self.due_at is not None and self.due_at < utcnow()

    @property
    def audit_label(self) -> str:
        return self.title[:200]


class Attachment(TenantScoped, Base):
    """An evidence file of a case; the bytes live in core/storage.py under their sha256."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    storage_key: Mapped[str] = mapped_column(sa.String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_by_label: Mapped[str] = mapped_column(sa.String(320), default="")
    created_at: Mapped[datetime] = created_at_column()

    @property
    def audit_label(self) -> str:
        return f"{self.filename} (sha256 {self.sha256[:12]}…)"


class TimelineEntry(TenantScoped, Base):
    """One line of a case's forensic timeline: a manual event, a comment, or a record of a change.

    `occurred_at` is when the thing happened (typed by the analyst for manual events);
    `recorded_at` is when Vigil learned of it. System entries have both equal.
    """

    __tablename__ = "case_timeline_entries"
    __table_args__ = (
        sa.Index("ix_case_timeline_occurred", "tenant_id", "case_id", "occurred_at"),
        sa.Index("ix_case_timeline_recorded", "tenant_id", "case_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[TimelineKind] = mapped_column(_enum(TimelineKind))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    author_label: Mapped[str] = mapped_column(sa.String(320), default="")
    category: Mapped[EventCategory | None] = mapped_column(_enum(EventCategory))
    asset: Mapped[str] = mapped_column(sa.String(500), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    details: Mapped[dict | None] = mapped_column(sa.JSON)
    attachment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_attachments.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attachment: Mapped[Attachment | None] = relationship(lazy="joined")

    @property
    def is_manual(self) -> bool:
        return self.kind in (TimelineKind.EVENT, TimelineKind.COMMENT)

    @property
    def audit_label(self) -> str:
        return f"{self.kind.value} {self.body[:80]}"
