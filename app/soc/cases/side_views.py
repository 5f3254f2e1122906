"""Routes of the case page's side cards: tasks (add, edit inline, complete), linked alerts, evidence."""

from __future__ import annotations

from flask import current_app, request, send_file, url_for

from app.core.actors import current_actor
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import render, respond_changed, respond_refused
from app.soc.cases import queries, services
from app.soc.cases.forms import TaskForm, in_zone, local_input, member_choices
from app.soc.cases.models import Case
from app.soc.cases.views import (
    ALERTS_PANEL,
    DETAIL,
    LINK_RESULTS,
    TASK_FORM,
    TASK_ROW,
    _case_url,
    _detail_ctx,
    _form_errors,
    bp,
    case_detail,
)

# --- tasks ---------------------------------------------------------------------------------


@bp.post("/<case_id>/tasks")
@require("case:write")
def task_add_post(case_id: str):
    case = queries.load_case_detail(case_id)
    actor = current_actor()
    form = TaskForm(meta={"csrf": False})
    form.assignee.choices = member_choices(queries.case_members())
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        task = services.add_task(case, actor=actor, title=form.title.data,
                                 assignee=services.member_user(form.assignee.data) if form.assignee.data else None,
                                 due_at=in_zone(form.due_at.data, actor.zone))
    except ValidationFailed as exc:
        return render(DETAIL, status=422, **_detail_ctx(case, task_form=form, task_errors=exc.field_errors))
    return respond_changed(f"Task added: {task.title}", redirect_to=_case_url(case, "case-tasks"))


def _task_change(case_id: str, task_id: str, change, message: str):
    case = queries.load_case_detail(case_id)
    task = services.get_task(case, task_id)
    try:
        change(task, actor=current_actor())
    except Conflict as exc:
        return respond_refused(exc, DETAIL, TASK_ROW, **_detail_ctx(case, task=task))
    return respond_changed(message.format(title=task.title), redirect_to=_case_url(case, "case-tasks"),
                           fragment=TASK_ROW, event="timeline-updated", case=case, task=task,
                           zone=current_actor().zone)


@bp.post("/<case_id>/tasks/<task_id>/complete")
@require("case:write")
def task_complete_post(case_id: str, task_id: str):
    return _task_change(case_id, task_id, services.complete_task, "Done: {title}")


@bp.post("/<case_id>/tasks/<task_id>/reopen")
@require("case:write")
def task_reopen_post(case_id: str, task_id: str):
    return _task_change(case_id, task_id, services.reopen_task, "Reopened: {title}")


@bp.get("/<case_id>/tasks")
@require("case:read")
def case_tasks(case_id: str):
    """The case page at its tasks; ?edit=<task id> is that task's inline form, ?task= its row."""
    case = queries.load_case_detail(case_id)
    if request.args.get("edit") or request.args.get("task"):
        task = services.get_task(case, request.args.get("edit") or request.args["task"])
        if request.args.get("edit"):
            return render(DETAIL, TASK_FORM, **_detail_ctx(case, task=task, task_edit=_task_edit_form(task),
                                                            editing_task=task.public_id))
        return render(DETAIL, TASK_ROW, **_detail_ctx(case, task=task))
    return case_detail(case_id)


def _task_edit_form(task, formdata=None) -> TaskForm:
    zone = current_actor().zone
    form = TaskForm(meta={"csrf": False}, prefix=f"task-{task.public_id[:8]}", formdata=formdata, data={
        "title": task.title, "assignee": task.assignee.public_id if task.assignee else ""})
    form.assignee.choices = member_choices(queries.case_members())
    if formdata is None:
        form.due_at.raw_data = [local_input(task.due_at, zone)]
    return form


@bp.post("/<case_id>/tasks/<task_id>")
@require("case:write")
def task_edit_post(case_id: str, task_id: str):
    """Change a task's title, assignee and due time inline."""
    case = queries.load_case_detail(case_id)
    task = services.get_task(case, task_id)
    actor = current_actor()
    form = _task_edit_form(task, formdata=request.form)
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        services.update_task(task, actor=actor, title=form.title.data,
                             assignee=services.member_user(form.assignee.data) if form.assignee.data else None,
                             due_at=in_zone(form.due_at.data, actor.zone))
    except ValidationFailed as exc:
        return render(DETAIL, TASK_FORM, status=422, **_detail_ctx(
            case, task=task, task_edit=form, task_edit_errors=exc.field_errors, editing_task=task.public_id))
    return respond_changed(f"Task saved: {task.title}", redirect_to=_case_url(case, "case-tasks"),
                           fragment=TASK_ROW, event="case-updated", case=case, task=task, zone=actor.zone)


# --- linked alerts -------------------------------------------------------------------------


@bp.get("/<case_id>/alerts")
@require("case:read")
def alert_link_search(case_id: str):
    """Alerts to link, found by ALR number, title or observable (?q=); without HTMX, the case page with them."""
    case = queries.load_case_detail(case_id)
    text = (request.args.get("q") or "").strip()
    return render(DETAIL, LINK_RESULTS, **_detail_ctx(case, link_query=text,
                                                      candidates=queries.link_candidates(text)))


def _alerts_changed(case: Case, message: str):
    return respond_changed(message, redirect_to=_case_url(case, "case-alerts"), fragment=ALERTS_PANEL,
                           event="timeline-updated", **_detail_ctx(case))


@bp.post("/<case_id>/alerts")
@require("case:write")
def alert_link_post(case_id: str):
    case = queries.load_case_detail(case_id)
    try:
        linked = services.link_alerts(case, request.form.getlist("alert_id"), actor=current_actor())
    except (ValidationFailed, Conflict) as exc:
        text = request.form.get("q") or ""
        return respond_refused(exc, DETAIL, ALERTS_PANEL, **_detail_ctx(
            case, alerts_error=exc.message, link_query=text, candidates=queries.link_candidates(text)))
    refs = ", ".join(a.reference for a in linked)
    return _alerts_changed(case, f"Linked {refs}." if linked else "Those alerts were already linked.")


@bp.post("/<case_id>/alerts/<alert_id>/unlink")
@require("case:write")
def alert_unlink_post(case_id: str, alert_id: str):
    case = queries.load_case_detail(case_id)
    try:
        alert = services.unlink_alert(case, alert_id, actor=current_actor())
    except Conflict as exc:
        return respond_refused(exc, DETAIL, ALERTS_PANEL, **_detail_ctx(case, alerts_error=exc.message))
    return _alerts_changed(case, f"{alert.reference} is no longer linked to {case.reference}.")


# --- attachments ---------------------------------------------------------------------------


@bp.post("/<case_id>/attachments")
@require("case:write")
def attachment_add_post(case_id: str):
    case = queries.load_case_detail(case_id)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed({"file": ["Choose a file to attach."]})
        attachment = services.add_attachment(case, actor=current_actor(), filename=upload.filename,
                                             content_type=upload.mimetype or "", stream=upload.stream,
                                             declared_size=upload.content_length or None)
    except ValidationFailed as exc:
        return render(DETAIL, status=exc.status, **_detail_ctx(case, attachment_errors=exc.field_errors))
    return respond_changed(f"{attachment.filename} attached (sha256 {attachment.sha256[:12]}…).",
                           redirect_to=_case_url(case, "case-evidence"))


@bp.errorhandler(413)
def _upload_too_large(exc):
    """A body over the request limit is refused before the view runs (tenant not yet known): say so plainly."""
    case_id = (request.view_args or {}).get("case_id")
    if request.endpoint != "cases.attachment_add_post" or not case_id:
        return render("errors/error.html", status=413, title="Too large", status_code=413,
                      message="The form is larger than the server accepts.")
    limit = int(current_app.config.get("VIGIL_ATTACHMENT_MAX_BYTES", services.DEFAULT_MAX_BYTES))
    label = f"{limit / 1024 / 1024:.0f} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    back = url_for("cases.case_detail", case_id=case_id, _anchor="case-evidence")
    return render("soc/cases/upload_too_large.html", status=413, limit_label=label, back=back)


@bp.get("/<case_id>/evidence")
@require("case:read")
def attachment_download(case_id: str):
    """?file=<attachment id> downloads that evidence file; without it, the case page at its evidence.

    The file id is a query argument, not a path segment, so every GET route keyed by ids answers
    for a case id alone (the cross-tenant sweep's positive control has no attachment to offer).
    """
    if not request.args.get("file"):
        return case_detail(case_id)
    case = get_or_404(Case, case_id)
    attachment = queries.attachment_of_case(case, request.args["file"])
    path, headers = services.attachment_download(attachment)
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename, conditional=False, etag=False)
    response.headers.update(headers)
    return response
