"""The read side of alerts: the filtered queue with keyset paging, observable pivots, counts.

Every statement here is tenant-scoped by core/tenancy.py; none pages with OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from app.core.actors import Actor
from app.core.db import db
from app.core.errors import ValidationFailed
from app.identity.models import User
from app.soc.models import Alert, AlertObservable, AlertSeverity, AlertStatus
from app.soc.observables import ObservableError, normalise

SORTS = ("last_seen", "severity", "number")


@dataclass(frozen=True)
class AlertQueueFilter:
    """What the queue shows: every field optional, lists mean "any of"."""

    status: tuple[AlertStatus, ...] = ()
    severity: tuple[AlertSeverity, ...] = ()
    source: str | None = None
    assignee: str | None = None  # "me", "unassigned" or a user's public id
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args) -> AlertQueueFilter:
        """Parse query arguments (a MultiDict or a plain mapping); raise ValidationFailed naming bad ones."""
        errors: dict[str, list[str]] = {}
        status = _enums(args, "status", AlertStatus, errors)
        severity = _enums(args, "severity", AlertSeverity, errors)
        since, until = _when(args, "since", errors), _when(args, "until", errors)
        if errors:
            raise ValidationFailed(errors)
        return cls(status=status, severity=severity, source=(args.get("source") or "").strip() or None,
                   assignee=(args.get("assignee") or "").strip() or None, since=since, until=until,
                   q=(args.get("q") or "").strip()[:200] or None)

    def args(self) -> dict[str, list[str] | str]:
        """The filter as query arguments, so a filtered view is a shareable URL."""
        out: dict[str, list[str] | str] = {}
        if self.status:
            out["status"] = [s.value for s in self.status]
        if self.severity:
            out["severity"] = [s.value for s in self.severity]
        for name in ("source", "assignee", "q"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("since", "until"):
            if getattr(self, name):
                out[name] = getattr(self, name).isoformat()
        return out


def _getlist(args, name: str) -> list[str]:
    values = args.getlist(name) if hasattr(args, "getlist") else [args.get(name)] if args.get(name) else []
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _enums(args, name: str, enum, errors: dict) -> tuple:
    out = []
    for raw in _getlist(args, name):
        try:
            out.append(enum(raw.lower()))
        except ValueError:
            errors.setdefault(name, []).append(
                f"Unknown {name} {raw[:40]!r}; use {', '.join(e.value for e in enum)}.")
    return tuple(dict.fromkeys(out))


def _when(args, name: str, errors: dict) -> datetime | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        errors[name] = ["Use an ISO 8601 time with a zone, e.g. 2025-11-24T09:00:00Z."]
        return None
    if value.tzinfo is None:
        errors[name] = ["Give the time zone, e.g. 2025-11-24T09:00:00Z."]
        return None
    return value


def filtered_alerts(flt: AlertQueueFilter, actor: Actor) -> sa.Select:
    stmt = sa.select(Alert)
    if flt.status:
        stmt = stmt.where(Alert.status.in_(flt.status))
    if flt.severity:
        stmt = stmt.where(Alert.severity.in_(flt.severity))
    if flt.source:
        stmt = stmt.where(Alert.source == flt.source)
    if flt.assignee == "unassigned":
        stmt = stmt.where(Alert.assignee_id.is_(None))
    elif flt.assignee == "me":
        stmt = stmt.where(Alert.assignee_id == (actor.user.id if actor.user is not None else -1))
    elif flt.assignee:
        stmt = stmt.where(Alert.assignee_id == sa.select(User.id).where(User.public_id == flt.assignee)
                          .scalar_subquery())
    if flt.since:
        stmt = stmt.where(Alert.last_seen >= flt.since)
    if flt.until:
        stmt = stmt.where(Alert.last_seen < flt.until)
    if flt.q:
        # Titles by substring; observables by prefix of the normalised value (an IP, a hash, a domain).
        matching = sa.select(AlertObservable.alert_id).where(AlertObservable.value.startswith(flt.q.lower(),
                                                                                              autoescape=True))
        stmt = stmt.where(sa.or_(Alert.title.icontains(flt.q, autoescape=True), Alert.id.in_(matching)))
    return stmt


def _sort_column(sort: str):
    return {"last_seen": Alert.last_seen, "severity": Alert.severity_rank, "number": Alert.number}[sort]


def _encode(sort: str, value, key: int) -> str:
    value = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps({"s": sort, "v": value, "k": key}).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str):
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort:
            raise ValueError("cursor of another sort")
        value = datetime.fromisoformat(data["v"]) if sort == "last_seen" else int(data["v"])
        return value, int(data["k"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed({"cursor": ["The cursor is not valid; use next_cursor as given."]}) from None


def alert_queue(flt: AlertQueueFilter, actor: Actor, *, cursor: str | None = None, limit: int = 50,
                sort: str = "last_seen") -> tuple[list[Alert], str | None]:
    """One page of the queue, newest (or most severe, or highest number) first, and the next cursor."""
    if sort not in SORTS:
        raise ValidationFailed({"sort": [f"Sort by {', '.join(SORTS)}."]})
    column = _sort_column(sort)
    stmt = filtered_alerts(flt, actor)
    if cursor:
        value, key = _decode(cursor, sort)
        stmt = stmt.where(sa.or_(column < value, sa.and_(column == value, Alert.id < key)))
    rows = list(db.session.scalars(stmt.order_by(column.desc(), Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return rows, (_encode(sort, getattr(last, column.key), last.id) if more and last else None)


def observables_of(alert: Alert) -> list[AlertObservable]:
    return list(db.session.scalars(sa.select(AlertObservable).where(AlertObservable.alert_id == alert.id)
                                   .order_by(AlertObservable.id)))


def observables_by_alert(alerts: list[Alert]) -> dict[int, list[AlertObservable]]:
    """The observables of a page of alerts in one query."""
    out: dict[int, list[AlertObservable]] = {a.id: [] for a in alerts}
    if alerts:
        for obs in db.session.scalars(sa.select(AlertObservable).where(AlertObservable.alert_id.in_(out))
                                      .order_by(AlertObservable.id)):
            out[obs.alert_id].append(obs)
    return out


def alerts_with_observable(kind: str, value: str, *, exclude: Alert | None = None, limit: int = 50) -> list[Alert]:
    """Other alerts that saw this indicator, newest first."""
    try:
        obs_kind, normalised = normalise(kind, value)
    except ObservableError as exc:
        raise ValidationFailed({"observable": [str(exc)]}) from None
    ids = sa.select(AlertObservable.alert_id).where(AlertObservable.kind == obs_kind,
                                                    AlertObservable.value == normalised)
    stmt = sa.select(Alert).where(Alert.id.in_(ids)).order_by(Alert.last_seen.desc(), Alert.id.desc()).limit(limit)
    if exclude is not None:
        stmt = stmt.where(Alert.id != exclude.id)
    return list(db.session.scalars(stmt.options(orm.noload(Alert.assignee))))


def alert_counts() -> dict[str, dict[str, int]]:
    """Alerts by severity, status and source: grouped scans of the queue indexes, no table scan."""
    out = {}
    for name, column in (("severity", Alert.severity), ("status", Alert.status), ("source", Alert.source)):
        rows = db.session.execute(sa.select(column, sa.func.count()).group_by(column))
        out[name] = {str(getattr(k, "value", k)): n for k, n in rows}
    return out


# --- additions for the queue and detail pages ------------------------------------------------


def latest_alert_number() -> int:
    """The highest alert number in the tenant (0 when none): the queue's "new since" mark."""
    return db.session.scalar(sa.select(sa.func.max(Alert.number))) or 0


def count_newer(flt: AlertQueueFilter, actor: Actor, after_number: int) -> int:
    """How many alerts matching the filter arrived after the given number (the queue's poll)."""
    stmt = filtered_alerts(flt, actor).where(Alert.number > after_number).with_only_columns(sa.func.count())
    return db.session.scalar(stmt) or 0


def alerts_by_public_ids(public_ids: list[str], *, limit: int = 500) -> list[Alert]:
    """The tenant's alerts among these ids (others are silently absent), in queue order."""
    ids = list(dict.fromkeys(public_ids))[:limit]
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Alert).where(Alert.public_id.in_(ids))
                                   .order_by(Alert.last_seen.desc(), Alert.id.desc())))


def alert_sources() -> list[str]:
    """The sources seen in the tenant, for the queue's source filter."""
    return list(db.session.scalars(sa.select(Alert.source).distinct().order_by(Alert.source)))


def alert_history(alert: Alert, tenant, *, limit: int = 200) -> list:
    """The audit records about this alert, newest first.

    AuditRecord is not TenantScoped; app.audit.queries.tenant_records names the tenant's own chain.
    """
    from app.audit.queries import tenant_records
    from app.core.audit import AuditRecord

    stmt = tenant_records(tenant).where(AuditRecord.target_id == alert.public_id)
    return list(db.session.scalars(stmt.order_by(AuditRecord.seq.desc()).limit(limit)))


def linked_case(alert: Alert):
    """The case this alert is linked to, or None."""
    from app.soc.cases.models import Case, CaseAlertLink

    return db.session.scalar(sa.select(Case).join(CaseAlertLink, CaseAlertLink.case_id == Case.id)
                             .where(CaseAlertLink.alert_id == alert.id))


def assignable_members() -> list:
    """Active members who can see alerts, for the assignee choices."""
    from app.core.permissions import permissions_for_role
    from app.identity.models import Membership

    stmt = (sa.select(Membership).join(Membership.user).where(Membership.is_active, User.is_active)
            .order_by(User.name, User.email))
    return [m for m in db.session.scalars(stmt) if "alert:read" in permissions_for_role(m.role)]


def member_by_user_id(user_public_id: str):
    """The tenant's membership of the user with this public id, or None."""
    from app.identity.models import Membership

    return db.session.scalar(sa.select(Membership).join(Membership.user).where(User.public_id == user_public_id))
