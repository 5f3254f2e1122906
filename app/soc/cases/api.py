"""Case routes of the API: cases, workflow, timeline (with export), comments, tasks, evidence, alerts, merge."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, g, make_response, request, send_file

from app.core.api import documented, ok, page_limit, paginate, parse_body, uploaded_file
from app.core.errors import ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.identity.models import User
from app.soc.cases import queries, services, timeline, workflow
from app.soc.cases.models import Attachment, Case
from app.soc.cases.schemas import (
    AttachmentOut,
    CaseDetailOut,
    CaseIn,
    CaseOut,
    CasePatch,
    CommentIn,
    EntryOut,
    EntryPatch,
    EventIn,
    LinkAlertsIn,
    LinkedAlertOut,
    LinkedOut,
    MergeIn,
    TaskIn,
    TaskOut,
    TaskPatch,
    TransitionIn,
    TransitionsOut,
)

api_bp = Blueprint("cases_api", __name__)


# --- helpers -------------------------------------------------------------------------------


def _case(case_id: str) -> Case:
    return get_or_404(Case, case_id)


def _detail(case: Case, status: int = 200):
    return ok(CaseDetailOut.of(queries.load_case_detail(case.public_id)).model_dump(mode="json"), status=status)


def _member(user_id: str | None, field: str = "assignee_id") -> User | None:
    return services.member_user(user_id, field=field)


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
    """Move the case to another status; an illegal move is a 409 naming the allowed ones.

    Closing closes the linked alerts still open in the same transaction (`alert_close_reason`, true_positive
    by default); that needs the alerts:write scope too when there are any (403 otherwise)."""
    case = _case(case_id)
    body = parse_body(TransitionIn)
    services.transition_case(case, body.to, actor=g.actor, resolution=body.resolution,
                             alert_close_reason=body.alert_close_reason)
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
    rows, next_cursor = queries.timeline_page(case, kinds=kinds, order=request.args.get("order", "occurred"),
                                              cursor=request.args.get("cursor"), limit=page_limit())
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


@api_bp.patch("/cases/<case_id>/timeline/<entry_id>")
@require("case:write")
@documented(body=EntryPatch, response=EntryOut, tag="cases", errors=(409,))
def cases_timeline_edit(case_id: str, entry_id: str):
    """Edit a manual event or a comment; system entries are a 409 (they record what happened)."""
    case = _case(case_id)
    entry = queries.entry_of_case(case, entry_id)
    body = parse_body(EntryPatch)
    timeline.edit_entry(entry, actor=g.actor, body=body.body, occurred_at=body.occurred_at,
                        category=body.category, asset=body.asset)
    return ok(EntryOut.of(entry).model_dump(mode="json"))


EXPORTS = {"csv": ("text/csv; charset=utf-8", timeline.export_csv),
           "json": ("application/json", timeline.export_json)}


@api_bp.get("/cases/<case_id>/timeline/export")
@require("case:read")
@documented(tag="cases", enveloped=False, produces=("text/csv", "application/json"))
def cases_timeline_export(case_id: str):
    """The whole timeline as a file: ?format=csv (default) or json, ?order=occurred|recorded.

    Every entry, unpaged. CSV cells that a spreadsheet would run as a formula are prefixed with '.
    """
    case = _case(case_id)
    fmt = request.args.get("format", "csv")
    if fmt not in EXPORTS:
        raise ValidationFailed({"format": ["Use csv or json."]})
    mimetype, export = EXPORTS[fmt]
    response = make_response(export(case, order=request.args.get("order", "occurred")))
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{case.reference}-timeline.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


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


@api_bp.get("/cases/<case_id>/alerts")
@require("case:read")
@documented(response=LinkedAlertOut, paged=True, tag="cases")
def cases_alerts(case_id: str):
    """The alerts linked to the case, newest first (needs alert:read too)."""
    from app.core.permissions import authorize
    from app.soc.cases.models import CaseAlertLink
    from app.soc.models import Alert

    authorize(g.actor, "alert:read")
    case = _case(case_id)
    stmt = sa.select(Alert).join(CaseAlertLink, CaseAlertLink.alert_id == Alert.id).where(
        CaseAlertLink.case_id == case.id)
    rows, next_cursor = paginate(stmt, Alert.id, limit=page_limit(), cursor=request.args.get("cursor"))
    return ok([LinkedAlertOut.of(a).model_dump(mode="json") for a in rows], next_cursor=next_cursor)


@api_bp.delete("/cases/<case_id>/alerts/<alert_id>")
@require("case:write")
@documented(response=LinkedOut, tag="cases", errors=(409,))
def cases_unlink_alert(case_id: str, alert_id: str):
    """Take an alert off the case (its own status is left as it is)."""
    case = _case(case_id)
    services.unlink_alert(case, alert_id, actor=g.actor)
    out = LinkedOut(linked=[], alerts=[a.reference for a in services.linked_alerts(case)])
    return ok(out.model_dump())


# --- evidence ------------------------------------------------------------------------------


@api_bp.get("/cases/<case_id>/evidence")
@require("case:read")
@documented(response=AttachmentOut, paged=True, tag="cases")
def cases_evidence(case_id: str):
    """The case's evidence files, newest first, with sha256 and size."""
    case = _case(case_id)
    stmt = sa.select(Attachment).where(Attachment.case_id == case.id)
    rows, next_cursor = paginate(stmt, Attachment.id, limit=page_limit(), cursor=request.args.get("cursor"))
    return ok([AttachmentOut.of(a).model_dump(mode="json") for a in rows], next_cursor=next_cursor)


@api_bp.post("/cases/<case_id>/evidence")
@require("case:write")
@documented(upload="file", response=AttachmentOut, tag="cases")
def cases_evidence_add(case_id: str):
    """Upload an evidence file as multipart/form-data field `file`; stored by sha256.

    The part's Content-Type must be on the allow-list (422 naming it otherwise); a body over
    VIGIL_ATTACHMENT_MAX_BYTES is a 413. A refused upload stores nothing.
    """
    case = _case(case_id)
    upload = uploaded_file("file")
    attachment = services.add_attachment(case, actor=g.actor, filename=upload.filename,
                                         content_type=upload.mimetype or "", stream=upload.stream,
                                         declared_size=upload.content_length or None)
    return ok(AttachmentOut.of(attachment).model_dump(mode="json"), status=201)


@api_bp.get("/evidence/<attachment_id>")
@require("case:read")
@documented(tag="cases", enveloped=False, produces=("application/octet-stream",))
def evidence_download(attachment_id: str):
    """Download one evidence file: its bytes, as an attachment (never rendered), with its sha256 in a header."""
    attachment = get_or_404(Attachment, attachment_id)
    path, headers = services.attachment_download(attachment)
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename, conditional=False, etag=False)
    response.headers.update(headers)
    response.headers["X-Content-SHA256"] = attachment.sha256
    return response
