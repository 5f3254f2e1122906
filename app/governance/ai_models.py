"""The AI system inventory: the AI systems, models and agents the organisation builds or uses.

The EU AI Act classification of a system lives in its own history (see the classification module);
the system row keeps the current outcome (`risk_tier`, `ai_act_role`) so lists and filters need no join.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User


class SystemKind(StrEnum):
    SYSTEM = "system"
    MODEL = "model"
    AGENT = "agent"


class DeploymentStatus(StrEnum):
    PLANNED = "planned"
    IN_DEVELOPMENT = "in_development"
    PILOT = "pilot"
    AWAITING_GO_LIVE = "awaiting_go_live"  # a go-live approval is open
    LIVE = "live"
    RETIRED = "retired"


class RiskTier(StrEnum):
    """The EU AI Act outcome; `unclassified` until a questionnaire is completed."""

    UNCLASSIFIED = "unclassified"
    PROHIBITED = "prohibited"
    HIGH = "high"
    TRANSPARENCY = "transparency"  # Article 50 obligations only
    GPAI = "gpai"  # general-purpose AI model obligations (Articles 53, 55)
    MINIMAL = "minimal"


class AIActRole(StrEnum):
    UNKNOWN = "unknown"
    PROVIDER = "provider"
    DEPLOYER = "deployer"
    IMPORTER = "importer"
    DISTRIBUTOR = "distributor"


def _enum(kind: type[StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class AISystem(TenantScoped, Base):
    __tablename__ = "ai_systems"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[SystemKind] = mapped_column(_enum(SystemKind), default=SystemKind.SYSTEM)
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(200), default="")  # vendor, or "in-house"
    models: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # e.g. ["gpt-4o", "in-house ranker v3"]
    deployment_status: Mapped[DeploymentStatus] = mapped_column(
        _enum(DeploymentStatus), default=DeploymentStatus.PLANNED, index=True)
    data_categories: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    personal_data: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    special_category_data: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # GDPR Article 9
    affected_users: Mapped[str] = mapped_column(sa.String(500), default="")
    human_oversight: Mapped[str] = mapped_column(sa.Text, default="")
    links: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)  # [{"label": ..., "url": ...}]
    risk_tier: Mapped[RiskTier] = mapped_column(_enum(RiskTier), default=RiskTier.UNCLASSIFIED, index=True)
    ai_act_role: Mapped[AIActRole] = mapped_column(_enum(AIActRole), default=AIActRole.UNKNOWN)
    # The status to return to when a go-live approval is rejected, cancelled or expires.
    status_before_go_live: Mapped[DeploymentStatus | None] = mapped_column(_enum(DeploymentStatus), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"AI system “{self.name}”"


class ClassificationStatus(StrEnum):
    DRAFT = "draft"  # answers saved, questionnaire not finished
    COMPLETED = "completed"  # the system's current classification
    SUPERSEDED = "superseded"  # an earlier classification, kept as history


class AIClassification(TenantScoped, Base):
    """One run of the EU AI Act questionnaire for a system: its answers, and once completed its outcome."""

    __tablename__ = "ai_classifications"
    __table_args__ = (sa.Index("ix_ai_classifications_system_status", "system_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    system_id: Mapped[int] = mapped_column(sa.ForeignKey("ai_systems.id", ondelete="CASCADE"))
    status: Mapped[ClassificationStatus] = mapped_column(_enum(ClassificationStatus),
                                                         default=ClassificationStatus.DRAFT)
    answers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    result_tier: Mapped[RiskTier | None] = mapped_column(_enum(RiskTier), nullable=True)
    annex: Mapped[str] = mapped_column(sa.String(20), default="")  # "annex_i" | "annex_iii" | ""
    annex_iii_area: Mapped[str] = mapped_column(sa.String(40), default="")
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    gpai: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    systemic_risk: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    reasoning: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)  # [{"ref", "text"}]
    obligations: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)  # [{"ref", "article", "title", "detail"}]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    system: Mapped[AISystem] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id], lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"EU AI Act classification of “{self.system.name}”"
