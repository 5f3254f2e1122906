"""Scores, requirement states and gaps, computed in SQL for whole frameworks at once.

A control *counts* when it is implemented and has at least one accepted, unexpired piece of
evidence; a not-applicable control (with its required justification) is neutral. A leaf
requirement is then:
  - not applicable  when it has mapped controls and all are not applicable;
  - met             when it has mapped controls and each counts or is not applicable;
  - a gap           otherwise (no control, or a control that does not count).
A framework's score is met / applicable over its live leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from app.compliance.models import (
    Adoption,
    Control,
    ControlMapping,
    ControlStatus,
    Evidence,
    EvidenceLink,
    Framework,
    Requirement,
    ReviewStatus,
    ScoreSnapshot,
)
from app.core import audit
from app.core.db import atomic, db, utcnow

MET, GAP, NA = "met", "gap", "not_applicable"


def today() -> date:
    return utcnow().date()


def counting_controls(on: date) -> sa.Subquery:
    """Control ids with accepted evidence valid on the day."""
    return (sa.select(EvidenceLink.control_id.label("control_id"))
            .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
            .where(Evidence.review_status == ReviewStatus.ACCEPTED,
                   sa.or_(Evidence.valid_until.is_(None), Evidence.valid_until >= on))
            .group_by(EvidenceLink.control_id).subquery("counting"))


def requirement_counts(framework_ids, on: date | None = None) -> sa.Subquery:
    """Per live leaf: mapped controls, how many are N/A, how many count."""
    on = on or today()
    ok = counting_controls(on)
    implemented_ok = sa.and_(Control.status == ControlStatus.IMPLEMENTED, ok.c.control_id.isnot(None))
    return (sa.select(Requirement.id.label("requirement_id"), Requirement.framework_id.label("framework_id"),
                      sa.func.count(Control.id).label("n"),
                      sa.func.coalesce(sa.func.sum(sa.case((Control.status == ControlStatus.NOT_APPLICABLE, 1),
                                                           else_=0)), 0).label("na"),
                      sa.func.coalesce(sa.func.sum(sa.case((implemented_ok, 1), else_=0)), 0).label("ok"))
            .select_from(Requirement)
            .outerjoin(ControlMapping, ControlMapping.requirement_id == Requirement.id)
            .outerjoin(Control, Control.id == ControlMapping.control_id)
            .outerjoin(ok, ok.c.control_id == Control.id)
            .where(Requirement.framework_id.in_(framework_ids), Requirement.is_leaf,
                   Requirement.retired_at.is_(None))
            .group_by(Requirement.id, Requirement.framework_id).subquery("per_requirement"))


@dataclass(frozen=True)
class Score:
    framework_id: int
    met: int
    applicable: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.met / self.applicable) if self.applicable else 0


def scores(framework_ids: list[int], on: date | None = None) -> dict[int, Score]:
    """Scores of many frameworks in one query."""
    if not framework_ids:
        return {}
    per = requirement_counts(framework_ids, on)
    is_na = sa.and_(per.c.n > 0, per.c.na == per.c.n)
    is_met = sa.and_(per.c.n > 0, per.c.na < per.c.n, per.c.ok + per.c.na == per.c.n)
    rows = db.session.execute(sa.select(per.c.framework_id, sa.func.count().label("total"),
                                        sa.func.sum(sa.case((is_na, 0), else_=1)).label("applicable"),
                                        sa.func.sum(sa.case((is_met, 1), else_=0)).label("met"))
                              .group_by(per.c.framework_id))
    out = {fid: Score(fid, 0, 0, 0) for fid in framework_ids}
    for row in rows:
        out[row.framework_id] = Score(row.framework_id, int(row.met or 0), int(row.applicable or 0), int(row.total))
    return out


def requirement_states(framework_id: int, on: date | None = None) -> dict[int, str]:
    """MET / GAP / NA for every live leaf of one framework."""
    per = requirement_counts([framework_id], on)
    out = {}
    for row in db.session.execute(sa.select(per)):
        if row.n and row.na == row.n:
            out[row.requirement_id] = NA
        elif row.n and row.ok + row.na == row.n:
            out[row.requirement_id] = MET
        else:
            out[row.requirement_id] = GAP
    return out


def adopted_framework_ids() -> list[int]:
    return list(db.session.scalars(sa.select(Adoption.framework_id)))


# --- evidence state of controls, for reasons -----------------------------------------------


def evidence_state(control_ids, on: date | None = None) -> dict[int, dict[str, int]]:
    """Per control: how much evidence is accepted and valid, expired, rejected or pending."""
    on = on or today()
    expired = sa.and_(Evidence.valid_until.isnot(None), Evidence.valid_until < on)
    accepted = Evidence.review_status == ReviewStatus.ACCEPTED
    stmt = (sa.select(EvidenceLink.control_id,
                      sa.func.sum(sa.case((sa.and_(accepted, sa.not_(expired)), 1), else_=0)).label("valid"),
                      sa.func.sum(sa.case((sa.and_(accepted, expired), 1), else_=0)).label("expired"),
                      sa.func.sum(sa.case((Evidence.review_status == ReviewStatus.REJECTED, 1),
                                          else_=0)).label("rejected"),
                      sa.func.sum(sa.case((Evidence.review_status == ReviewStatus.PENDING, 1),
                                          else_=0)).label("pending"))
            .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
            .where(EvidenceLink.control_id.in_(control_ids)).group_by(EvidenceLink.control_id))
    return {row.control_id: {"valid": row.valid or 0, "expired": row.expired or 0, "rejected": row.rejected or 0,
                             "pending": row.pending or 0} for row in db.session.execute(stmt)}


def control_reason(control: Control, state: dict[str, int] | None) -> str | None:
    """Why this control does not count yet, or None when it does (or is N/A)."""
    if control.status == ControlStatus.NOT_APPLICABLE:
        return None
    if control.status != ControlStatus.IMPLEMENTED:
        return f"{control.key}: {control.status.value.replace('_', ' ')}"
    state = state or {}
    if state.get("valid"):
        return None
    if state.get("expired"):
        return f"{control.key}: evidence expired"
    if state.get("rejected") and not state.get("pending"):
        return f"{control.key}: evidence rejected"
    if state.get("pending"):
        return f"{control.key}: evidence awaiting review"
    return f"{control.key}: evidence missing"


@dataclass
class Gap:
    requirement_id: int
    public_id: str
    ref: str
    title: str
    reasons: list[str] = field(default_factory=list)
    owner_id: int | None = None
    owner_label: str | None = None
    due_date: date | None = None


def gaps(framework: Framework, on: date | None = None) -> list[Gap]:
    """Unmet applicable requirements of a framework, in document order, each with why."""
    states = requirement_states(framework.id, on)
    gap_ids = [rid for rid, s in states.items() if s == GAP]
    if not gap_ids:
        return []
    reqs = db.session.execute(sa.select(Requirement.id, Requirement.public_id, Requirement.ref, Requirement.title)
                              .where(Requirement.id.in_(gap_ids)).order_by(Requirement.position)).all()
    mapped: dict[int, list[Control]] = {}
    for mapping in db.session.scalars(sa.select(ControlMapping).where(ControlMapping.requirement_id.in_(gap_ids))):
        mapped.setdefault(mapping.requirement_id, []).append(mapping.control)
    ev = evidence_state({c.id for cs in mapped.values() for c in cs}, on)
    out = []
    for req in reqs:
        gap = Gap(req.id, req.public_id, req.ref, req.title)
        controls = sorted(mapped.get(req.id, []), key=lambda c: c.key)
        if not controls:
            gap.reasons.append("no control mapped")
        for control in controls:
            reason = control_reason(control, ev.get(control.id))
            if reason is None:
                continue
            gap.reasons.append(reason)
            if gap.owner_id is None and control.owner is not None:
                gap.owner_id, gap.owner_label = control.owner.id, control.owner.name or control.owner.email
            if control.due_date and (gap.due_date is None or control.due_date < gap.due_date):
                gap.due_date = control.due_date
        out.append(gap)
    return out


# --- snapshots -----------------------------------------------------------------------------


@atomic
def snapshot_scores(*, tenant, on: date | None = None) -> int:
    """Record today's score of each adopted framework (one row per framework and day)."""
    on = on or today()
    ids = adopted_framework_ids()
    existing = {s.framework_id: s for s in db.session.scalars(sa.select(ScoreSnapshot)
                                                               .where(ScoreSnapshot.day == on))}
    for fid, score in scores(ids, on).items():
        row = existing.get(fid) or ScoreSnapshot(framework_id=fid, day=on)
        row.met, row.applicable, row.total = score.met, score.applicable, score.total
        db.session.add(row)
    if ids:
        audit.record("compliance.scores_snapshotted", actor=None, tenant=tenant, actor_label="scheduler",
                     after={"day": on, "frameworks": len(ids)})
    return len(ids)


def trend(framework: Framework, days: int = 90) -> list[ScoreSnapshot]:
    since = today() - timedelta(days=days)
    return list(db.session.scalars(sa.select(ScoreSnapshot).where(ScoreSnapshot.framework_id == framework.id,
                                                                 ScoreSnapshot.day >= since)
                                   .order_by(ScoreSnapshot.day)))
