"""Policies: Markdown documents with numbered versions (draft → in review → published → retired) and attestations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.compliance.models import Control
from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User


class VersionStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    RETIRED = "retired"


class Policy(TenantScoped, Base):
    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship(lazy="joined")
    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.number", lazy="selectin", cascade="all, delete-orphan")
    control_links: Mapped[list[PolicyControl]] = relationship(
        back_populates="policy", lazy="selectin", cascade="all, delete-orphan")

    @property
    def audit_label(self) -> str:
        return f"policy “{self.title}”"

    @property
    def published(self) -> PolicyVersion | None:
        return next((v for v in self.versions if v.status == VersionStatus.PUBLISHED), None)

    @property
    def open_version(self) -> PolicyVersion | None:
        """The draft or in-review version, if any (there is at most one)."""
        return next((v for v in self.versions if v.status in (VersionStatus.DRAFT, VersionStatus.IN_REVIEW)), None)

    @property
    def latest(self) -> PolicyVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def controls(self) -> list[Control]:
        """The compliance controls this policy covers, by key."""
        return sorted((link.control for link in self.control_links), key=lambda c: c.key)

    def version_numbered(self, number: int) -> PolicyVersion | None:
        return next((v for v in self.versions if v.number == number), None)


class PolicyVersion(TenantScoped, Base):
    __tablename__ = "policy_versions"
    __table_args__ = (sa.UniqueConstraint("policy_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    body: Mapped[str] = mapped_column(sa.Text)
    change_note: Mapped[str] = mapped_column(sa.String(500), default="")
    status: Mapped[VersionStatus] = mapped_column(
        sa.Enum(VersionStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=VersionStatus.DRAFT, index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    policy: Mapped[Policy] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"{self.policy.title} v{self.number}"

    @property
    def label(self) -> str:
        return f"v{self.number}"


class PolicyAcknowledgement(TenantScoped, Base):
    """A member's attestation that they read one published version."""

    __tablename__ = "policy_acknowledgements"
    __table_args__ = (sa.UniqueConstraint("version_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("policy_versions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    acknowledged_at: Mapped[datetime] = created_at_column()

    user: Mapped[User] = relationship(lazy="joined")


class PolicyControl(TenantScoped, Base):
    """A policy covers a control of the same tenant's compliance programme."""

    __tablename__ = "policy_controls"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "policy_id", "control_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    control_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_controls.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()

    policy: Mapped[Policy] = relationship(back_populates="control_links")
    control: Mapped[Control] = relationship(lazy="joined")
