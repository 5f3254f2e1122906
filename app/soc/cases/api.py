"""Case routes of the API: list, create, read, edit, move through the workflow, timeline, tasks, alerts, merge."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, g, request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.core.api import documented, ok, page_limit, paginate, parse_body
from app.core.db import db
from app.core.errors import ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.text import render_markdown
from app.identity.models import User
from app.soc.cases import queries, services, timeline, workflow
from app.soc.cases.models import Case, CaseTask, TimelineEntry

api_bp = Blueprint("cases_api", __name__)


# --- shapes --------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(_In):
    title: str = Field(max_length=300)
    severity: str | None = Field(default=None, description="info, low, medium, high or critical; "
                                                            "the template's (or medium) if omitted")
    description: str = Field(default="", max_length=100_000, description="Markdown")
    tags: list[str] = Field(default_factory=list, max_length=30)
    techniques: list[str] = Field(default_factory=list, max_length=50, description="MITRE ATT&CK ids, T1059.001")
    assignee_id: str | None = Field(default=None, description="a member's user id")
    template: str | None = Field(default=None, description="phishing, ransomware or ai_model_abuse")


class CasePatch(_In):
    title: str | None = Field(default=None, max_length=300)
    severity: str | None = None
    description: str | None = Field(default=None, max_length=100_000)
    tags: list[str] | None = Field(default=None, max_length=30)
    techniques: list[str] | None = Field(default=None, max_length=50)
    assignee_id: str | None = Field(default=None, description="a member's user id; null unassigns")
    watcher_ids: list[str] | None = Field(default=None, max_length=100, description="replaces the watchers")


class TransitionIn(_In):
    to: str = Field(description="the next status; see GET /cases/transitions")
    resolution: str | None = Field(default=None, max_length=20_000, description="required to close")


class EventIn(_In):
    occurred_at: AwareDatetime = Field(description="when it happened, with its zone")
    body: str = Field(max_length=20_000)
    category: str = Field(default="other", description="initial_access, execution, persistence, lateral_movement, "
                                                       "exfiltration, containment_action, communication, other")
    asset: str = Field(default="", max_length=500, description="the host, account or observable involved")


class CommentIn(_In):
    body: str = Field(max_length=20_000, description="Markdown")


class TaskIn(_In):
    title: str = Field(max_length=300)
    assignee_id: str | None = None
    due_at: AwareDatetime | None = None


class TaskPatch(_In):
    title: str | None = Field(default=None, max_length=300)
    assignee_id: str | None = None
    due_at: AwareDatetime | None = None
    done: bool | None = Field(default=None, description="true completes the task, false reopens it")


class LinkAlertsIn(_In):
    alert_ids: list[str] = Field(min_length=1, max_length=500)


class MergeIn(_In):
    into: str = Field(description="the id of the case that survives")


class UserRef(BaseModel):
    id: str
    email: str
    name: str

    @classmethod
    def of(cls, user: User | None) -> UserRef | None:
        return cls(id=user.public_id, email=user.email, name=user.name) if user is not None else None


class TaskOut(BaseModel):
    id: str
    title: str
    position: int
    assignee: UserRef | None
    due_at: datetime | None
    done: bool
    done_at: datetime | None

    @classmethod
    def of(cls, task: CaseTask) -> TaskOut:
        return cls(id=task.public_id, title=task.title, position=task.position, assignee=UserRef.of(task.assignee),
                   due_at=task.due_at, done=task.is_done, done_at=task.done_at)


class CaseOut(BaseModel):
    id: str
    number: int
    reference: str = Field(examples=["CASE-42"])
    title: str
    description: str = Field(description="Markdown source")
    description_html: str = Field(description="sanitised HTML")
    severity: str
    status: str
    allowed_transitions: list[str]
    assignee: UserRef | None
    tags: list[str]
    techniques: list[str]
    resolution: str | None
    closed_at: datetime | None
    merged_into: str | None = Field(description="the surviving case's id when this one was merged")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls(id=case.public_id, number=case.number, reference=case.reference, title=case.title,
                   description=case.description, description_html=str(render_markdown(case.description)),
                   severity=case.severity.value, status=case.status.value,
                   allowed_transitions=workflow.allowed_transitions(case.status), assignee=UserRef.of(case.assignee),
                   tags=case.tags, techniques=case.techniques, resolution=case.resolution, closed_at=case.closed_at,
                   merged_into=case.merged_into.public_id if case.merged_into is not None else None,
                   created_at=case.created_at, updated_at=case.updated_at)


class CaseDetailOut(CaseOut):
    watchers: list[UserRef]
    tasks: list[TaskOut]

    @classmethod
    def of(cls, case: Case) -> CaseDetailOut:
        return cls(**CaseOut.of(case).model_dump(), watchers=[UserRef.of(u) for u in case.watchers],
                   tasks=[TaskOut.of(t) for t in case.tasks])


class EntryOut(BaseModel):
    id: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    author: str
    category: str | None
    asset: str
    body: str
    body_html: str | None = Field(description="sanitised HTML of a comment's Markdown")
    details: dict | None
    attachment: dict | None = Field(description="filename, sha256 and size of an attachment entry")
    edited_at: datetime | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> EntryOut:
        att = entry.attachment
        return cls(id=entry.public_id, kind=entry.kind.value, occurred_at=entry.occurred_at,
                   recorded_at=entry.recorded_at, author=entry.author_label,
                   category=entry.category.value if entry.category else None, asset=entry.asset, body=entry.body,
                   body_html=str(render_markdown(entry.body)) if entry.kind.value == "comment" else None,
                   details=entry.details, edited_at=entry.edited_at,
                   attachment={"id": att.public_id, "filename": att.filename, "sha256": att.sha256,
                               "size": att.size} if att is not None else None)


class TransitionsOut(BaseModel):
    statuses: list[str]
    transitions: dict[str, list[str]] = Field(description="for each status, the statuses it may move to")
    resolution_required: list[str] = Field(description="moving to these needs a resolution")


class LinkedOut(BaseModel):
    linked: list[str] = Field(description="references of the alerts newly linked")
    alerts: list[str] = Field(description="references of every alert linked to the case")


# --- helpers -------------------------------------------------------------------------------


def _case(case_id: str) -> Case:
    return get_or_404(Case, case_id)


def _detail(case: Case, status: int = 200):
    return ok(CaseDetailOut.of(queries.load_case_detail(case.public_id)).model_dump(mode="json"), status=status)


def _member(user_id: str | None, field: str = "assignee_id") -> User | None:
    return services.member_user(user_id, field=field)


def _decode_timeline_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(raw["t"]), int(raw["k"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed({"cursor": ["The cursor is not valid; use meta.next_cursor as given."]})


def _encode_timeline_cursor(at: datetime, key: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"t": at.isoformat(), "k": key}).encode()).decode().rstrip("=")


# --- cases ---------------------------------------------------------------------------------


@api_bp.get("/cases")
@require("case:read")
@documented(response=CaseOut, paged=True, tag="cases")
def cases_list():
    """Cases, newest first; filter by status (or open), severity, assignee (id, me, unassigned), tag, q."""
    filters = queries.CaseListFilter.from_args(request.args)
    stmt = queries.case_list_statement(filters, me=g.actor.user)
    rows, next_cursor = paginate(stmt, Case.id, limit=page_limit(), cursor=request.args.get("cursor"))
    return ok([CaseOut.of(c).model_dump(mode="json") for c in rows], next_cursor=next_cursor)


@api_bp.post("/cases")
@require("case:write")
@documented(body=CaseIn, response=CaseDetailOut, tag="cases")
def cases_create():
    """Open a case; a template pre-fills severity, tags and tasks."""
    body = parse_body(CaseIn)
    case = services.create_case(actor=g.actor, title=body.title, severity=body.severity,
                                description=body.description, tags=body.tags, techniques=body.techniques,
                                assignee=_member(body.assignee_id), template=body.template)
    return _detail(case, status=201)


@api_bp.get("/cases/transitions")
@require("case:read")
@documented(response=TransitionsOut, tag="cases")
def cases_transitions():
    """The case state machine: for each status, the statuses it may move to."""
    out = TransitionsOut(statuses=[s.value for s in workflow.CaseStatus], transitions=workflow.state_machine(),
                         resolution_required=[workflow.CaseStatus.CLOSED.value])
    return ok(out.model_dump())


@api_bp.get("/cases/<case_id>")
@require("case:read")
@documented(response=CaseDetailOut, tag="cases")
def cases_get(case_id: str):
    """One case with its watchers and tasks."""
    return _detail(_case(case_id))


@api_bp.patch("/cases/<case_id>")
@require("case:write")
@documented(body=CasePatch, response=CaseDetailOut, tag="cases")
def cases_patch(case_id: str):
    """Edit a case's fields, assignee and watchers (status moves through /transitions)."""
    case = _case(case_id)
    body = parse_body(CasePatch)
    watchers = [_member(w, "watcher_ids") for w in body.watcher_ids] if body.watcher_ids is not None else None
    services.edit_case(case, actor=g.actor, title=body.title, description=body.description, severity=body.severity,
                       tags=body.tags, techniques=body.techniques, assignee=_member(body.assignee_id),
                       change_assignee="assignee_id" in body.model_fields_set, watchers=watchers)
    return _detail(case)


@api_bp.post("/cases/<case_id>/transitions")
@require("case:write")
@documented(body=TransitionIn, response=CaseDetailOut, tag="cases", errors=(409,))
def cases_transition(case_id: str):
    """Move the case to another status; an illegal move is a 409 naming the allowed ones."""
    case = _case(case_id)
    body = parse_body(TransitionIn)
    services.transition_case(case, body.to, actor=g.actor, resolution=body.resolution)
    return _detail(case)


@api_bp.post("/cases/<case_id>/merge")
@require("case:write")
@documented(body=MergeIn, response=CaseDetailOut, tag="cases", errors=(409,))
def cases_merge(case_id: str):
    """Merge this case into another: alerts, timeline and tasks move; this one closes pointing to it."""
    case = _case(case_id)
    body = parse_body(MergeIn)
    survivor = services.merge_cases(case, _case(body.into), actor=g.actor)
    return _detail(survivor)


# --- timeline ------------------------------------------------------------------------------


@api_bp.get("/cases/<case_id>/timeline")
@require("case:read")
@documented(response=EntryOut, paged=True, tag="cases")
def cases_timeline(case_id: str):
    """The case's timeline, oldest first; ?kind= (repeatable), ?order=occurred|recorded."""
    case = _case(case_id)
    kinds = timeline.timeline_kinds(k for v in request.args.getlist("kind") for k in v.split(","))
    order = request.args.get("order", "occurred")
    stmt = timeline.timeline_statement(case, kinds=kinds, order=order)
    column = TimelineEntry.occurred_at if order == "occurred" else TimelineEntry.recorded_at
    if cursor := request.args.get("cursor"):
        at, key = _decode_timeline_cursor(cursor)
        stmt = stmt.where(sa.or_(column > at, sa.and_(column == at, TimelineEntry.id > key)))
    limit = page_limit()
    rows = list(db.session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_timeline_cursor(getattr(last, column.key), last.id)
    return ok([EntryOut.of(e).model_dump(mode="json") for e in rows], next_cursor=next_cursor)


@api_bp.post("/cases/<case_id>/timeline")
@require("case:write")
@documented(body=EventIn, response=EntryOut, tag="cases")
def cases_timeline_add(case_id: str):
    """Add a manual timeline event at the time it happened."""
    case = _case(case_id)
    body = parse_body(EventIn)
    entry = timeline.add_event(case, actor=g.actor, occurred_at=body.occurred_at, body=body.body,
                               category=body.category, asset=body.asset)
    return ok(EntryOut.of(entry).model_dump(mode="json"), status=201)


@api_bp.post("/cases/<case_id>/comments")
@require("case:write")
@documented(body=CommentIn, response=EntryOut, tag="cases")
def cases_comment(case_id: str):
    """Comment on the case (Markdown, shown sanitised)."""
    case = _case(case_id)
    body = parse_body(CommentIn)
    entry = timeline.add_comment(case, actor=g.actor, body=body.body)
    return ok(EntryOut.of(entry).model_dump(mode="json"), status=201)


# --- tasks ---------------------------------------------------------------------------------


@api_bp.get("/cases/<case_id>/tasks")
@require("case:read")
@documented(response=TaskOut, tag="cases")
def cases_tasks(case_id: str):
    """The case's tasks in checklist order (not paged: a case holds a short list)."""
    case = queries.load_case_detail(case_id)
    return ok([TaskOut.of(t).model_dump(mode="json") for t in case.tasks])


@api_bp.post("/cases/<case_id>/tasks")
@require("case:write")
@documented(body=TaskIn, response=TaskOut, tag="cases")
def cases_task_add(case_id: str):
    """Add a task at the end of the checklist."""
    case = _case(case_id)
    body = parse_body(TaskIn)
    task = services.add_task(case, actor=g.actor, title=body.title, assignee=_member(body.assignee_id),
                             due_at=body.due_at)
    return ok(TaskOut.of(task).model_dump(mode="json"), status=201)


@api_bp.patch("/cases/<case_id>/tasks/<task_id>")
@require("case:write")
@documented(body=TaskPatch, response=TaskOut, tag="cases", errors=(409,))
def cases_task_patch(case_id: str, task_id: str):
    """Edit a task, or complete (done: true) or reopen (done: false) it."""
    case = _case(case_id)
    task = services.get_task(case, task_id)
    body = parse_body(TaskPatch)
    changes = {}
    if "assignee_id" in body.model_fields_set:
        changes["assignee"] = _member(body.assignee_id)
    if "due_at" in body.model_fields_set:
        changes["due_at"] = body.due_at
    services.edit_task(task, actor=g.actor, title=body.title, done=body.done, **changes)
    return ok(TaskOut.of(task).model_dump(mode="json"))


# --- alerts --------------------------------------------------------------------------------


@api_bp.post("/cases/<case_id>/alerts")
@require("case:write")
@documented(body=LinkAlertsIn, response=LinkedOut, tag="cases", errors=(409,))
def cases_link_alerts(case_id: str):
    """Link alerts to the case; new and acknowledged alerts move to in progress (needs alert:write too)."""
    case = _case(case_id)
    body = parse_body(LinkAlertsIn)
    linked = services.link_alerts(case, body.alert_ids, actor=g.actor)
    out = LinkedOut(linked=[a.reference for a in linked], alerts=[a.reference for a in services.linked_alerts(case)])
    return ok(out.model_dump())
