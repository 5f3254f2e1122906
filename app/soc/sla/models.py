"""SLA targets per tenant and severity, and the breaches the background check records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.soc.cases.models import Case
from app.soc.models import Alert, AlertSeverity


def _enum(cls: type[StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
                   validate_strings=True)


class SubjectType(StrEnum):
    ALERT = "alert"
    CASE = "case"


class BreachKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


# Sensible defaults (PagerDuty-style urgency tiers) until an admin sets the tenant's own:
# minutes to acknowledge, minutes to resolve; None means no target.
DEFAULT_TARGETS: dict[AlertSeverity, tuple[int | None, int | None]] = {
    AlertSeverity.CRITICAL: (15, 4 * 60),
    AlertSeverity.HIGH: (60, 24 * 60),
    AlertSeverity.MEDIUM: (4 * 60, 3 * 24 * 60),
    AlertSeverity.LOW: (24 * 60, 7 * 24 * 60),
    AlertSeverity.INFO: (None, None),
}


class SlaTarget(TenantScoped, Base):
    """One severity's targets for the tenant's alerts and cases; no row means the default."""

    __tablename__ = "sla_targets"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "severity"),
        sa.CheckConstraint("ack_minutes IS NULL OR ack_minutes > 0", name="ack_positive"),
        sa.CheckConstraint("resolve_minutes IS NULL OR resolve_minutes > 0", name="resolve_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    severity: Mapped[AlertSeverity] = mapped_column(_enum(AlertSeverity))
    ack_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    resolve_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def audit_label(self) -> str:
        return f"SLA targets ({self.severity.value})"


class SlaBreach(TenantScoped, Base):
    """An alert or case that missed its time to acknowledge or to resolve; one per subject and kind."""

    __tablename__ = "sla_breaches"
    __table_args__ = (
        # The check job is idempotent by query; these make a duplicate impossible even under a race.
        sa.UniqueConstraint("alert_id", "kind"),
        sa.UniqueConstraint("case_id", "kind"),
        sa.CheckConstraint("(alert_id IS NULL) <> (case_id IS NULL)", name="one_subject"),
        sa.Index("ix_sla_breaches_list", "tenant_id", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    subject_type: Mapped[SubjectType] = mapped_column(_enum(SubjectType, 10))
    alert_id: Mapped[int | None] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[BreachKind] = mapped_column(_enum(BreachKind))
    severity: Mapped[AlertSeverity] = mapped_column(_enum(AlertSeverity))  # at the time of the breach
    target_minutes: Mapped[int] = mapped_column(sa.Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    alert: Mapped[Alert | None] = relationship(lazy="raise")
    case: Mapped[Case | None] = relationship(lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"{self.kind.value} breach"


# The SLA clock starts when Vigil received the subject; these keep the metrics' window scans
# and the breach check on an index (declared here so the alert and case models stay untouched).
sa.Index("ix_alerts_sla_created", Alert.tenant_id, Alert.created_at)
sa.Index("ix_cases_sla_created", Case.tenant_id, Case.created_at)
