"""Case pages: the list, opening a case, the case with its timeline, tasks, evidence, workflow and merge."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, make_response, render_template, request, url_for
from jinja2 import pass_context
from markupsafe import Markup

from app.core.actors import current_actor
from app.core.api import paginate
from app.core.errors import Conflict, DomainError, ValidationFailed
from app.core.fragments import fragments
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.text import render_markdown
from app.core.ui import render, respond_changed, respond_refused
from app.soc.cases import queries, services, timeline, workflow
from app.soc.cases.forms import (
    CATEGORY_LABELS,
    AttachmentForm,
    CaseEditForm,
    CaseForm,
    CommentForm,
    EventForm,
    MergeForm,
    TaskForm,
    TransitionForm,
    in_zone,
    local_input,
    member_choices,
    split_list,
)
from app.soc.cases.models import Case, TimelineKind

bp = Blueprint("cases", __name__, url_prefix="/soc/cases")


@bp.context_processor
def _markdown():
    # Comments and descriptions go through core.text (sanitised), the only HTML marked safe here.
    return {"markdown": render_markdown, "timeline_entry": timeline_entry}


@pass_context
def timeline_entry(ctx, e) -> Markup:
    """One timeline entry's HTML, rendered once per content (core/fragments.py): a long timeline
    is mostly entries nobody changed since the last view."""
    actor = current_actor()
    case, alert_route = ctx["case"], ctx.get("alert_route")
    key = (ENTRY, timeline.entry_key(e), case.public_id, alert_route, str(actor.zone), actor.can("case:write"))
    # render_template escapes everything the entry shows; its output is the markup itself.
    return fragments().render(key, lambda: Markup(render_template(  # noqa: S704
        ENTRY, e=e, case=case, alert_route=alert_route, category_labels=ctx["category_labels"])))

LIST, RESULTS, ROWS = "soc/cases/list.html", "soc/cases/_results.html", "soc/cases/_rows.html"
DETAIL = "soc/cases/detail.html"
TIMELINE, ENTRY, ENTRY_FORM = "soc/cases/_timeline.html", "soc/cases/_timeline_entry.html", \
    "soc/cases/_timeline_entry_form.html"
EVENT_FORM, COMMENT_FORM, TASK_ROW = "soc/cases/_event_form.html", "soc/cases/_comment_form.html", \
    "soc/cases/_task_row.html"
TIMELINE_PAGE, TASK_FORM = "soc/cases/_timeline_page.html", "soc/cases/_task_form.html"
ALERTS_PANEL, LINK_RESULTS = "soc/cases/_alerts_panel.html", "soc/cases/_alert_link_results.html"
PAGE_SIZE = 50
KIND_LABELS = {TimelineKind.EVENT: "Events", TimelineKind.COMMENT: "Comments",
               TimelineKind.STATUS_CHANGE: "Status", TimelineKind.ASSIGNMENT: "Assignment",
               TimelineKind.ALERT_LINK: "Alerts", TimelineKind.ATTACHMENT: "Evidence",
               TimelineKind.TASK_DONE: "Tasks", TimelineKind.SLA_BREACH: "SLA"}


def _errors(exc: DomainError) -> dict[str, list[str]]:
    return getattr(exc, "field_errors", None) or {"_": [exc.message]}


def _form_errors(form) -> dict[str, list[str]]:
    return {name: list(msgs) for name, msgs in form.errors.items()}


def _case_url(case: Case, anchor: str | None = None) -> str:
    return url_for("cases.case_detail", case_id=case.public_id, _anchor=anchor)


# --- list ----------------------------------------------------------------------------------


@bp.get("")
@require("case:read")
def case_list():
    actor = current_actor()
    filters = queries.CaseListFilter.from_args(request.args)
    try:
        stmt = queries.case_list_statement(filters, me=actor.user)
        rows, next_cursor = paginate(stmt, Case.id, limit=PAGE_SIZE, cursor=request.args.get("cursor"))
        error, status = None, 200
    except ValidationFailed as exc:
        rows, next_cursor, error, status = [], None, exc.message, exc.status
    args = request.args.to_dict(flat=False)
    args.pop("cursor", None)
    return render(LIST, ROWS if request.args.get("cursor") else RESULTS, status=status, cases=rows,
                  counts=queries.case_list_counts(rows), next_cursor=next_cursor, filters=filters, args=args,
                  error=error, tags=request.args.get("tag", ""), paged=bool(request.args.get("cursor")))


@bp.get("/new")
@require("case:write")
def case_new():
    form = CaseForm(meta={"csrf": False})
    form.assignee.choices = member_choices(queries.case_members())
    return render("soc/cases/new.html", form=form, error=None, field_errors={})


@bp.post("/new")
@require("case:write")
def case_new_post():
    form = CaseForm(meta={"csrf": False})
    members = queries.case_members()
    form.assignee.choices = member_choices(members)
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        case = services.create_case(
            actor=current_actor(), title=form.title.data, severity=form.severity.data,
            description=form.description.data or "", tags=split_list(form.tags.data),
            techniques=split_list(form.techniques.data), template=form.template.data or None,
            assignee=services.member_user(form.assignee.data) if form.assignee.data else None)
    except ValidationFailed as exc:
        return render("soc/cases/new.html", status=422, form=form, error="Check the fields marked below.",
                      field_errors=exc.field_errors)
    return respond_changed(f"{case.reference} opened.", redirect_to=_case_url(case))


# --- one case ------------------------------------------------------------------------------


def _timeline_args() -> tuple[list[TimelineKind], str]:
    # request.values: a form posted with HTMX includes the timeline toolbar, so the refreshed
    # timeline keeps the kinds and order the analyst chose.
    try:
        kinds = timeline.timeline_kinds(request.values.getlist("kind"))
    except ValidationFailed:
        kinds = []
    order = request.values.get("order", "occurred")
    return kinds, order if order in ("occurred", "recorded") else "occurred"


def _timeline_ctx(case: Case) -> dict:
    """One page of the timeline (from ?cursor=), and how many entries it is not showing."""
    kinds, order = _timeline_args()
    cursor = request.args.get("cursor") or None
    shown = request.args.get("shown", "0")
    try:
        entries, next_cursor = queries.timeline_page(case, kinds=kinds, order=order, cursor=cursor)
    except ValidationFailed:  # a mangled cursor in a shared link: start from the beginning
        cursor, entries, next_cursor = None, *queries.timeline_page(case, kinds=kinds, order=order)
    shown = int(shown) if shown.isdigit() and cursor else 0
    total = queries.timeline_count(case, kinds=kinds)
    return {"entries": entries, "next_cursor": next_cursor, "timeline_total": total, "shown": shown,
            "remaining": max(0, total - shown - len(entries)), "page_size": queries.TIMELINE_PAGE,
            "timeline_cursor": cursor, "kinds": [k.value for k in kinds], "order": order}


def _with_trigger(response, name: str, detail: dict):
    """Add an HX-Trigger event with details to a respond_changed() answer (HTMX only)."""
    if "HX-Trigger" in response.headers:
        triggers = json.loads(response.headers["HX-Trigger"])
        triggers[name] = detail
        response.headers["HX-Trigger"] = json.dumps(triggers)
    return response


def _detail_ctx(case: Case, **overrides) -> dict:
    """Everything the case page shows; forms and errors can be replaced by a refused POST."""
    actor = current_actor()
    members = queries.case_members()
    task_form = TaskForm(meta={"csrf": False}, formdata=None)
    task_form.assignee.choices = member_choices(members)
    ctx = {
        "case": case, "description_html": render_markdown(case.description),
        **_timeline_ctx(case), "kind_labels": KIND_LABELS,
        "category_labels": CATEGORY_LABELS, "editing": None, "entry_form": None, "entry_errors": {},
        "transitions": workflow.allowed_transitions(case.status),
        "alerts": services.linked_alerts(case), "attachments": queries.case_attachments(case),
        "alert_route": "soc.alert_detail" if "soc.alert_detail" in current_app.view_functions else None,
        "event_form": _blank_event_form(), "comment_form": CommentForm(meta={"csrf": False}, formdata=None,
                                                                      prefix="comment"),
        "task_form": task_form, "attachment_form": AttachmentForm(meta={"csrf": False}, formdata=None),
        "event_errors": {}, "comment_errors": {}, "task_errors": {}, "attachment_errors": {},
        "new_entry": None, "zone": actor.zone, "members": members, "task_edit_errors": {},
        "link_query": "", "candidates": [], "alerts_error": None, "task_edit": None, "editing_task": None,
    }
    ctx.update(overrides)
    return ctx


def _blank_event_form() -> EventForm:
    return EventForm(meta={"csrf": False}, formdata=None, prefix="event")


@bp.get("/<case_id>")
@require("case:read")
def case_detail(case_id: str):
    case = queries.load_case_detail(case_id)
    return render(DETAIL, TIMELINE, **_detail_ctx(case))


@bp.get("/<case_id>/timeline")
@require("case:read")
def case_timeline(case_id: str):
    """The timeline alone (filters, ordering), or one manual entry as an edit form (?edit=)."""
    case = queries.load_case_detail(case_id)
    if request.args.get("edit"):
        entry = queries.entry_of_case(case, request.args["edit"])
        form = _entry_form(entry)
        return render(DETAIL, ENTRY_FORM, **_detail_ctx(case, editing=entry.public_id, e=entry, entry_form=form))
    if request.args.get("entry"):
        entry = queries.entry_of_case(case, request.args["entry"])
        return render(DETAIL, ENTRY, **_detail_ctx(case, e=entry))
    if request.args.get("cursor"):  # "Load more": the next entries and the next "Load more"
        return render(DETAIL, TIMELINE_PAGE, **_detail_ctx(case))
    return render(DETAIL, TIMELINE, **_detail_ctx(case))


def _timeline_export(case_id: str, suffix: str, mimetype: str, body_of):
    case = get_or_404(Case, case_id)
    _kinds, order = _timeline_args()
    response = make_response(body_of(case, order=order))
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{case.reference}-timeline.{suffix}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<case_id>/timeline.csv")
@require("case:read")
def timeline_csv(case_id: str):
    return _timeline_export(case_id, "csv", "text/csv; charset=utf-8", timeline.export_csv)


@bp.get("/<case_id>/timeline.json")
@require("case:read")
def timeline_json(case_id: str):
    return _timeline_export(case_id, "json", "application/json", timeline.export_json)


# --- edit ----------------------------------------------------------------------------------


def _edit_form(case: Case, members) -> CaseEditForm:
    form = CaseEditForm(meta={"csrf": False}, data={
        "title": case.title, "severity": case.severity.value, "description": case.description,
        "assignee": case.assignee.public_id if case.assignee else "", "tags": ", ".join(case.tags),
        "techniques": ", ".join(case.techniques), "watchers": [u.public_id for u in case.watchers]})
    form.assignee.choices = member_choices(members)
    form.watchers.choices = [(u.public_id, u.name or u.email) for u in members]
    return form


@bp.get("/<case_id>/edit")
@require("case:write")
def case_edit(case_id: str):
    case = queries.load_case_detail(case_id)
    return render("soc/cases/edit.html", case=case, form=_edit_form(case, queries.case_members()), error=None,
                  field_errors={})


@bp.post("/<case_id>/edit")
@require("case:write")
def case_edit_post(case_id: str):
    case = queries.load_case_detail(case_id)
    members = queries.case_members()
    form = _edit_form(case, members)
    form.process(request.form)
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        by_id = {u.public_id: u for u in members}
        services.edit_case(case, actor=current_actor(), title=form.title.data, description=form.description.data,
                           severity=form.severity.data, tags=split_list(form.tags.data),
                           techniques=split_list(form.techniques.data), change_assignee=True,
                           assignee=services.member_user(form.assignee.data) if form.assignee.data else None,
                           watchers=[services.member_user(w, field="watchers") if w not in by_id else by_id[w]
                                     for w in form.watchers.data or []])
    except ValidationFailed as exc:
        return render("soc/cases/edit.html", status=422, case=case, form=form,
                      error="Check the fields marked below.", field_errors=exc.field_errors)
    return respond_changed(f"{case.reference} saved.", redirect_to=_case_url(case))


# --- workflow ------------------------------------------------------------------------------


@bp.get("/<case_id>/close")
@require("case:write")
def case_close(case_id: str):
    case = get_or_404(Case, case_id)
    return render("soc/cases/close.html", case=case, form=TransitionForm(meta={"csrf": False}, formdata=None),
                  error=None, field_errors={}, open_alerts=_open_alerts(case))


def _open_alerts(case) -> list:
    return [a for a in services.linked_alerts(case) if a.status.value != "closed"]


@bp.post("/<case_id>/status")
@require("case:write")
def case_status_post(case_id: str):
    case = queries.load_case_detail(case_id)
    form = TransitionForm(meta={"csrf": False})
    try:
        services.transition_case(case, form.to.data or "", actor=current_actor(), resolution=form.resolution.data,
                                 alert_close_reason=form.alert_close_reason.data)
    except ValidationFailed as exc:
        if {"resolution", "alert_close_reason"} & set(exc.field_errors):
            return render("soc/cases/close.html", status=422, case=case, form=form, error=exc.message,
                          field_errors=exc.field_errors, open_alerts=_open_alerts(case))
        return respond_refused(exc, DETAIL, **_detail_ctx(case))
    except Conflict as exc:
        return respond_refused(exc, DETAIL, **_detail_ctx(case))
    return respond_changed(f"{case.reference} is now {case.status.value}.", redirect_to=_case_url(case))


# --- timeline: events and comments --------------------------------------------------------


@bp.post("/<case_id>/events")
@require("case:write")
def event_add_post(case_id: str):
    case = get_or_404(Case, case_id)
    actor = current_actor()
    form = EventForm(meta={"csrf": False}, prefix="event")
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        entry = timeline.add_event(case, actor=actor, occurred_at=in_zone(form.occurred_at.data, actor.zone),
                                   body=form.body.data, category=form.category.data, asset=form.asset.data)
    except ValidationFailed as exc:
        return render(DETAIL, EVENT_FORM, status=422, **_detail_ctx(
            queries.load_case_detail(case_id), event_form=form, event_errors=exc.field_errors))
    anchor = f"timeline-entry-{entry.public_id}"
    return _with_trigger(respond_changed(
        "Event added to the timeline.", redirect_to=_case_url(case, anchor), fragment=EVENT_FORM,
        event="case-updated", case=case, event_form=_blank_event_form(), event_errors={}, zone=actor.zone),
        "timeline-updated", {"entry": entry.public_id})


@bp.post("/<case_id>/comments")
@require("case:write")
def comment_add_post(case_id: str):
    case = get_or_404(Case, case_id)
    form = CommentForm(meta={"csrf": False}, prefix="comment")
    try:
        entry = timeline.add_comment(case, actor=current_actor(), body=form.body.data)
    except ValidationFailed as exc:
        return render(DETAIL, COMMENT_FORM, status=422, **_detail_ctx(
            queries.load_case_detail(case_id), comment_form=form, comment_errors=exc.field_errors))
    return _with_trigger(respond_changed(
        "Comment added.", redirect_to=_case_url(case, f"timeline-entry-{entry.public_id}"), fragment=COMMENT_FORM,
        event="case-updated", case=case, comment_errors={},
        comment_form=CommentForm(meta={"csrf": False}, formdata=None, prefix="comment")),
        "timeline-updated", {"entry": entry.public_id})


def _entry_form(entry, formdata=None) -> EventForm:
    zone = current_actor().zone
    form = EventForm(meta={"csrf": False}, prefix="edit", formdata=formdata, data={
        "body": entry.body, "asset": entry.asset,
        "category": entry.category.value if entry.category else "other"})
    if formdata is None:
        form.occurred_at.raw_data = [local_input(entry.occurred_at, zone)]
    return form


@bp.post("/<case_id>/timeline/<entry_id>")
@require("case:write")
def entry_edit_post(case_id: str, entry_id: str):
    case = queries.load_case_detail(case_id)
    entry = queries.entry_of_case(case, entry_id)
    actor = current_actor()
    form = _entry_form(entry, formdata=request.form)
    is_event = entry.kind is TimelineKind.EVENT
    try:
        if not form.validate():
            raise ValidationFailed(_form_errors(form))
        timeline.edit_entry(entry, actor=actor, body=form.body.data,
                            occurred_at=in_zone(form.occurred_at.data, actor.zone) if is_event else None,
                            category=form.category.data if is_event else None,
                            asset=form.asset.data if is_event else None)
    except (ValidationFailed, Conflict) as exc:
        return render(DETAIL, ENTRY_FORM, status=exc.status, **_detail_ctx(
            case, editing=entry.public_id, e=entry, entry_form=form, entry_errors=_errors(exc)))
    return respond_changed("Timeline entry saved.", redirect_to=_case_url(case, f"timeline-entry-{entry.public_id}"),
                           fragment=ENTRY, event="case-updated", case=case, e=entry,
                           category_labels=CATEGORY_LABELS, zone=actor.zone)


# --- merge ---------------------------------------------------------------------------------


def _merge_page(case: Case, form: MergeForm, *, status: int = 200, error: str | None = None,
                field_errors: dict | None = None):
    return render("soc/cases/merge.html", status=status, case=case, form=form, error=error,
                  field_errors=field_errors or {})


@bp.get("/<case_id>/merge")
@require("case:write")
def case_merge(case_id: str):
    return _merge_page(get_or_404(Case, case_id), MergeForm(meta={"csrf": False}, formdata=None))


@bp.post("/<case_id>/merge")
@require("case:write")
def case_merge_post(case_id: str):
    case = get_or_404(Case, case_id)
    form = MergeForm(meta={"csrf": False})
    try:
        number = (form.into.data or "").strip().upper().removeprefix("CASE-")
        survivor = queries.case_by_number(int(number)) if number.isdigit() else None
        if survivor is None:
            raise ValidationFailed({"into": [f"There is no case {form.into.data or ''!r}; give its number, "
                                             "like CASE-42."]})
        services.merge_cases(case, survivor, actor=current_actor())
    except (ValidationFailed, Conflict) as exc:
        return _merge_page(case, form, status=exc.status, error=exc.message,
                           field_errors=getattr(exc, "field_errors", {}))
    return respond_changed(f"{case.reference} was merged into {survivor.reference}.", redirect_to=_case_url(survivor))


# The side cards' routes (tasks, linked alerts, evidence) live in their own module on this blueprint.
from app.soc.cases import side_views as _side_views  # noqa: E402, F401
