"""Alerts, their observables, and each tenant's alert settings (deduplication, numbering)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import User


class AlertSeverity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self]


SEVERITY_RANK = {s: i for i, s in enumerate(AlertSeverity, start=1)}


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class CloseReason(StrEnum):
    TRUE_POSITIVE = "true_positive"
    BENIGN = "benign"
    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"


class ObservableKind(StrEnum):
    IP = "ip"
    DOMAIN = "domain"
    HASH = "hash"
    USER = "user"
    HOST = "host"
    URL = "url"
    EMAIL = "email"


# The workflow: triage moves forward; closing is allowed from any open state; reopening returns to new.
TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.NEW: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS, AlertStatus.CLOSED}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.IN_PROGRESS, AlertStatus.CLOSED}),
    AlertStatus.IN_PROGRESS: frozenset({AlertStatus.CLOSED}),
    AlertStatus.CLOSED: frozenset({AlertStatus.NEW}),
}

TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
DEFAULT_FINGERPRINT_FIELDS = ("source", "rule_name", "primary_observable")
DEFAULT_DEDUP_WINDOW_MINUTES = 24 * 60


def _enum(cls: type[StrEnum], length: int = 20) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e],
                   validate_strings=True)


class Alert(TenantScoped, Base):
    """One detection, possibly seen many times (occurrences), triaged by an analyst."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "number"),
        sa.CheckConstraint("(status = 'closed') = (close_reason IS NOT NULL)", name="closed_has_reason"),
        # The queue: one index per single filter, each in the default order (newest last_seen
        # first, id breaking ties), so a page of 50 reads 51 index entries and never sorts.
        sa.Index("ix_alerts_queue_last_seen", "tenant_id", "last_seen", "id"),
        sa.Index("ix_alerts_queue_status", "tenant_id", "status", "last_seen", "id"),
        sa.Index("ix_alerts_queue_severity", "tenant_id", "severity_rank", "last_seen", "id"),
        sa.Index("ix_alerts_queue_source", "tenant_id", "source", "last_seen", "id"),
        sa.Index("ix_alerts_queue_assignee", "tenant_id", "assignee_id", "last_seen", "id"),
        sa.Index("ix_alerts_fingerprint", "tenant_id", "fingerprint"),
    )

    # Every index above leads with tenant_id, so the mixin's single-column index is left out:
    # it would cost each insert one more b-tree, and without ANALYZE statistics SQLite prefers
    # it to the right composite index (a page of the queue then walks all 200,000 rows).
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    number: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(500))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    severity: Mapped[AlertSeverity] = mapped_column(_enum(AlertSeverity))
    # The severity as a number, so the queue can sort by it on an index.
    severity_rank: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[AlertStatus] = mapped_column(_enum(AlertStatus), default=AlertStatus.NEW)
    close_reason: Mapped[CloseReason | None] = mapped_column(_enum(CloseReason))
    source: Mapped[str] = mapped_column(sa.String(200))
    rule_name: Mapped[str] = mapped_column(sa.String(300), default="")
    techniques: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    raw_event: Mapped[dict | None] = mapped_column(sa.JSON)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    occurrences: Mapped[int] = mapped_column(sa.Integer, default=1)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    assignee: Mapped[User | None] = relationship(lazy="joined")
    observables: Mapped[list[AlertObservable]] = relationship(
        back_populates="alert", lazy="raise", cascade="all, delete-orphan", order_by="AlertObservable.id")

    @property
    def reference(self) -> str:
        return f"ALR-{self.number}"

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title[:200]}"

    @property
    def is_open(self) -> bool:
        return self.status != AlertStatus.CLOSED

    def can_transition(self, to: AlertStatus) -> bool:
        return to in TRANSITIONS[self.status]

    def __repr__(self) -> str:
        return f"<Alert {self.reference}>"


class AlertObservable(TenantScoped, Base):
    """An indicator found in an alert, normalised so equal values match across alerts."""

    __tablename__ = "alert_observables"
    __table_args__ = (
        # value before kind: equal-value pivots use both columns, and the queue's search by
        # prefix of a value ("203.0.113.") is a range on (tenant_id, value).
        sa.Index("ix_alert_observables_lookup", "tenant_id", "value", "kind"),
        # A page's observables (alert_id IN …) and the cascade from a deleted alert. tenant_id is in
        # it so SQLite's planner, with no statistics, prefers it to the lookup index for that query.
        sa.Index("ix_alert_observables_alert", "alert_id", "tenant_id"),
    )

    # No single-column tenant index (see Alert.tenant_id): a page's observables are found by alert_id.
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    kind: Mapped[ObservableKind] = mapped_column(_enum(ObservableKind))
    value: Mapped[str] = mapped_column(sa.String(2048))

    alert: Mapped[Alert] = relationship(back_populates="observables", lazy="raise")


class AlertSettings(TenantScoped, Base):
    """Per-tenant alert configuration, and the counter that hands out alert numbers."""

    __tablename__ = "alert_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint_fields: Mapped[list[str]] = mapped_column(sa.JSON, default=lambda: list(DEFAULT_FINGERPRINT_FIELDS))
    dedup_window_minutes: Mapped[int] = mapped_column(sa.Integer, default=DEFAULT_DEDUP_WINDOW_MINUTES)
    # The last alert number given out; locked while allocating so concurrent ingests never collide.
    last_number: Mapped[int] = mapped_column(sa.Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def audit_label(self) -> str:
        return "alert settings"


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """A validated alert before it is stored: what OCSF mapping and our own JSON both produce."""

    title: str
    severity: AlertSeverity
    source: str
    seen_at: datetime
    description: str = ""
    rule_name: str = ""
    techniques: tuple[str, ...] = ()
    observables: tuple[tuple[ObservableKind, str], ...] = ()
    raw_event: dict | None = None

    @property
    def primary_observable(self) -> str:
        return f"{self.observables[0][0]}:{self.observables[0][1]}" if self.observables else ""


class AlertTally(TenantScoped, Base):
    """How many of the tenant's alerts are in each (status, severity, source): the dashboard's counts.

    Kept by app/soc/tallies.py in the same transaction as every change that moves an alert
    between cells (create, ingest, a status transition), so counting never scans the alerts.
    """

    __tablename__ = "alert_tallies"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "status", "severity", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[AlertStatus] = mapped_column(_enum(AlertStatus))
    severity: Mapped[AlertSeverity] = mapped_column(_enum(AlertSeverity))
    source: Mapped[str] = mapped_column(sa.String(200))
    count: Mapped[int] = mapped_column(sa.Integer, default=0)


class AlertDailyVolume(TenantScoped, Base):
    """New alerts per UTC day they were first seen (the dashboard's 30-day volume), kept with the tallies."""

    __tablename__ = "alert_daily_volume"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
