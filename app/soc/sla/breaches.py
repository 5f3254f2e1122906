"""The breach check: find alerts and cases that missed a target, record each once, audit it.

`check_breaches(now)` walks every active tenant. Per tenant it runs one query per subject and
kind (alerts/cases × acknowledge/resolve), each an anti-join against the breaches already
recorded, so running it again finds nothing new (idempotent); the unique constraints on
(subject, kind) are the backstop when two runs race.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor, system_actor
from app.core.db import atomic, db, new_public_id
from app.core.sqltime import seconds_between
from app.core.tenancy import Tenant, tenant_context
from app.soc.cases import timeline
from app.soc.cases.models import Case, TimelineKind
from app.soc.models import Alert
from app.soc.sla.clock import human_minutes
from app.soc.sla.models import BreachKind, SlaBreach, SubjectType
from app.soc.sla.targets import Target, current_targets

log = logging.getLogger(__name__)
# A subject acknowledged or closed within this of its due time still met it (float rounding in SQL).
TOLERANCE_SECONDS = 0.001
# The periodic check looks for late acknowledgements and closes only this far back: a run notices
# each one within minutes, and this spares it re-reading every finished subject ever. A missed
# run shorter than this loses nothing; `vigil sla check --full` reads everything.
RECHECK = timedelta(days=2)


@dataclass(frozen=True)
class Subject:
    """How each kind of subject tells when it was acknowledged and resolved."""

    type: SubjectType
    model: type
    column: str  # the breach's foreign key

    def end(self, kind: BreachKind):
        m = self.model
        return sa.func.coalesce(m.acknowledged_at, m.closed_at) if kind is BreachKind.ACKNOWLEDGE else m.closed_at


SUBJECTS = (Subject(SubjectType.ALERT, Alert, "alert_id"), Subject(SubjectType.CASE, Case, "case_id"))


def target_minutes(target: Target, kind: BreachKind) -> int | None:
    return target.ack_minutes if kind is BreachKind.ACKNOWLEDGE else target.resolve_minutes


def missed_condition(subject: Subject, kind: BreachKind, targets: dict, now: datetime,
                     done_since: datetime | None = None):
    """Rows of `subject` that missed `kind` by `now`: overdue and still open, or done late (since `done_since`)."""
    m, end = subject.model, subject.end(kind)
    recent = end >= done_since if done_since is not None else sa.true()
    per_severity = []
    for severity, target in targets.items():
        minutes = target_minutes(target, kind)
        if minutes is None:
            continue
        late = seconds_between(m.created_at, end) > minutes * 60 + TOLERANCE_SECONDS
        per_severity.append(sa.and_(m.severity == severity, m.created_at < now - timedelta(minutes=minutes),
                                    sa.or_(end.is_(None), sa.and_(recent, late))))
    return sa.or_(*per_severity) if per_severity else sa.false()


def _candidates(subject: Subject, kind: BreachKind, targets: dict, now: datetime, done_since) -> list:
    m = subject.model
    recorded = sa.select(SlaBreach.id).where(getattr(SlaBreach, subject.column) == m.id, SlaBreach.kind == kind)
    stmt = (sa.select(m.id, m.public_id, m.number, m.title, m.severity, m.created_at)
            .where(missed_condition(subject, kind, targets, now, done_since), ~recorded.exists())
            .order_by(m.id))
    return list(db.session.execute(stmt))


def _record(subject: Subject, kind: BreachKind, row, target: Target, now: datetime, actor: Actor) -> SlaBreach:
    minutes = target_minutes(target, kind)
    breach = SlaBreach(public_id=new_public_id(), subject_type=subject.type, kind=kind, severity=row.severity,
                       target_minutes=minutes, due_at=row.created_at + timedelta(minutes=minutes), detected_at=now,
                       **{subject.column: row.id})
    db.session.add(breach)
    prefix = "ALR" if subject.type is SubjectType.ALERT else "CASE"
    label = f"{prefix}-{row.number} {row.title[:200]}"
    facts = {"breach": breach.public_id, "kind": kind.value, "severity": row.severity.value,
             "target_minutes": minutes, "due_at": breach.due_at.isoformat()}
    audit.record("sla.breached", actor=actor, target=(subject.type.value, row.public_id, label), after=facts)
    if subject.type is SubjectType.CASE:
        verb = "acknowledge" if kind is BreachKind.ACKNOWLEDGE else "resolve"
        timeline.write_entry(db.session.get(Case, row.id), TimelineKind.SLA_BREACH, actor=actor,
                             occurred_at=breach.due_at, details=facts,
                             body=f"Missed the time to {verb} ({human_minutes(minutes)} for "
                                  f"{row.severity.value} severity).")
    return breach


@atomic
def check_tenant(tenant: Tenant, now: datetime, *, full: bool = False) -> list[SlaBreach]:
    """Record the breaches of the current tenant as of `now`; return the new ones."""
    done_since = None if full else now - RECHECK
    actor = system_actor(tenant, "sla-check")
    targets = current_targets()
    found = []
    # Each audit record reads its chain head; without autoflush that read does not first flush
    # every pending breach one statement at a time.
    with db.session.no_autoflush:
        for subject in SUBJECTS:
            for kind in BreachKind:
                for row in _candidates(subject, kind, targets, now, done_since):
                    found.append(_record(subject, kind, row, targets[row.severity], now, actor))
    return found


def check_breaches(now: datetime, *, full: bool = False) -> dict[str, int]:
    """Check every active tenant; return the number of new breaches by tenant slug.

    `full` also re-reads subjects acknowledged or closed long ago (after the job was stopped for days).
    """
    tenants = list(db.session.scalars(sa.select(Tenant).where(Tenant.deactivated_at.is_(None)).order_by(Tenant.id)))
    counts = {}
    for tenant in tenants:
        with tenant_context(tenant):
            try:
                counts[tenant.slug] = len(check_tenant(tenant, now, full=full))
            except sa.exc.IntegrityError:
                # Another run recorded the same breaches first; the next run finds nothing left.
                log.warning("SLA check for %s raced another run; skipped", tenant.slug)
                counts[tenant.slug] = 0
    return counts
