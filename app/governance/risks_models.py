"""The risk register: risks scored for likelihood × impact (inherent and residual), their treatment and
acceptance, links to AI systems, controls and cases, and the tenant's risk settings."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User

DEFAULT_ACCEPTANCE_THRESHOLD = 12  # residual likelihood × impact at or above which acceptance needs approval


class RiskCategory(StrEnum):
    SECURITY = "security"
    PRIVACY = "privacy"
    AI_MODEL = "ai_model"
    THIRD_PARTY = "third_party"
    OPERATIONAL = "operational"
    COMPLIANCE = "compliance"


class Treatment(StrEnum):
    MITIGATE = "mitigate"
    ACCEPT = "accept"
    TRANSFER = "transfer"
    AVOID = "avoid"


class RiskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Acceptance(StrEnum):
    NONE = "none"
    PENDING = "pending"  # an approval request is open
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the last request was rejected, cancelled or expired (acceptance_outcome says which)


def _enum(kind: type[StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def _score_check(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} BETWEEN 1 AND 5", name=f"{column}_1_5")


class RiskSettings(TenantScoped, Base):
    """Per-tenant risk settings, and the counter that hands out risk numbers (RSK-7)."""

    __tablename__ = "risk_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),
                      sa.CheckConstraint("acceptance_threshold BETWEEN 1 AND 25", name="threshold_1_25"))

    id: Mapped[int] = mapped_column(primary_key=True)
    acceptance_threshold: Mapped[int] = mapped_column(sa.Integer, default=DEFAULT_ACCEPTANCE_THRESHOLD)
    # The last risk number given out; bumped in place (UPDATE … RETURNING) so concurrent creates never collide.
    last_number: Mapped[int] = mapped_column(sa.Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def audit_label(self) -> str:
        return "risk settings"


class Risk(TenantScoped, Base):
    __tablename__ = "risks"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "number"),
                      _score_check("inherent_likelihood"), _score_check("inherent_impact"),
                      _score_check("residual_likelihood"), _score_check("residual_impact"))

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    number: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")  # Markdown, rendered through core.text
    category: Mapped[RiskCategory] = mapped_column(_enum(RiskCategory), index=True)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    inherent_likelihood: Mapped[int] = mapped_column(sa.Integer)
    inherent_impact: Mapped[int] = mapped_column(sa.Integer)
    residual_likelihood: Mapped[int] = mapped_column(sa.Integer)
    residual_impact: Mapped[int] = mapped_column(sa.Integer)
    treatment: Mapped[Treatment] = mapped_column(_enum(Treatment), default=Treatment.MITIGATE, index=True)
    treatment_plan: Mapped[str] = mapped_column(sa.Text, default="")
    review_date: Mapped[date | None] = mapped_column(sa.Date, index=True)
    status: Mapped[RiskStatus] = mapped_column(_enum(RiskStatus), default=RiskStatus.OPEN, index=True)
    acceptance: Mapped[Acceptance] = mapped_column(_enum(Acceptance), default=Acceptance.NONE)
    # How the last acceptance request ended (approved, rejected, cancelled, expired, direct), for the page.
    acceptance_outcome: Mapped[str] = mapped_column(sa.String(20), default="")
    acceptance_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    acceptance_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The treatment before "accept" was asked for: restored when the acceptance is not approved.
    previous_treatment: Mapped[Treatment | None] = mapped_column(_enum(Treatment))
    # Bumped on every change; forms carry it so a stale edit is refused (409) instead of overwriting.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[owner_id])
    acceptance_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[acceptance_by_id])

    @property
    def reference(self) -> str:
        return f"RSK-{self.number}"

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title[:200]}"

    @property
    def inherent_score(self) -> int:
        return self.inherent_likelihood * self.inherent_impact

    @property
    def residual_score(self) -> int:
        return self.residual_likelihood * self.residual_impact

    def is_overdue(self, today: date) -> bool:
        return self.status == RiskStatus.OPEN and self.review_date is not None and self.review_date < today


class RiskAISystemLink(TenantScoped, Base):
    """A risk linked to an AI system (likewise controls and cases below); one row per pair, per tenant."""

    __tablename__ = "risk_ai_system_links"
    __table_args__ = (sa.UniqueConstraint("risk_id", "ai_system_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(sa.ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    ai_system_id: Mapped[int] = mapped_column(sa.ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()


class RiskControlLink(TenantScoped, Base):
    __tablename__ = "risk_control_links"
    __table_args__ = (sa.UniqueConstraint("risk_id", "control_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(sa.ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    control_id: Mapped[int] = mapped_column(sa.ForeignKey("compliance_controls.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()


class RiskCaseLink(TenantScoped, Base):
    __tablename__ = "risk_case_links"
    __table_args__ = (sa.UniqueConstraint("risk_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(sa.ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()
