"""A tenant's compliance programme: adopting frameworks, controls, mappings and gap tasks."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from app.compliance.models import (
    Adoption,
    ComplianceTask,
    Control,
    ControlMapping,
    ControlStatus,
    ControlTemplate,
    Framework,
    Requirement,
    TaskStatus,
)
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.permissions import authorize
from app.core.tenancy import require_tenant
from app.identity.models import Membership, User

STATUS_LABELS = {
    ControlStatus.NOT_STARTED: "Not started",
    ControlStatus.IN_PROGRESS: "In progress",
    ControlStatus.IMPLEMENTED: "Implemented",
    ControlStatus.NOT_APPLICABLE: "Not applicable",
}
CADENCES = {30: "Monthly", 90: "Quarterly", 182: "Every six months", 365: "Yearly"}
_CONTROL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


# --- the library as a tenant sees it -------------------------------------------------------


def visible_frameworks() -> sa.Select:
    """The shared library plus the frameworks this tenant imported itself."""
    tenant = require_tenant()
    return sa.select(Framework).where(sa.or_(Framework.owner_tenant_id.is_(None),
                                             Framework.owner_tenant_id == tenant.id))


# Statements the framework page runs on every request are built once (see "Hot statements" in
# docs/architecture.md): building one cost more than running it.
_FRAMEWORK_BY_KEY = sa.select(Framework).where(
    sa.or_(Framework.owner_tenant_id.is_(None), Framework.owner_tenant_id == sa.bindparam("tenant_id")),
    Framework.key == sa.bindparam("key"))
_ADOPTION_OF = sa.select(Adoption).where(Adoption.framework_id == sa.bindparam("framework_id"))


def framework_by_key(key: str) -> Framework:
    fw = db.session.scalar(_FRAMEWORK_BY_KEY, {"tenant_id": require_tenant().id, "key": key})
    if fw is None:
        raise NotFound("No framework with that key.")
    return fw


def requirement_by_id(public_id: str) -> Requirement:
    req = db.session.scalar(sa.select(Requirement).join(Requirement.framework).where(
        Requirement.public_id == str(public_id)))
    if req is None or req.framework.owner_tenant_id not in (None, require_tenant().id):
        raise NotFound("Requirement not found.")
    return req


def adoption_of(framework: Framework) -> Adoption | None:
    return db.session.scalar(_ADOPTION_OF, {"framework_id": framework.id})


def _leaves_under(framework: Framework, refs: list[str]) -> list[int]:
    """Requirement ids for refs; a group ref stands for every live leaf beneath it."""
    rows = list(db.session.execute(sa.select(Requirement.id, Requirement.ref, Requirement.parent_id,
                                             Requirement.is_leaf)
                                   .where(Requirement.framework_id == framework.id,
                                          Requirement.retired_at.is_(None))))
    children: dict[int | None, list] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    wanted, out = set(refs), []
    stack = [r for r in rows if r.ref in wanted]
    while stack:
        row = stack.pop()
        if row.is_leaf:
            out.append(row.id)
        stack.extend(children.get(row.id, []))
    return out


def proposed_controls(framework: Framework) -> list[dict]:
    """The default controls that cover this framework, and whether the tenant already has each."""
    have = {c.template_key: c for c in db.session.scalars(sa.select(Control).where(Control.template_key.isnot(None)))}
    out = []
    for tpl in db.session.scalars(sa.select(ControlTemplate).where(ControlTemplate.retired_at.is_(None))
                                  .order_by(ControlTemplate.key)):
        refs = tpl.maps.get(framework.key)
        if refs:
            others = sorted(k for k in tpl.maps if k != framework.key)
            out.append({"template": tpl, "refs": refs, "existing": have.get(tpl.key), "other_frameworks": others})
    return out


def _map_template(control: Control, tpl: ControlTemplate) -> int:
    """Map a control to everything its template covers, in every framework of the library."""
    added = 0
    current = set(db.session.scalars(sa.select(ControlMapping.requirement_id)
                                      .where(ControlMapping.control_id == control.id)))
    for fw_key, refs in tpl.maps.items():
        fw = db.session.scalar(visible_frameworks().where(Framework.key == fw_key))
        if fw is None:
            continue
        for req_id in _leaves_under(fw, refs):
            if req_id not in current:
                db.session.add(ControlMapping(control_id=control.id, requirement_id=req_id))
                current.add(req_id)
                added += 1
    return added


@atomic
def adopt_framework(framework: Framework, *, actor: Actor, template_keys: list[str] | None = None) -> Adoption:
    """Adopt a framework and bring in the proposed controls (all, or the chosen template keys)."""
    authorize(actor, "compliance:write")
    if adoption_of(framework) is not None:
        raise Conflict(f"{framework.short_name} is already adopted.")
    adoption = Adoption(framework_id=framework.id, adopted_by_label=actor.label[:320])
    db.session.add(adoption)
    created = []
    for proposal in proposed_controls(framework):
        tpl = proposal["template"]
        if template_keys is not None and tpl.key not in template_keys:
            continue
        control = proposal["existing"]
        if control is None:
            if db.session.scalar(sa.select(Control.id).where(Control.key == tpl.key)):
                continue  # the tenant has its own control under that key: leave it alone
            control = Control(key=tpl.key, name=tpl.name, description=tpl.description, template_key=tpl.key)
            db.session.add(control)
            db.session.flush()
            created.append(tpl.key)
        _map_template(control, tpl)
    db.session.flush()
    audit.record("compliance.framework_adopted", actor=actor, target=framework,
                 after={"framework": framework.key, "controls_created": created})
    return adoption


@atomic
def retire_adoption(framework: Framework, *, actor: Actor) -> None:
    """Stop tracking a framework (controls and evidence stay: they may serve others)."""
    authorize(actor, "compliance:write")
    adoption = adoption_of(framework)
    if adoption is None:
        raise NotFound(f"{framework.short_name} is not adopted.")
    db.session.delete(adoption)
    audit.record("compliance.framework_unadopted", actor=actor, target=framework, before={"framework": framework.key})


# --- controls ------------------------------------------------------------------------------


def _owner(user_id: str | None) -> User | None:
    if not user_id:
        return None
    membership = db.session.scalar(sa.select(Membership).join(Membership.user)
                                   .where(User.public_id == str(user_id), Membership.is_active))
    if membership is None:
        raise ValidationFailed({"owner": ["No active member of this workspace has that id."]})
    return membership.user


def _snapshot(control: Control) -> dict:
    return {"status": control.status.value, "owner": control.owner.email if control.owner else None,
            "due_date": control.due_date, "review_cadence_days": control.review_cadence_days,
            "justification": control.justification or None, "name": control.name}


def _check_status(status, justification: str) -> ControlStatus:
    try:
        status = ControlStatus(status)
    except ValueError:
        raise ValidationFailed({"status": [f"Use one of: {', '.join(s.value for s in ControlStatus)}."]})
    if status == ControlStatus.NOT_APPLICABLE and not justification.strip():
        raise ValidationFailed({"justification": ["Say why the control does not apply: a justification is "
                                                  "required for “not applicable”."]})
    return status


def _check_cadence(days) -> int | None:
    if days in (None, ""):
        return None
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise ValidationFailed({"review_cadence_days": ["Give the review cadence in days."]})
    if not 1 <= days <= 3650:
        raise ValidationFailed({"review_cadence_days": ["Use 1 to 3650 days."]})
    return days


def _check_due(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed({"due_date": ["Use a date as YYYY-MM-DD."]})


_UNSET = object()


@atomic
def create_control(*, actor: Actor, key: str, name: str, description: str = "", owner_id: str | None = None,
                   due_date=None, review_cadence_days=None) -> Control:
    """Add a control of the tenant's own."""
    authorize(actor, "compliance:write")
    key, name = (key or "").strip(), (name or "").strip()
    errors = {}
    if not _CONTROL_KEY.match(key):
        errors["key"] = ["Use 1–40 letters, digits, dots, dashes or underscores (e.g. VC-42)."]
    if not name:
        errors["name"] = ["Give the control a name."]
    if errors:
        raise ValidationFailed(errors)
    if db.session.scalar(sa.select(Control.id).where(Control.key == key)):
        raise ValidationFailed({"key": [f"There is already a control {key}."]})
    control = Control(key=key, name=name[:200], description=description or "", owner=_owner(owner_id),
                      due_date=_check_due(due_date), review_cadence_days=_check_cadence(review_cadence_days))
    db.session.add(control)
    db.session.flush()
    audit.record("compliance.control_created", actor=actor, target=control, after=_snapshot(control))
    return control


@atomic
def update_control(control: Control, *, actor: Actor, status=_UNSET, justification=_UNSET, owner_id=_UNSET,
                   due_date=_UNSET, review_cadence_days=_UNSET, name=_UNSET, description=_UNSET) -> Control:
    """Change a control's status, owner, due date, cadence or text; N/A needs a justification."""
    authorize(actor, "compliance:write")
    before = _snapshot(control)
    new_justification = control.justification if justification is _UNSET else (justification or "").strip()
    if status is not _UNSET:
        control.status = _check_status(status, new_justification)
    elif control.status == ControlStatus.NOT_APPLICABLE and not new_justification:
        raise ValidationFailed({"justification": ["A “not applicable” control keeps its justification."]})
    control.justification = new_justification
    if owner_id is not _UNSET:
        control.owner = _owner(owner_id)
    if due_date is not _UNSET:
        control.due_date = _check_due(due_date)
    if review_cadence_days is not _UNSET:
        control.review_cadence_days = _check_cadence(review_cadence_days)
    if name is not _UNSET:
        if not (name or "").strip():
            raise ValidationFailed({"name": ["Give the control a name."]})
        control.name = name.strip()[:200]
    if description is not _UNSET:
        control.description = description or ""
    db.session.flush()
    after = _snapshot(control)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if changed:
        action = "compliance.control_status_changed" if "status" in changed else "compliance.control_updated"
        audit.record(action, actor=actor, target=control,
                     before={k: before[k] for k in changed}, after=changed)
    return control


@atomic
def delete_control(control: Control, *, actor: Actor) -> None:
    authorize(actor, "compliance:write")
    db.session.delete(control)
    audit.record("compliance.control_deleted", actor=actor, target=control, before=_snapshot(control))


# --- mappings ------------------------------------------------------------------------------


@atomic
def map_control(control: Control, requirement: Requirement, *, actor: Actor) -> ControlMapping:
    """Say that this control (helps) satisfy this requirement."""
    authorize(actor, "compliance:write")
    if not requirement.is_leaf or requirement.retired_at is not None:
        raise ValidationFailed({"requirement": ["Map controls to live requirements, not to groups."]})
    existing = db.session.scalar(sa.select(ControlMapping).where(ControlMapping.control_id == control.id,
                                                                 ControlMapping.requirement_id == requirement.id))
    if existing is not None:
        return existing
    mapping = ControlMapping(control_id=control.id, requirement_id=requirement.id)
    db.session.add(mapping)
    db.session.flush()
    audit.record("compliance.mapping_added", actor=actor, target=control,
                 after={"framework": requirement.framework.key, "requirement": requirement.ref})
    return mapping


@atomic
def unmap_control(control: Control, requirement: Requirement, *, actor: Actor) -> None:
    authorize(actor, "compliance:write")
    mapping = db.session.scalar(sa.select(ControlMapping).where(ControlMapping.control_id == control.id,
                                                                ControlMapping.requirement_id == requirement.id))
    if mapping is None:
        raise NotFound("That control is not mapped to that requirement.")
    db.session.delete(mapping)
    audit.record("compliance.mapping_removed", actor=actor, target=control,
                 before={"framework": requirement.framework.key, "requirement": requirement.ref})


# --- gap tasks -----------------------------------------------------------------------------


@atomic
def create_gap_tasks(framework: Framework, gaps: list, *, actor: Actor) -> list[ComplianceTask]:
    """One open task per gap (skipping gaps that already have one), assigned to the control owner."""
    authorize(actor, "compliance:write")
    open_for = set(db.session.scalars(sa.select(ComplianceTask.requirement_id)
                                      .where(ComplianceTask.status == TaskStatus.OPEN)))
    tasks = []
    for gap in gaps:
        if gap.requirement_id in open_for:
            continue
        task = ComplianceTask(requirement_id=gap.requirement_id, title=f"{framework.short_name} {gap.ref}: "
                              f"{gap.title}"[:400], reason="; ".join(gap.reasons), assignee_id=gap.owner_id,
                              due_date=gap.due_date)
        db.session.add(task)
        tasks.append(task)
    db.session.flush()
    audit.record("compliance.gap_tasks_created", actor=actor, target=framework,
                 after={"framework": framework.key, "tasks": len(tasks)})
    return tasks


@atomic
def complete_task(task: ComplianceTask, *, actor: Actor) -> ComplianceTask:
    authorize(actor, "compliance:write")
    task.status = TaskStatus.DONE
    audit.record("compliance.task_done", actor=actor, target=task, after={"status": "done"})
    return task
