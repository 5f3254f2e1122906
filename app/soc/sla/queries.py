"""The read side of SLA: the breach list (filters, keyset paging) and MTTA/MTTR per severity.

Metrics are computed by the database in one grouped query per subject type; Python only
divides the few sums it gets back. Every statement is tenant-scoped by core/tenancy.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from app.core.api import paginate
from app.core.db import UTCDateTime, db, utcnow
from app.core.errors import ValidationFailed
from app.core.sqltime import seconds_between
from app.soc.cases.models import Case
from app.soc.models import Alert, AlertSeverity
from app.soc.sla.breaches import SUBJECTS, TOLERANCE_SECONDS, Subject, target_minutes
from app.soc.sla.models import BreachKind, SlaBreach, SubjectType
from app.soc.sla.targets import SEVERITIES, current_targets

WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30


def parse_window(raw) -> int:
    """The reporting window in days: 7, 30 or 90."""
    if raw in (None, ""):
        return DEFAULT_WINDOW
    if str(raw).strip() not in {str(w) for w in WINDOWS}:
        raise ValidationFailed({"window": [f"Use one of {', '.join(map(str, WINDOWS))} (days)."]})
    return int(raw)


@dataclass(frozen=True)
class BreachFilter:
    window: int = DEFAULT_WINDOW
    kind: BreachKind | None = None
    severity: AlertSeverity | None = None
    subject_type: SubjectType | None = None

    @classmethod
    def from_args(cls, args) -> BreachFilter:
        """Parse query arguments; every bad one is reported at once (422)."""
        errors: dict[str, list[str]] = {}
        values = {}
        for name, enum in (("kind", BreachKind), ("severity", AlertSeverity), ("subject_type", SubjectType)):
            raw = (args.get(name) or "").strip().lower()
            try:
                values[name] = enum(raw) if raw else None
            except ValueError:
                errors[name] = [f"Use one of {', '.join(e.value for e in enum)}."]
        try:
            values["window"] = parse_window(args.get("window"))
        except ValidationFailed as exc:
            errors |= exc.field_errors
        if errors:
            raise ValidationFailed(errors)
        return cls(**values)

    def args(self) -> dict[str, str]:
        """The filter as query arguments (only what differs from the defaults)."""
        out = {"window": str(self.window)} if self.window != DEFAULT_WINDOW else {}
        for name in ("kind", "severity", "subject_type"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).value
        return out


def breaches_statement(flt: BreachFilter, now: datetime | None = None) -> sa.Select:
    """Breaches due within the window, with each subject's number and title loaded in the same query."""
    since = (now or utcnow()) - timedelta(days=flt.window)
    stmt = sa.select(SlaBreach).where(SlaBreach.due_at >= since).options(
        orm.joinedload(SlaBreach.alert).options(orm.load_only(Alert.public_id, Alert.number, Alert.title,
                                                              Alert.status), orm.noload(Alert.assignee)),
        orm.joinedload(SlaBreach.case).options(orm.load_only(Case.public_id, Case.number, Case.title, Case.status),
                                               orm.noload(Case.assignee)))
    if flt.kind:
        stmt = stmt.where(SlaBreach.kind == flt.kind)
    if flt.severity:
        stmt = stmt.where(SlaBreach.severity == flt.severity)
    if flt.subject_type:
        stmt = stmt.where(SlaBreach.subject_type == flt.subject_type)
    return stmt


def breaches_page(flt: BreachFilter, *, cursor: str | None = None, limit: int = 50,
                  now: datetime | None = None) -> tuple[list[SlaBreach], str | None]:
    """One page of breaches, most recently recorded first, and the cursor of the next."""
    return paginate(breaches_statement(flt, now), SlaBreach.id, limit=limit, cursor=cursor)


def breach_counts(window: int, now: datetime | None = None) -> dict[str, int]:
    """Breaches due within the window, by kind (and in all)."""
    since = (now or utcnow()) - timedelta(days=window)
    rows = db.session.execute(sa.select(SlaBreach.kind, sa.func.count()).where(SlaBreach.due_at >= since)
                              .group_by(SlaBreach.kind))
    counts = {k.value: 0 for k in BreachKind} | {kind.value: n for kind, n in rows}
    return counts | {"total": sum(counts.values())}


# --- mean times ----------------------------------------------------------------------------


def _per_severity(m, values: dict, type_):
    """`CASE severity WHEN … THEN value END` (NULL for severities without one)."""
    whens = {s: sa.literal(v, type_) for s, v in values.items() if v is not None}
    return sa.case(whens, value=m.severity, else_=sa.null()) if whens else sa.null()


def _rows_in_window(subject: Subject, targets: dict, since: datetime, now: datetime) -> sa.Subquery:
    """Per row: severity, elapsed seconds to acknowledge and to resolve, and the targets and cut-offs.

    Computed once per row here, so the aggregates above read columns instead of repeating
    the date arithmetic in every sum.
    """
    m = subject.model
    cols = [m.severity, m.created_at]
    for kind, prefix in ((BreachKind.ACKNOWLEDGE, "ack"), (BreachKind.RESOLVE, "resolve")):
        minutes = {s: target_minutes(t, kind) for s, t in targets.items() if target_minutes(t, kind)}
        cols += [seconds_between(m.created_at, subject.end(kind)).label(f"{prefix}_s"),
                 _per_severity(m, {s: n * 60 + TOLERANCE_SECONDS for s, n in minutes.items()}, sa.Float())
                 .label(f"{prefix}_limit"),
                 _per_severity(m, {s: now - timedelta(minutes=n) for s, n in minutes.items()}, UTCDateTime())
                 .label(f"{prefix}_cutoff")]
    return sa.select(*cols).where(m.created_at >= since, m.created_at <= now).subquery()


def _sum_if(condition) -> sa.Function:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _kind_columns(rows: sa.Subquery, prefix: str) -> list:
    elapsed, limit, cutoff = rows.c[f"{prefix}_s"], rows.c[f"{prefix}_limit"], rows.c[f"{prefix}_cutoff"]
    return [
        sa.func.count(elapsed).label(f"{prefix}_done"),
        sa.func.sum(elapsed).label(f"{prefix}_seconds"),
        _sum_if(elapsed <= limit).label(f"{prefix}_met"),
        # Decided: done, or still open past its due time (an open, overdue subject counts as missed).
        _sum_if(sa.and_(limit.is_not(None), sa.or_(elapsed.is_not(None), rows.c.created_at < cutoff)))
        .label(f"{prefix}_decided"),
    ]


def _subject_times(subject: Subject, targets: dict, since: datetime, now: datetime) -> list[dict]:
    rows = _rows_in_window(subject, targets, since, now)
    stmt = (sa.select(rows.c.severity, sa.func.count().label("total"), *_kind_columns(rows, "ack"),
                      *_kind_columns(rows, "resolve"))
            .group_by(rows.c.severity))
    found = {r.severity: r._mapping for r in db.session.execute(stmt)}
    out = [_figures(severity.value, found.get(severity), targets[severity]) for severity in SEVERITIES]
    return out + [_figures("all", _totals(found.values()), None)]


def _totals(rows) -> dict:
    keys = ("total", "ack_done", "ack_seconds", "ack_met", "ack_decided",
            "resolve_done", "resolve_seconds", "resolve_met", "resolve_decided")
    return {k: sum(float(r[k] or 0) for r in rows) for k in keys}


def _mean(total, count) -> int | None:
    return round(float(total) / count) if count else None


def _pct(met, decided) -> float | None:
    return round(100.0 * float(met or 0) / float(decided), 1) if decided else None


def _figures(severity: str, row, target) -> dict:
    row = row or {}
    get = lambda k: row.get(k) or 0  # noqa: E731
    return {
        "severity": severity, "count": int(get("total")),
        "ack_target_minutes": target.ack_minutes if target else None,
        "resolve_target_minutes": target.resolve_minutes if target else None,
        "acknowledged": int(get("ack_done")), "mtta_seconds": _mean(get("ack_seconds"), int(get("ack_done"))),
        "ack_within_target_pct": _pct(get("ack_met"), get("ack_decided")),
        "resolved": int(get("resolve_done")), "mttr_seconds": _mean(get("resolve_seconds"), int(get("resolve_done"))),
        "resolve_within_target_pct": _pct(get("resolve_met"), get("resolve_decided")),
    }


def mean_times(window_days: int, *, now: datetime | None = None) -> dict:
    """MTTA and MTTR per severity for alerts and cases created in the last `window_days`.

    Plain data for pages, the API, dashboards and board reports: seconds (None when nothing
    was acknowledged or resolved) and the share done within target (None without a target).
    Subjects still open past their due time count as missed.
    """
    now = now or utcnow()
    since = now - timedelta(days=window_days)
    targets = current_targets()
    out = {"window_days": window_days, "since": since.isoformat(), "until": now.isoformat()}
    for subject in SUBJECTS:
        out[f"{subject.type.value}s"] = _subject_times(subject, targets, since, now)
    return out
