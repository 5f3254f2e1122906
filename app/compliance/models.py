"""Compliance models: the global framework library, and each tenant's adoption, controls and evidence.

Frameworks, their requirements and the default control templates are *global*: they are
published reference texts (a regulation, a standard's clause list), identical for every
tenant, loaded from data files by `vigil compliance load`. Keeping one copy means an upgrade
of a file reaches every tenant at once, and a tenant's mappings point at the same stable
requirement rows. Nothing a tenant does is stored there: adoption, controls, mappings,
evidence, scores and tasks are `TenantScoped`. The one exception is a framework imported
from OSCAL by a tenant, which carries `owner_tenant_id` and is shown to that tenant only.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User


def _enum(cls: type[StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
                   validate_strings=True)


class ControlStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    NOT_APPLICABLE = "not_applicable"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class EvidenceKind(StrEnum):
    FILE = "file"
    LINK = "link"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


# --- the global library ----------------------------------------------------------------------


class Framework(Base):
    """One version of a framework (EU AI Act 2024, NIST CSF 2.0); global reference data."""

    __tablename__ = "compliance_frameworks"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    short_name: Mapped[str] = mapped_column(sa.String(60))
    version: Mapped[str] = mapped_column(sa.String(40))
    published: Mapped[date | None] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.Text, default="")
    licence: Mapped[str] = mapped_column(sa.Text, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    origin: Mapped[str] = mapped_column(sa.String(20), default="file")  # file | oscal
    content_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    owner_tenant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"),
                                                        index=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def audit_label(self) -> str:
        return f"{self.short_name} ({self.key})"


class Requirement(Base):
    """A node of a framework's tree: a group (function, category) or a leaf requirement.

    Removed from its file, a requirement is retired (kept, hidden, not scored) so tenants'
    mappings and history still point at something.
    """

    __tablename__ = "compliance_requirements"
    __table_args__ = (
        sa.UniqueConstraint("framework_id", "ref"),
        sa.Index("ix_compliance_requirements_tree", "framework_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    framework_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_frameworks.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("compliance_requirements.id", ondelete="SET NULL"),
                                                  index=True)
    ref: Mapped[str] = mapped_column(sa.String(80))
    title: Mapped[str] = mapped_column(sa.String(400))
    kind: Mapped[str] = mapped_column(sa.String(40), default="requirement")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    position: Mapped[int] = mapped_column(sa.Integer, default=0)  # document order within the framework
    depth: Mapped[int] = mapped_column(sa.Integer, default=0)
    is_leaf: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    framework: Mapped[Framework] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"{self.ref} {self.title[:200]}"


class ControlTemplate(Base):
    """A control of the shipped default set, with the requirements it covers in each framework."""

    __tablename__ = "compliance_control_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    maps: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {framework key: [ref, ...]}
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LibraryFile(Base):
    """The content hash of each loaded file, so an unchanged file is skipped and a changed one upgraded."""

    __tablename__ = "compliance_library_files"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- a tenant's programme --------------------------------------------------------------------


class Adoption(TenantScoped, Base):
    __tablename__ = "compliance_adoptions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "framework_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_frameworks.id", ondelete="CASCADE"))
    adopted_by_label: Mapped[str] = mapped_column(sa.String(320), default="")
    created_at: Mapped[datetime] = created_at_column()

    framework: Mapped[Framework] = relationship(lazy="joined")


class Control(TenantScoped, Base):
    """A control the tenant runs; one control can satisfy requirements in many frameworks."""

    __tablename__ = "compliance_controls"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "key"),
        sa.CheckConstraint("status != 'not_applicable' OR length(justification) > 0", name="na_justified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    key: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ControlStatus] = mapped_column(_enum(ControlStatus), default=ControlStatus.NOT_STARTED)
    justification: Mapped[str] = mapped_column(sa.Text, default="")
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    review_cadence_days: Mapped[int | None] = mapped_column(sa.Integer)
    template_key: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"{self.key} {self.name[:200]}"


class ControlMapping(TenantScoped, Base):
    __tablename__ = "compliance_control_mappings"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "control_id", "requirement_id"),
        sa.Index("ix_compliance_control_mappings_req", "tenant_id", "requirement_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    control_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_controls.id", ondelete="CASCADE"), index=True)
    requirement_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_requirements.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = created_at_column()

    control: Mapped[Control] = relationship(lazy="joined")
    requirement: Mapped[Requirement] = relationship(lazy="joined")


class Evidence(TenantScoped, Base):
    """A file (content-addressed) or a link (URL, ticket) that shows controls work."""

    __tablename__ = "compliance_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    title: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[EvidenceKind] = mapped_column(_enum(EvidenceKind))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    storage_key: Mapped[str | None] = mapped_column(sa.String(200))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date, index=True)
    review_status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus), default=ReviewStatus.PENDING)
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_by_label: Mapped[str | None] = mapped_column(sa.String(320))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewal_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source_attachment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("case_attachments.id", ondelete="SET NULL"))
    uploaded_by_label: Mapped[str] = mapped_column(sa.String(320), default="")
    created_at: Mapped[datetime] = created_at_column()

    @property
    def audit_label(self) -> str:
        return self.title[:200] + (f" (sha256 {self.sha256[:12]}…)" if self.sha256 else "")

    def is_expired(self, today: date) -> bool:
        return self.valid_until is not None and self.valid_until < today

    def counts(self, today: date) -> bool:
        """Whether this evidence supports a control's score today."""
        return self.review_status == ReviewStatus.ACCEPTED and not self.is_expired(today)


class EvidenceLink(TenantScoped, Base):
    __tablename__ = "compliance_evidence_links"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "evidence_id", "control_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_evidence.id", ondelete="CASCADE"),
                                             index=True)
    control_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_controls.id", ondelete="CASCADE"), index=True)


class ScoreSnapshot(TenantScoped, Base):
    """One framework's score on one day, for trends."""

    __tablename__ = "compliance_score_snapshots"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "framework_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_frameworks.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(sa.Date)
    met: Mapped[int] = mapped_column(sa.Integer)
    applicable: Mapped[int] = mapped_column(sa.Integer)
    total: Mapped[int] = mapped_column(sa.Integer)


class ComplianceTask(TenantScoped, Base):
    """A gap handed to someone to close."""

    __tablename__ = "compliance_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    requirement_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_requirements.id", ondelete="CASCADE"),
                                                index=True)
    title: Mapped[str] = mapped_column(sa.String(400))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus), default=TaskStatus.OPEN)
    created_at: Mapped[datetime] = created_at_column()

    requirement: Mapped[Requirement] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return self.title[:200]


class StateVersion(Base):
    """A counter per tenant, bumped in the same transaction as any change to its compliance state.

    Pages key their cached computations (the framework tree, scores) on it, so a cache is never
    stale after a change, across worker processes. Not `TenantScoped`: it is written by a flush
    hook with an explicit tenant id, and read by primary key.
    """

    __tablename__ = "compliance_state_versions"

    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=0)
