"""Read side of compliance pages: the framework tree, lists, a control's requirements and history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from app.audit.queries import tenant_records
from app.compliance import scores
from app.compliance.models import (
    Adoption,
    ComplianceTask,
    Control,
    ControlMapping,
    ControlStatus,
    Evidence,
    EvidenceLink,
    Framework,
    Requirement,
    TaskStatus,
)
from app.compliance.services import visible_frameworks
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import ValidationFailed
from app.identity.models import Membership, User

_MEMBERS = (sa.select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.is_active, User.is_active).order_by(User.email))  # built once: every page asks


def members() -> list[User]:
    return list(db.session.scalars(_MEMBERS))


# --- framework list ------------------------------------------------------------------------


@dataclass
class FrameworkRow:
    framework: Framework
    adopted: bool
    score: scores.Score | None
    leaves: int
    previous: int | None = None  # the score a week or more ago, for the arrow


def framework_rows() -> list[FrameworkRow]:
    frameworks = list(db.session.scalars(visible_frameworks().order_by(Framework.name)))
    adopted = set(db.session.scalars(sa.select(Adoption.framework_id)))
    leaf_counts = dict(db.session.execute(
        sa.select(Requirement.framework_id, sa.func.count()).where(Requirement.is_leaf,
                                                                  Requirement.retired_at.is_(None))
        .group_by(Requirement.framework_id)).all())
    score_by_id = scores.scores([f.id for f in frameworks if f.id in adopted])
    return [FrameworkRow(f, f.id in adopted, score_by_id.get(f.id), leaf_counts.get(f.id, 0)) for f in frameworks]


def short_names() -> dict[str, str]:
    return {fw.key: fw.short_name for fw in db.session.scalars(visible_frameworks())}


# --- the framework tree --------------------------------------------------------------------


@dataclass
class TreeFilter:
    gaps_only: bool = False
    owner: str = ""  # a user public id, or "none"
    status: str = ""  # a control status

    @property
    def active(self) -> bool:
        return bool(self.gaps_only or self.owner or self.status)

    def args(self) -> dict[str, str]:
        out = {"gaps": "1"} if self.gaps_only else {}
        return out | {k: v for k, v in (("owner", self.owner), ("status", self.status)) if v}


def parse_tree_filter(args) -> TreeFilter:
    status = (args.get("status") or "").strip()
    if status and status not in {s.value for s in ControlStatus}:
        raise ValidationFailed({"status": ["Choose a control status from the list."]})
    return TreeFilter(gaps_only=args.get("gaps") in ("1", "on", "true"), owner=(args.get("owner") or "").strip(),
                      status=status)


@dataclass
class ControlChip:
    public_id: str
    key: str
    status: str
    owner_public_id: str | None


@dataclass
class Node:
    id: int
    public_id: str
    ref: str
    title: str
    kind: str
    depth: int
    is_leaf: bool
    state: str | None = None  # leaves: met / gap / not_applicable
    controls: list[ControlChip] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    met: int = 0
    applicable: int = 0
    gaps: int = 0
    is_open: bool = False
    matches: bool = True


@dataclass
class Tree:
    roots: list[Node]
    by_public_id: dict[str, Node]


def _chips(framework: Framework) -> dict[int, list[ControlChip]]:
    rows = db.session.execute(
        sa.select(ControlMapping.requirement_id, Control.public_id, Control.key, Control.status, User.public_id)
        .join(Control, Control.id == ControlMapping.control_id).outerjoin(User, User.id == Control.owner_id)
        .join(Requirement, Requirement.id == ControlMapping.requirement_id)
        .where(Requirement.framework_id == framework.id).order_by(Control.key))
    out: dict[int, list[ControlChip]] = defaultdict(list)
    for req_id, public_id, key, status, owner in rows:
        out[req_id].append(ControlChip(public_id, key, status.value, owner))
    return out


def _leaf_matches(node: Node, flt: TreeFilter) -> bool:
    if flt.gaps_only and node.state != scores.GAP:
        return False
    if flt.owner == "none" and any(c.owner_public_id for c in node.controls):
        return False
    if flt.owner and flt.owner != "none" and not any(c.owner_public_id == flt.owner for c in node.controls):
        return False
    return not (flt.status and not any(c.status == flt.status for c in node.controls))


def framework_tree(framework: Framework, flt: TreeFilter, *, open_refs: set[str] = frozenset(),
                   expand_all: bool = False, on: date | None = None) -> Tree:
    """The whole tree with leaf states and per-group progress; groups open as asked (or all, filtered)."""
    rows = db.session.execute(sa.select(Requirement.id, Requirement.public_id, Requirement.ref, Requirement.title,
                                        Requirement.kind, Requirement.depth, Requirement.is_leaf,
                                        Requirement.parent_id)
                              .where(Requirement.framework_id == framework.id, Requirement.retired_at.is_(None))
                              .order_by(Requirement.position)).all()
    states = scores.requirement_states(framework.id, on)
    chips = _chips(framework)
    nodes: dict[int, Node] = {}
    roots: list[Node] = []
    for row in rows:
        node = Node(row.id, row.public_id, row.ref, row.title, row.kind, row.depth, row.is_leaf,
                    state=states.get(row.id), controls=chips.get(row.id, []))
        nodes[row.id] = node
        parent = nodes.get(row.parent_id)
        (parent.children if parent else roots).append(node)
    for root in roots:
        _roll_up(root, flt, open_refs, expand_all or flt.active)
    return Tree(roots, {n.public_id: n for n in nodes.values()})


def _roll_up(node: Node, flt: TreeFilter, open_refs, open_all: bool) -> None:
    if node.is_leaf:
        node.applicable = int(node.state != scores.NA)
        node.met = int(node.state == scores.MET)
        node.gaps = int(node.state == scores.GAP)
        node.matches = _leaf_matches(node, flt)
        return
    for child in node.children:
        _roll_up(child, flt, open_refs, open_all)
    node.met = sum(c.met for c in node.children)
    node.applicable = sum(c.applicable for c in node.children)
    node.gaps = sum(c.gaps for c in node.children)
    node.matches = any(c.matches for c in node.children)
    node.is_open = open_all or node.ref in open_refs or any(c.is_open for c in node.children if not c.is_leaf)


# --- one requirement, one control ----------------------------------------------------------


def controls_for_requirement(requirement: Requirement) -> list[Control]:
    return list(db.session.scalars(sa.select(Control).join(ControlMapping, ControlMapping.control_id == Control.id)
                                   .where(ControlMapping.requirement_id == requirement.id).order_by(Control.key)))


def evidence_by_control(control_ids) -> dict[int, list[Evidence]]:
    out: dict[int, list[Evidence]] = defaultdict(list)
    rows = db.session.execute(sa.select(EvidenceLink.control_id, Evidence)
                              .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
                              .where(EvidenceLink.control_id.in_(list(control_ids)))
                              .order_by(Evidence.created_at.desc()))
    for control_id, ev in rows:
        out[control_id].append(ev)
    return out


def requirements_of_control(control: Control) -> list[tuple[Framework, list[Requirement]]]:
    rows = db.session.scalars(sa.select(Requirement)
                              .join(ControlMapping, ControlMapping.requirement_id == Requirement.id)
                              .where(ControlMapping.control_id == control.id)
                              .order_by(Requirement.framework_id, Requirement.position))
    grouped: dict[int, tuple[Framework, list[Requirement]]] = {}
    for req in rows:
        grouped.setdefault(req.framework_id, (req.framework, []))[1].append(req)
    return list(grouped.values())


def control_history(tenant, control: Control, limit: int = 50) -> list[AuditRecord]:
    return list(db.session.scalars(tenant_records(tenant).where(AuditRecord.target_id == control.public_id)
                                   .order_by(AuditRecord.seq.desc()).limit(limit)))


def evidence_history(tenant, evidence: Evidence, limit: int = 50) -> list[AuditRecord]:
    return list(db.session.scalars(tenant_records(tenant).where(AuditRecord.target_id == evidence.public_id)
                                   .order_by(AuditRecord.seq.desc()).limit(limit)))


# --- lists ---------------------------------------------------------------------------------


def control_list(*, status: str = "", owner: str = "", q: str = "") -> list[Control]:
    stmt = sa.select(Control).order_by(Control.key)
    if status:
        stmt = stmt.where(Control.status == status)
    if owner == "none":
        stmt = stmt.where(Control.owner_id.is_(None))
    elif owner:
        stmt = stmt.join(User, User.id == Control.owner_id).where(User.public_id == owner)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(Control.name).like(like), sa.func.lower(Control.key).like(like)))
    return list(db.session.scalars(stmt))


def control_counts(control_ids) -> dict[int, dict[str, int]]:
    """Requirements mapped and evidence attached, per control."""
    reqs = dict(db.session.execute(sa.select(ControlMapping.control_id, sa.func.count())
                                   .where(ControlMapping.control_id.in_(list(control_ids)))
                                   .group_by(ControlMapping.control_id)).all())
    evs = dict(db.session.execute(sa.select(EvidenceLink.control_id, sa.func.count())
                                  .where(EvidenceLink.control_id.in_(list(control_ids)))
                                  .group_by(EvidenceLink.control_id)).all())
    return {cid: {"requirements": reqs.get(cid, 0), "evidence": evs.get(cid, 0)} for cid in control_ids}


def evidence_list(*, review: str = "", limit: int = 200) -> list[Evidence]:
    stmt = sa.select(Evidence).order_by(Evidence.created_at.desc(), Evidence.id.desc()).limit(limit)
    if review:
        stmt = stmt.where(Evidence.review_status == review)
    return list(db.session.scalars(stmt))


def controls_by_evidence(evidence_ids) -> dict[int, list[Control]]:
    out: dict[int, list[Control]] = defaultdict(list)
    for ev_id, control in db.session.execute(
            sa.select(EvidenceLink.evidence_id, Control).join(Control, Control.id == EvidenceLink.control_id)
            .where(EvidenceLink.evidence_id.in_(list(evidence_ids))).order_by(Control.key)):
        out[ev_id].append(control)
    return out


def open_tasks() -> list[ComplianceTask]:
    return list(db.session.scalars(sa.select(ComplianceTask).order_by(ComplianceTask.status,
                                                                      ComplianceTask.due_date.is_(None),
                                                                      ComplianceTask.due_date, ComplianceTask.id)
                                   .where(ComplianceTask.status == TaskStatus.OPEN)))
