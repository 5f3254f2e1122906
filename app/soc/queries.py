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
from app.soc.models import SEVERITY_RANK, Alert, AlertObservable, AlertSeverity, AlertStatus, AlertTally
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


def _starts_with(column, prefix: str):
    """A prefix match the (tenant_id, value) index can serve.

    SQLite only turns LIKE into an index range for case-insensitive columns, so the range is
    spelled out beside the LIKE (values are stored lowercase, compared byte-wise there). Other
    backends keep the LIKE alone: their collation may not order a prefix before its extensions.
    """
    like = column.startswith(prefix, autoescape=True)
    if db.session.get_bind().dialect.name != "sqlite":
        return like
    return sa.and_(column >= prefix, column < prefix + "\U0010ffff", like)


def filtered_alerts(flt: AlertQueueFilter, actor: Actor) -> sa.Select:
    stmt = sa.select(Alert)
    if flt.status:
        stmt = stmt.where(Alert.status.in_(flt.status))
    if flt.severity:  # by rank: the queue's severity index holds the rank
        stmt = stmt.where(Alert.severity_rank.in_(sorted(SEVERITY_RANK[s] for s in flt.severity)))
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
        matching = sa.select(AlertObservable.alert_id).where(_starts_with(AlertObservable.value, flt.q.lower()))
        stmt = stmt.where(sa.or_(Alert.title.icontains(flt.q, autoescape=True), Alert.id.in_(matching)))
    return stmt


# Each sort is a key of columns, newest (or most severe, or highest number) first, ending with
# the id so the order is total. The queue indexes hold these keys in order, so a page reads
# 51 index entries; the cursor is the last row's key.
_SORT_KEYS = {"last_seen": ("last_seen", "id"), "severity": ("severity_rank", "last_seen", "id"),
              "number": ("number", "id")}


def _sort_key(sort: str) -> list:
    return [getattr(Alert, name) for name in _SORT_KEYS[sort]]


def _encode(sort: str, row: Alert) -> str:
    values = [getattr(row, name) for name in _SORT_KEYS[sort]]
    values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps({"s": sort, "v": values}).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> list:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        names = _SORT_KEYS[sort]
        if data["s"] != sort or len(data["v"]) != len(names):
            raise ValueError("cursor of another sort")
        values = [_aware(v) if name == "last_seen" else int(v) for name, v in zip(names, data["v"], strict=True)]
        return values
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed({"cursor": ["The cursor is not valid; use next_cursor as given."]}) from None


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive time in cursor")
    return parsed


def _after(key: list, values: list):
    """Rows after the cursor in descending key order: (a < x) or (a = x and (b < y or ...))."""
    column, value = key[0], values[0]
    if len(key) == 1:
        return column < value
    return sa.or_(column < value, sa.and_(column == value, _after(key[1:], values[1:])))


def _page(stmt: sa.Select, cursor: str | None, limit: int, sort: str) -> sa.Select:
    if sort not in SORTS:
        raise ValidationFailed({"sort": [f"Sort by {', '.join(SORTS)}."]})
    key = _sort_key(sort)
    if cursor:
        stmt = stmt.where(_after(key, _decode(cursor, sort)))
    return stmt.order_by(*(c.desc() for c in key)).limit(limit + 1)


def _paged(rows: list, limit: int, sort: str) -> tuple[list, str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode(sort, rows[-1]) if more and rows else None)


def alert_queue(flt: AlertQueueFilter, actor: Actor, *, cursor: str | None = None, limit: int = 50,
                sort: str = "last_seen") -> tuple[list[Alert], str | None]:
    """One page of the queue, newest (or most severe, or highest number) first, and the next cursor.

    No total count: counting 200,000 matching rows would cost more than the page itself.
    """
    # The verbatim event is the widest column and no list shows it: it loads only if asked for.
    stmt = _page(filtered_alerts(flt, actor).options(orm.defer(Alert.raw_event)), cursor, limit, sort)
    return _paged(list(db.session.scalars(stmt)), limit, sort)


_ASSIGNEE = orm.aliased(User, name="assignee")
# What a queue row shows, as plain columns: the page reads rows, not ORM objects (loading 50
# alerts with their assignees into the identity map cost more than the SQL).
QUEUE_COLUMNS = (Alert.id, Alert.public_id, Alert.number, Alert.title, Alert.rule_name, Alert.severity,
                 Alert.severity_rank, Alert.status, Alert.source, Alert.occurrences, Alert.last_seen,
                 Alert.created_at, Alert.acknowledged_at, Alert.closed_at,
                 _ASSIGNEE.name.label("assignee_name"), _ASSIGNEE.email.label("assignee_email"))


def alert_queue_rows(flt: AlertQueueFilter, actor: Actor, *, cursor: str | None = None, limit: int = 50,
                     sort: str = "last_seen") -> tuple[list[sa.Row], str | None]:
    """The queue page of alert_queue() as rows of QUEUE_COLUMNS."""
    stmt = (filtered_alerts(flt, actor).with_only_columns(*QUEUE_COLUMNS)
            .select_from(Alert).outerjoin(_ASSIGNEE, _ASSIGNEE.id == Alert.assignee_id))
    return _paged(db.session.execute(_page(stmt, cursor, limit, sort)).all(), limit, sort)


def observables_of(alert: Alert) -> list[AlertObservable]:
    return list(db.session.scalars(sa.select(AlertObservable).where(AlertObservable.alert_id == alert.id)
                                   .order_by(AlertObservable.id)))


# The queue's per-page statements, built once (docs/architecture.md, "hot statements").
_OBSERVABLES_OF = (sa.select(AlertObservable.alert_id, AlertObservable.kind, AlertObservable.value)
                   .where(AlertObservable.alert_id.in_(sa.bindparam("ids", expanding=True)))
                   .order_by(AlertObservable.id))
_SOURCES = sa.select(AlertTally.source).where(AlertTally.count > 0).distinct().order_by(AlertTally.source)
_LATEST_NUMBER = sa.select(sa.func.max(Alert.number))


def observables_by_alert(alert_ids: list[int]) -> dict[int, list[sa.Row]]:
    """The observables (kind, value) of a page of alerts in one query."""
    out: dict[int, list[sa.Row]] = {i: [] for i in alert_ids}
    if out:
        for row in db.session.execute(_OBSERVABLES_OF, {"ids": list(out)}):
            out[row.alert_id].append(row)
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
    """Alerts by severity, status and source, from the tallies (app/soc/tallies.py): no alert is read."""
    out: dict[str, dict[str, int]] = {"severity": {}, "status": {}, "source": {}}
    for status, severity, source, n in db.session.execute(
            sa.select(AlertTally.status, AlertTally.severity, AlertTally.source, AlertTally.count)
            .where(AlertTally.count != 0)):
        for name, key in (("severity", severity.value), ("status", status.value), ("source", source)):
            out[name][key] = out[name].get(key, 0) + n
    return out


# --- additions for the queue and detail pages ------------------------------------------------


def latest_alert_number() -> int:
    """The highest alert number in the tenant (0 when none): the queue's "new since" mark."""
    return db.session.scalar(_LATEST_NUMBER) or 0


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
    # From the tallies (a few dozen rows), not DISTINCT over every alert.
    return list(db.session.scalars(_SOURCES))


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


def _members_stmt() -> sa.Select:
    from app.identity.models import Membership

    return (sa.select(Membership.user_id, Membership.role, User.public_id.label("user_public_id"),
                      sa.func.coalesce(sa.func.nullif(User.name, ""), User.email).label("label"))
            .join(User, User.id == Membership.user_id).where(Membership.is_active, User.is_active)
            .order_by(User.name, User.email))


_MEMBERS = _members_stmt()  # on every queue page: built once


def assignable_members() -> list[sa.Row]:
    """Active members who can see alerts, for the assignee choices: rows of user_id, user_public_id, label."""
    from app.core.permissions import permissions_for_role

    return [m for m in db.session.execute(_MEMBERS) if "alert:read" in permissions_for_role(m.role)]


def member_by_user_id(user_public_id: str):
    """The tenant's membership of the user with this public id, or None."""
    from app.identity.models import Membership

    return db.session.scalar(sa.select(Membership).join(Membership.user).where(User.public_id == user_public_id))
