"""Case operations: create, edit, assign, watch, move through the workflow, link alerts, merge, tasks.

Every public function is `@atomic`, takes an explicit `actor`, checks `case:write`, and writes
the matching timeline entry and one audit record in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app

from app.core import audit, storage
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import authorize
from app.identity.models import Membership, User
from app.soc.cases import timeline, workflow
from app.soc.cases.models import (
    TECHNIQUE_ID,
    Attachment,
    Case,
    CaseAlertLink,
    CaseCounter,
    CaseTask,
    Severity,
    TimelineEntry,
    TimelineKind,
)
from app.soc.cases.templates_catalog import get_template
from app.soc.cases.workflow import CaseStatus

MAX_TAGS = 30
MAX_TECHNIQUES = 50


# --- validation ----------------------------------------------------------------------------


def _title(value: str | None, field: str = "title") -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationFailed({field: ["A title is required."]})
    if len(value) > 300:
        raise ValidationFailed({field: ["Use at most 300 characters."]})
    return value


def _severity(value: str | None) -> Severity:
    try:
        return Severity(str(value or "").strip().lower())
    except ValueError:
        raise ValidationFailed({"severity": [f"Unknown severity {str(value)[:40]!r}; use one of "
                                             f"{', '.join(s.value for s in Severity)}."]}) from None


def _tags(values) -> list[str]:
    tags = list(dict.fromkeys(t.strip().lower() for t in (values or []) if t and t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > 50 for t in tags):
        raise ValidationFailed({"tags": [f"Use at most {MAX_TAGS} tags of up to 50 characters."]})
    return tags


def _techniques(values) -> list[str]:
    ids = list(dict.fromkeys(v.strip().upper() for v in (values or []) if v and v.strip()))
    bad = [v for v in ids if not TECHNIQUE_ID.match(v)]
    if bad:
        raise ValidationFailed({"techniques": [f"Not ATT&CK technique ids: {', '.join(b[:20] for b in bad[:5])} "
                                               "(use T1059 or T1059.001)."]})
    if len(ids) > MAX_TECHNIQUES:
        raise ValidationFailed({"techniques": [f"Use at most {MAX_TECHNIQUES} techniques."]})
    return ids


def _description(value: str | None) -> str:
    value = value or ""
    if len(value) > 100_000:
        raise ValidationFailed({"description": ["Use at most 100,000 characters."]})
    return value


def member_user(user_id: str | None, *, field: str = "assignee") -> User | None:
    """The user with this public id if they are an active member of the current tenant."""
    if not user_id:
        return None
    membership = db.session.scalar(sa.select(Membership).join(Membership.user)
                                   .where(User.public_id == str(user_id), Membership.is_active))
    if membership is None or not membership.user.is_active:
        raise ValidationFailed({field: ["No active member of this workspace has that id."]})
    return membership.user


def _checked_member(user: User | None, field: str) -> User | None:
    if user is None:
        return None
    return member_user(user.public_id, field=field)


def _user_label(user: User | None) -> str | None:
    return user.email if user is not None else None


def _actor_user_id(actor: Actor) -> int | None:
    return actor.user.id if actor.user is not None else None


# --- numbering -----------------------------------------------------------------------------


def _next_number() -> int:
    """Take the tenant's next case number.

    The counter row is changed before it is read (UPDATE … RETURNING), so the row lock
    (PostgreSQL) or the database write lock (SQLite) serialises concurrent creates; the
    unique (tenant_id, number) constraint is the backstop.
    """
    bump = (sa.update(CaseCounter).values(last_number=CaseCounter.last_number + 1)
            .returning(CaseCounter.last_number).execution_options(synchronize_session=False))
    number = db.session.scalar(bump)
    if number is not None:
        return number
    try:
        with db.session.begin_nested():
            db.session.add(CaseCounter(last_number=1))
        return 1
    except sa.exc.IntegrityError:  # another transaction created the counter first
        return db.session.scalar(bump)


# --- cases ---------------------------------------------------------------------------------


def _snapshot(case: Case) -> dict:
    return {"title": case.title, "severity": case.severity, "status": case.status, "tags": list(case.tags),
            "techniques": list(case.techniques), "assignee": _user_label(case.assignee),
            "description_length": len(case.description or "")}


@atomic
def create_case(*, actor: Actor, title: str, severity: str | None = None, description: str = "",
                tags=None, techniques=None, assignee: User | None = None, template: str | None = None) -> Case:
    """Open a case, optionally from a template that pre-fills severity, tags and tasks."""
    authorize(actor, "case:write")
    tpl = get_template(template)
    title = _title(title)
    if tpl is not None and not title.lower().startswith(tpl.title_prefix.lower()):
        title = _title(tpl.title_prefix + title)
    case = Case(title=title, description=_description(description),
                severity=_severity(severity or (tpl.severity if tpl else "medium")),
                status=CaseStatus.NEW, tags=_tags([*(tpl.tags if tpl else ()), *(tags or [])]),
                techniques=_techniques([*(tpl.techniques if tpl else ()), *(techniques or [])]),
                assignee=_checked_member(assignee, "assignee"), template=tpl.key if tpl else None)
    case.acknowledged_at = utcnow() if case.assignee is not None else None  # an owner from the start
    case.number = _next_number()
    db.session.add(case)
    db.session.flush()
    for position, task_title in enumerate(tpl.tasks if tpl else (), start=1):
        db.session.add(CaseTask(case_id=case.id, title=task_title, position=position))
    audit.record("case.created", actor=actor, target=case,
                 after={**_snapshot(case), "template": case.template, "tasks": len(tpl.tasks) if tpl else 0})
    if case.assignee is not None:
        timeline.write_entry(case, TimelineKind.ASSIGNMENT, actor=actor, body=f"Assigned to {case.assignee.email}",
                             details={"from": None, "to": case.assignee.email})
    return case


@atomic
def update_case(case: Case, *, actor: Actor, title: str | None = None, description: str | None = None,
                severity: str | None = None, tags=None, techniques=None) -> Case:
    """Change the case's descriptive fields (status and assignee have their own services)."""
    authorize(actor, "case:write")
    before = _snapshot(case)
    if title is not None:
        case.title = _title(title)
    if description is not None:
        case.description = _description(description)
    if severity is not None:
        case.severity = _severity(severity)
    if tags is not None:
        case.tags = _tags(tags)
    if techniques is not None:
        case.techniques = _techniques(techniques)
    after = _snapshot(case)
    if after != before:
        audit.record("case.updated", actor=actor, target=case,
                     before={k: v for k, v in before.items() if after[k] != v},
                     after={k: v for k, v in after.items() if before[k] != v})
    return case


@atomic
def assign_case(case: Case, assignee: User | None, *, actor: Actor) -> Case:
    """Give the case to a member (or to no one)."""
    authorize(actor, "case:write")
    assignee = _checked_member(assignee, "assignee")
    if assignee == case.assignee:
        return case
    before, after = _user_label(case.assignee), _user_label(assignee)
    case.assignee = assignee
    case.acknowledged_at = case.acknowledged_at or (utcnow() if assignee is not None else None)
    timeline.write_entry(case, TimelineKind.ASSIGNMENT, actor=actor,
                         body=f"Assigned to {after}" if after else "Unassigned", details={"from": before, "to": after})
    audit.record("case.assigned", actor=actor, target=case, before={"assignee": before}, after={"assignee": after})
    return case


@atomic
def edit_case(case: Case, *, actor: Actor, assignee=None, watchers: list[User] | None = None,
              change_assignee: bool = False, **fields) -> Case:
    """Apply one edit form or PATCH in one transaction: fields, then assignee, then watchers."""
    update_case(case, actor=actor, **fields)
    if change_assignee:
        assign_case(case, assignee, actor=actor)
    if watchers is not None:
        set_watchers(case, watchers, actor=actor)
    return case


@atomic
def set_watchers(case: Case, watchers: list[User], *, actor: Actor) -> Case:
    """Replace the team members who follow the case."""
    authorize(actor, "case:write")
    checked = [_checked_member(u, "watchers") for u in dict.fromkeys(watchers)]
    before = sorted(u.email for u in case.watchers)
    case.watchers = checked
    after = sorted(u.email for u in checked)
    if before != after:
        audit.record("case.watchers_changed", actor=actor, target=case, before={"watchers": before},
                     after={"watchers": after})
    return case


@atomic
def transition_case(case: Case, to: str | CaseStatus, *, actor: Actor, resolution: str | None = None,
                    alert_close_reason: str | None = None) -> Case:
    """Move the case to another status; closing needs a resolution summary.

    Closing also closes the case's linked alerts that are still open, with `alert_close_reason`
    (true positive unless the case found them benign or a false positive), each audited on its own.
    Reopening leaves the alerts closed: whether one was wrongly closed is a decision about that alert.
    """
    authorize(actor, "case:write")
    target = workflow.parse_status(to)
    if target is case.status:
        raise Conflict(f"{case.reference} is already {target.value}.",
                       {"status": case.status.value, "allowed": workflow.allowed_transitions(case.status)})
    workflow.check_transition(case.status, target, reference=case.reference)
    resolution = (resolution or "").strip()
    if target is CaseStatus.CLOSED and not resolution:
        raise ValidationFailed({"resolution": ["Summarise the resolution to close the case."]})
    if len(resolution) > 20_000:
        raise ValidationFailed({"resolution": ["Use at most 20,000 characters."]})
    closing = _alerts_to_close(case, alert_close_reason, actor) if target is CaseStatus.CLOSED else None
    before = {"status": case.status.value, "resolution": case.resolution}
    case.status = target
    case.acknowledged_at = case.acknowledged_at or utcnow()  # any move leaves new
    if target is CaseStatus.CLOSED:
        case.resolution, case.closed_at = resolution, utcnow()
    else:
        case.closed_at = None
    action = {CaseStatus.CLOSED: "case.closed"}.get(target, "case.reopened" if before["status"] == "closed"
                                                     else "case.status_changed")
    after = {"status": target.value, "resolution": case.resolution}
    details = {"from": before["status"], "to": target.value}
    if closing is not None:
        from app.soc.services import close_alert

        reason, alerts = closing
        for alert in alerts:
            close_alert(alert, reason, actor=actor)
        after |= {"alerts_closed": [a.reference for a in alerts], "alert_close_reason": reason.value}
        details |= {"alerts_closed": len(alerts), "alert_close_reason": reason.value}
    timeline.write_entry(case, TimelineKind.STATUS_CHANGE, actor=actor,
                         body=f"{before['status']} → {target.value}" + (f": {resolution}" if resolution else ""),
                         details=details)
    audit.record(action, actor=actor, target=case, before=before, after=after)
    return case


# What closing a case says about its alerts: the case confirmed them, or found them harmless or wrong.
CASE_ALERT_REASONS = ("true_positive", "benign", "false_positive")


def _alerts_to_close(case: Case, reason: str | None, actor: Actor):
    """The close reason and the linked alerts still open, checked before anything changes."""
    from app.core.errors import Forbidden
    from app.soc.models import AlertStatus, CloseReason

    reason = (reason or CASE_ALERT_REASONS[0]).strip().lower()
    if reason not in CASE_ALERT_REASONS:
        raise ValidationFailed({"alert_close_reason": [
            f"Close the linked alerts as one of: {', '.join(CASE_ALERT_REASONS)}."]})
    alerts = [a for a in linked_alerts(case) if a.status is not AlertStatus.CLOSED]
    if alerts and not actor.can("alert:write"):
        raise Forbidden(f"Closing {case.reference} also closes its {len(alerts)} open alert(s), "
                        "which needs permission to change alerts.")
    return CloseReason(reason), alerts


def close_case(case: Case, *, actor: Actor, resolution: str, alert_close_reason: str | None = None) -> Case:
    """Close the case with a resolution summary, and its open alerts with the reason (true positive by default)."""
    return transition_case(case, CaseStatus.CLOSED, actor=actor, resolution=resolution,
                           alert_close_reason=alert_close_reason)


def reopen_case(case: Case, *, actor: Actor) -> Case:
    """Reopen a closed case for more investigation."""
    return transition_case(case, CaseStatus.INVESTIGATING, actor=actor)


# --- alerts --------------------------------------------------------------------------------


@atomic
def link_alerts(case: Case, alert_ids: list[str], *, actor: Actor) -> list:
    """Link alerts to the case and move the new and acknowledged ones to in progress."""
    from app.core.tenancy import get_or_404
    from app.soc.models import Alert, AlertStatus
    from app.soc.services import start_alert

    authorize(actor, "case:write")
    authorize(actor, "alert:write")  # linking changes the alerts' status too
    if not alert_ids:
        raise ValidationFailed({"alert_ids": ["Name at least one alert."]})
    if len(alert_ids) > 500:
        raise ValidationFailed({"alert_ids": ["Link at most 500 alerts at once."]})
    if not case.is_open:
        raise Conflict(f"{case.reference} is closed; reopen it to link alerts.")
    alerts = [get_or_404(Alert, alert_id) for alert_id in dict.fromkeys(alert_ids)]
    links = {link.alert_id: link for link in db.session.scalars(
        sa.select(CaseAlertLink).where(CaseAlertLink.alert_id.in_([a.id for a in alerts])))}
    taken = [a.reference for a in alerts if a.id in links and links[a.id].case_id != case.id]
    if taken:
        raise Conflict(f"Already linked to another case: {', '.join(taken)}.", {"alerts": taken})
    linked = []
    for alert in alerts:
        if alert.id in links:
            continue
        db.session.add(CaseAlertLink(alert_id=alert.id, case_id=case.id, linked_by_id=_actor_user_id(actor),
                                     linked_by_label=actor.label[:320]))
        if alert.status in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED):
            start_alert(alert, actor=actor)
        timeline.write_entry(case, TimelineKind.ALERT_LINK, actor=actor, body=f"{alert.reference} {alert.title}",
                             details={"alert": alert.public_id, "reference": alert.reference},
                             occurred_at=min(alert.first_seen, utcnow()))
        linked.append(alert)
    if linked:
        audit.record("case.alerts_linked", actor=actor, target=case,
                     after={"alerts": [a.reference for a in linked]})
    return linked


@atomic
def unlink_alert(case: Case, alert_id: str, *, actor: Actor):
    """Take an alert off the case; its own status stays as it is (closing it is a separate decision)."""
    from app.core.errors import NotFound
    from app.soc.models import Alert

    authorize(actor, "case:write")
    row = db.session.execute(sa.select(CaseAlertLink, Alert).join(Alert, Alert.id == CaseAlertLink.alert_id)
                             .where(CaseAlertLink.case_id == case.id, Alert.public_id == str(alert_id))).first()
    if row is None:
        raise NotFound("That alert is not linked to this case.")
    link, alert = row
    if not case.is_open:
        raise Conflict(f"{case.reference} is closed; reopen it to change its alerts.")
    db.session.delete(link)
    timeline.write_entry(case, TimelineKind.ALERT_LINK, actor=actor, body=f"{alert.reference} {alert.title}",
                         details={"alert": alert.public_id, "reference": alert.reference, "unlinked": True})
    audit.record("case.alert_unlinked", actor=actor, target=case, after={"alert": alert.reference})
    return alert


def linked_alerts(case: Case) -> list:
    from app.soc.models import Alert

    return list(db.session.scalars(sa.select(Alert).join(CaseAlertLink, CaseAlertLink.alert_id == Alert.id)
                                   .where(CaseAlertLink.case_id == case.id).order_by(Alert.id)))


# --- merge ---------------------------------------------------------------------------------


@atomic
def merge_cases(source: Case, into: Case, *, actor: Actor) -> Case:
    """Move source's alerts, timeline, tasks and attachments into `into`, and close source as merged."""
    authorize(actor, "case:write")
    if source.id == into.id:
        raise ValidationFailed({"into": ["A case cannot be merged into itself."]})
    if not source.is_open or not into.is_open:
        closed = source if not source.is_open else into
        raise Conflict(f"{closed.reference} is closed; only open cases can be merged.")
    counts = {}
    last = db.session.scalar(sa.select(sa.func.max(CaseTask.position)).where(CaseTask.case_id == into.id)) or 0
    for name, model, extra in (("alerts", CaseAlertLink, {}), ("timeline_entries", TimelineEntry, {}),
                               ("tasks", CaseTask, {"position": CaseTask.position + last}),
                               ("attachments", Attachment, {})):
        result = db.session.execute(sa.update(model).where(model.case_id == source.id)
                                    .values(case_id=into.id, **extra).execution_options(synchronize_session=False))
        counts[name] = result.rowcount
    db.session.expire(source, ["tasks"])
    db.session.expire(into, ["tasks"])
    into.tags = _tags([*into.tags, *source.tags])
    into.techniques = _techniques([*into.techniques, *source.techniques])
    into.watchers = list(dict.fromkeys([*into.watchers, *source.watchers]))
    before = {"status": source.status.value}
    source.status, source.closed_at, source.merged_into = CaseStatus.CLOSED, utcnow(), into
    source.acknowledged_at = source.acknowledged_at or source.closed_at
    source.resolution = f"Merged into {into.reference}."
    timeline.write_entry(source, TimelineKind.STATUS_CHANGE, actor=actor,
                         body=f"{before['status']} → closed: merged into {into.reference}",
                         details={"from": before["status"], "to": "closed", "merged_into": into.public_id})
    timeline.write_entry(into, TimelineKind.EVENT, actor=actor, body=f"{source.reference} merged into this case",
                         details={"merged": source.public_id})
    audit.record("case.merged_into", actor=actor, target=source, before=before,
                 after={"status": "closed", "merged_into": into.reference, **counts})
    audit.record("case.merged", actor=actor, target=into, after={"merged": source.reference, **counts})
    return into


# --- tasks ---------------------------------------------------------------------------------


def _due(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed({"due_at": ["Give the time with its zone (for example 2025-11-24T17:00:00Z)."]})
    return value.astimezone(UTC) if value is not None else None


def _task_state(task: CaseTask) -> dict:
    return {"title": task.title, "assignee": _user_label(task.assignee),
            "due_at": task.due_at.isoformat() if task.due_at else None, "done": task.is_done}


@atomic
def add_task(case: Case, *, actor: Actor, title: str, assignee: User | None = None,
             due_at: datetime | None = None) -> CaseTask:
    """Add a checklist item at the end of the case's tasks."""
    authorize(actor, "case:write")
    last = db.session.scalar(sa.select(sa.func.max(CaseTask.position)).where(CaseTask.case_id == case.id)) or 0
    task = CaseTask(case_id=case.id, title=_title(title), assignee=_checked_member(assignee, "assignee"),
                    due_at=_due(due_at), position=last + 1)
    db.session.add(task)
    db.session.flush()
    audit.record("case.task_added", actor=actor, target=case, after={"task": task.public_id, **_task_state(task)})
    return task


_UNSET = object()


@atomic
def update_task(task: CaseTask, *, actor: Actor, title: str | None = None, assignee=_UNSET,
                due_at=_UNSET) -> CaseTask:
    """Change a task's title, assignee or due time (pass None to clear the latter two)."""
    authorize(actor, "case:write")
    before = _task_state(task)
    if title is not None:
        task.title = _title(title)
    if assignee is not _UNSET:
        task.assignee = _checked_member(assignee, "assignee")
    if due_at is not _UNSET:
        task.due_at = _due(due_at)
    after = _task_state(task)
    if after != before:
        audit.record("case.task_updated", actor=actor, target=task.case, before={"task": task.public_id, **before},
                     after={"task": task.public_id, **after})
    return task


@atomic
def edit_task(task: CaseTask, *, actor: Actor, done: bool | None = None, **changes) -> CaseTask:
    """Apply one task edit in one transaction: fields, then done (complete) or not done (reopen)."""
    update_task(task, actor=actor, **changes)
    if done is True and not task.is_done:
        complete_task(task, actor=actor)
    elif done is False and task.is_done:
        reopen_task(task, actor=actor)
    return task


@atomic
def complete_task(task: CaseTask, *, actor: Actor) -> CaseTask:
    """Tick the task off; the case timeline records who did it."""
    authorize(actor, "case:write")
    if task.is_done:
        raise Conflict("The task is already done.")
    task.done_at, task.done_by_id = utcnow(), _actor_user_id(actor)
    timeline.write_entry(task.case, TimelineKind.TASK_DONE, actor=actor, body=task.title,
                         details={"task": task.public_id})
    audit.record("case.task_completed", actor=actor, target=task.case, after={"task": task.public_id,
                                                                              "title": task.title})
    return task


@atomic
def reopen_task(task: CaseTask, *, actor: Actor) -> CaseTask:
    """Mark a done task as not done again."""
    authorize(actor, "case:write")
    if not task.is_done:
        raise Conflict("The task is not done.")
    task.done_at, task.done_by_id = None, None
    audit.record("case.task_reopened", actor=actor, target=task.case, after={"task": task.public_id,
                                                                             "title": task.title})
    return task


def get_task(case: Case, task_id: str) -> CaseTask:
    from app.core.errors import NotFound

    task = db.session.scalar(sa.select(CaseTask).where(CaseTask.public_id == str(task_id),
                                                       CaseTask.case_id == case.id))
    if task is None:
        raise NotFound("CaseTask not found.")
    return task


# --- attachments ---------------------------------------------------------------------------

# What analysts attach as evidence. application/octet-stream is accepted only for the binary
# forensic formats that have no registered type of their own (see OCTET_STREAM_EXTENSIONS).
ATTACHMENT_TYPES = frozenset({
    "text/plain", "text/csv", "application/json", "application/pdf", "image/png", "image/jpeg",
    "application/zip", "application/vnd.tcpdump.pcap", "message/rfc822", "application/octet-stream",
})
OCTET_STREAM_EXTENSIONS = (".evtx", ".pcap", ".pcapng", ".dmp", ".raw")
DEFAULT_MAX_BYTES = 25 * 1024 * 1024


def safe_filename(name: str | None) -> str:
    """A display and download name with no path, control or quoting characters."""
    base = (name or "").replace("\\", "/").split("/")[-1]
    cleaned = "".join(c if c.isprintable() and c not in '"<>:|?*;' else "_" for c in base).strip(" .")
    return (cleaned or "attachment")[:200]


@atomic
def add_attachment(case: Case, *, actor: Actor, filename: str, content_type: str, stream,
                   declared_size: int | None = None) -> Attachment:
    """Store an evidence file (content-addressed) and record it on the case's timeline."""
    authorize(actor, "case:write")
    name = safe_filename(filename)
    kind = storage.check_content_type(content_type, ATTACHMENT_TYPES)
    if kind == "application/octet-stream" and not name.lower().endswith(OCTET_STREAM_EXTENSIONS):
        raise ValidationFailed({"file": ["Untyped binary files are accepted only as "
                                         f"{', '.join(OCTET_STREAM_EXTENSIONS)}."]})
    max_bytes = int(current_app.config.get("VIGIL_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))
    stored = storage.store(actor.tenant.public_id, stream, content_type=kind, allowed_types=ATTACHMENT_TYPES,
                           max_bytes=max_bytes, declared_size=declared_size)
    attachment = Attachment(case_id=case.id, filename=name, content_type=kind, size=stored.size,
                            sha256=stored.sha256, storage_key=stored.key, uploaded_by_id=_actor_user_id(actor),
                            uploaded_by_label=actor.label[:320])
    db.session.add(attachment)
    try:
        db.session.flush()
    except Exception:
        if stored.created:  # no row will point at it
            storage.discard(stored.key)
        raise
    timeline.write_entry(case, TimelineKind.ATTACHMENT, actor=actor, body=name, attachment=attachment,
                         details={"sha256": stored.sha256, "size": stored.size})
    audit.record("case.attachment_added", actor=actor, target=case,
                 after={"attachment": attachment.public_id, "filename": name, "sha256": stored.sha256,
                        "size": stored.size, "content_type": kind})
    return attachment


def attachment_download(attachment: Attachment) -> tuple[str, dict[str, str]]:
    """The file path and the headers that make browsers download it, never render it."""
    from urllib.parse import quote

    ascii_name = attachment.filename.encode("ascii", "replace").decode().replace("?", "_")
    headers = {
        "Content-Type": attachment.content_type,
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(attachment.filename)}",
        "Content-Length": str(attachment.size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return str(storage.path_for(attachment.storage_key)), headers
