"""The alert queue and alert detail pages: filters, sorting, cursor paging, bulk and single triage."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, request, url_for
from werkzeug.datastructures import MultiDict

from app.core.actors import current_actor
from app.core.db import atomic, utcnow
from app.core.errors import Conflict, DomainError, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import is_fragment_request, render, respond_changed, respond_refused
from app.soc import queries, services
from app.soc.forms import (
    CLOSE_REASON_CHOICES,
    CLOSE_REASON_LABELS,
    SEVERITY_LABELS,
    SORT_LABELS,
    STATUS_LABELS,
    WINDOWS,
    CaseFromAlertsForm,
    case_number,
    selected_alert_ids,
    window_start,
)
from app.soc.models import Alert
from app.soc.queue_rows import render_alert_rows

bp = Blueprint("soc", __name__, url_prefix="/soc")

QUEUE = "soc/alerts.html"
RESULTS = "soc/_alert_results.html"
ROWS = "soc/_alert_rows.html"
NEW_ALERTS = "soc/_new_alerts.html"
DETAIL = "soc/alert_detail.html"
PANEL = "soc/_alert_panel.html"
CASE_STEP = "soc/case_from_alerts.html"
FILTER_FIELDS = ("status", "severity", "source", "assignee", "window", "since", "until", "q")


@bp.app_context_processor
def _labels():
    return {"status_labels": STATUS_LABELS, "severity_labels": SEVERITY_LABELS,
            "close_reason_labels": CLOSE_REASON_LABELS, "render_alert_rows": render_alert_rows}


# --- the queue -----------------------------------------------------------------------------


def _queue_context(args: MultiDict, *, selected=()) -> tuple[dict, int]:
    """Parse the filter and load one page; a bad filter is a 422 with the messages by field."""
    actor = current_actor()
    raw = {name: [v for v in args.getlist(name) if v] for name in ("status", "severity")}
    raw |= {name: (args.get(name) or "").strip() for name in FILTER_FIELDS if name not in raw}
    sort = args.get("sort") or "last_seen"
    ctx = {"rows": [], "observables": {}, "next_cursor": None, "errors": {}, "raw": raw, "sort": sort,
           "cursor": args.get("cursor") or None, "args": {}, "members": queries.assignable_members(),
           "sources": queries.alert_sources(), "latest": queries.latest_alert_number(),
           "selected": set(selected), "bulk_errors": {}, "windows": WINDOWS, "sort_labels": SORT_LABELS,
           "close_reasons": CLOSE_REASON_CHOICES, "new_count": 0, "query_string": ""}
    try:
        flt, since = _parse_filter(args, raw["window"])
        ctx["args"] = {**flt.args(), **({"window": raw["window"]} if since else {})}
        if since and (flt.since is None or since > flt.since):
            flt = replace(flt, since=since)
        rows, ctx["next_cursor"] = queries.alert_queue_rows(flt, actor, cursor=ctx["cursor"], sort=sort)
    except ValidationFailed as exc:
        ctx["errors"] = exc.field_errors
        return ctx, 422
    if sort != "last_seen":
        ctx["args"]["sort"] = sort
    ctx["rows"], ctx["observables"] = rows, queries.observables_by_alert([r.id for r in rows])
    ctx["query_string"] = urlencode(ctx["args"], doseq=True)
    return ctx, 200


def _parse_filter(args, window: str):
    """The filter and the window's start; every bad field is reported at once."""
    errors: dict[str, list[str]] = {}
    flt = since = None
    for parse in (lambda: queries.AlertQueueFilter.from_args(args), lambda: window_start(window, utcnow())):
        try:
            value = parse()
        except ValidationFailed as exc:
            errors |= exc.field_errors
            continue
        flt, since = (value, since) if isinstance(value, queries.AlertQueueFilter) else (flt, value)
    if errors:
        raise ValidationFailed(errors)
    return flt, since


@bp.get("/alerts")
@require("alert:read")
def alerts():
    ctx, status = _queue_context(request.args)
    return render(QUEUE, RESULTS, status=status, **ctx)


@bp.get("/alerts/rows")
@require("alert:read")
def alert_rows():
    """The next page of rows, appended by "Load more"; opened directly, the queue at that cursor."""
    ctx, status = _queue_context(request.args)
    return render(QUEUE, ROWS, status=status, **ctx)


@bp.get("/alerts/new-count")
@require("alert:read")
def alerts_new_count():
    """The poll behind "N new alerts": one indexed count answered at once, so no worker waits per tab."""
    if not is_fragment_request():
        return alerts()  # opened directly: the queue itself
    try:
        flt = queries.AlertQueueFilter.from_args(request.args)
        after = int(request.args.get("after") or 0)
    except (ValidationFailed, ValueError):
        flt, after = None, 0
    args = {**flt.args(), **{k: request.args[k] for k in ("window", "sort") if request.args.get(k)}} if flt else {}
    count = queries.count_newer(flt, current_actor(), after) if flt and after else 0
    return render(QUEUE, NEW_ALERTS, new_count=count, latest=after, args=args)


# --- bulk actions --------------------------------------------------------------------------


def _back_args() -> MultiDict:
    # The queue's filter travels in a hidden field as a query string: only the filter is read
    # from it, and the redirect always goes to the queue, so it cannot point anywhere else.
    pairs = parse_qsl(request.form.get("next") or "", keep_blank_values=False)
    return MultiDict([(k, v) for k, v in pairs if k in (*FILTER_FIELDS, "sort")])


def _queue_url(args: MultiDict) -> str:
    query = urlencode(list(args.items(multi=True)))
    return url_for("soc.alerts") + (f"?{query}" if query else "")


def _bulk(change, done: str):
    """Apply one bulk service to the ticked rows; answer with the refreshed queue."""
    back = _back_args()
    try:
        alerts = queries.alerts_by_public_ids(selected_alert_ids(request.form))
        changed = change(alerts, current_actor())
    except (ValidationFailed, Conflict) as exc:
        ctx, _status = _queue_context(back, selected=request.form.getlist("alert_id"))
        ctx["bulk_errors"] = getattr(exc, "field_errors", {"_": [exc.message]})
        return respond_refused(exc, QUEUE, RESULTS, **ctx)
    skipped = len(alerts) - len(changed)
    message = f"{len(changed)} alert{'' if len(changed) == 1 else 's'} {done}." + (
        f" {skipped} already were or could not be." if skipped else "")
    ctx, _status = _queue_context(back)
    return respond_changed(message, redirect_to=_queue_url(back), fragment=RESULTS, event="alerts-updated", **ctx)


def _assignee_from_form():
    actor = current_actor()
    choice = "me" if request.form.get("assign_to_me") else (request.form.get("assignee") or "").strip()
    if choice == "unassigned":
        return None
    if choice == "me" and actor.user is not None:
        choice = actor.user.public_id
    member = queries.member_by_user_id(choice) if choice and choice != "me" else None
    if member is None:
        raise ValidationFailed({"assignee": ["Choose who to assign, or “Unassigned”."]})
    return member


@bp.post("/alerts/bulk/acknowledge")
@require("alert:write")
def bulk_acknowledge_post():
    return _bulk(lambda alerts, actor: services.bulk_acknowledge(alerts, actor=actor), "acknowledged")


@bp.post("/alerts/bulk/assign")
@require("alert:write")
def bulk_assign_post():
    def change(alerts, actor):
        return services.bulk_assign(alerts, _assignee_from_form(), actor=actor)

    return _bulk(change, "assigned")


@bp.post("/alerts/bulk/close")
@require("alert:write")
def bulk_close_post():
    reason = request.form.get("close_reason") or None
    return _bulk(lambda alerts, actor: services.bulk_close(alerts, reason, actor=actor), "closed")


@bp.post("/alerts/bulk/case")
@require("case:write")
def bulk_case_post():
    """Step one shows the case form for the ticked rows; step two opens the case and links them."""
    back = _back_args()
    form = CaseFromAlertsForm()
    try:
        alerts = queries.alerts_by_public_ids(selected_alert_ids(request.form))
        if not alerts:
            raise ValidationFailed({"alert_id": ["None of the selected alerts exist any more."]})
        if not request.form.get("confirm"):
            worst = max(alerts, key=lambda a: a.severity_rank)
            form.title.data = alerts[0].title if len(alerts) == 1 else f"{worst.title} (+{len(alerts) - 1} alerts)"
            form.severity.data = worst.severity.value
            return render(CASE_STEP, alerts=alerts, form=form, next=urlencode(list(back.items(multi=True))),
                          error=None, field_errors={})
        case = _open_case_with(alerts, form.title.data, form.severity.data, actor=current_actor(),
                               template=form.template.data or None)
    except (ValidationFailed, Conflict) as exc:
        if request.form.get("confirm"):
            return render(CASE_STEP, status=exc.status, alerts=alerts, form=form, error=exc.message,
                          next=urlencode(list(back.items(multi=True))),
                          field_errors=getattr(exc, "field_errors", {}))
        ctx, _status = _queue_context(back, selected=request.form.getlist("alert_id"))
        ctx["bulk_errors"] = getattr(exc, "field_errors", {"_": [exc.message]})
        return respond_refused(exc, QUEUE, RESULTS, **ctx)
    # On to the case: the next thing an analyst does is work it.
    return respond_changed(f"{case.reference} opened with {len(alerts)} alert{'' if len(alerts) == 1 else 's'}.",
                           redirect_to=url_for("cases.case_detail", case_id=case.public_id))


@atomic
def _open_case_with(alerts: list[Alert], title: str | None, severity: str | None, *, actor,
                    template: str | None = None):
    # One transaction: a case is not left behind when an alert turns out to belong to another case.
    from app.soc.cases.services import create_case, link_alerts

    case = create_case(actor=actor, title=title or "", severity=severity, template=template)
    link_alerts(case, [a.public_id for a in alerts], actor=actor)
    return case


@bp.post("/alerts/bulk/add-to-case")
@require("case:write")
def bulk_add_to_case_post():
    from app.soc.cases.queries import case_by_number
    from app.soc.cases.services import link_alerts

    def change(alerts, actor):
        number = case_number(request.form.get("case"))
        case = case_by_number(number)
        if case is None:
            raise ValidationFailed({"case": [f"There is no CASE-{number}."]})
        return link_alerts(case, [a.public_id for a in alerts], actor=actor)

    return _bulk(change, "added to the case")


# --- one alert -----------------------------------------------------------------------------


def _panel_context(alert: Alert) -> dict:
    return {"alert": alert, "members": queries.assignable_members(), "close_reasons": CLOSE_REASON_CHOICES,
            "history": queries.alert_history(alert, current_actor().tenant), "case": queries.linked_case(alert),
            "field_errors": {}}


@bp.get("/alerts/<alert_id>")
@require("alert:read")
def alert_detail(alert_id: str):
    alert = get_or_404(Alert, alert_id)
    return render(DETAIL, **_detail_context(alert), error=None)


def _detail_context(alert: Alert) -> dict:
    observables = queries.observables_of(alert)
    related = {obs.id: queries.alerts_with_observable(obs.kind, obs.value, exclude=alert, limit=5)
               for obs in observables[:20]}
    raw_json = json.dumps(alert.raw_event, indent=2, ensure_ascii=False, sort_keys=True) if alert.raw_event else None
    return {**_panel_context(alert), "observables": observables, "related": related, "raw_json": raw_json}


def _changed(alert: Alert, message: str):
    return respond_changed(message, redirect_to=url_for("soc.alert_detail", alert_id=alert.public_id),
                           fragment=PANEL, event="alert-updated", error=None, **_panel_context(alert))


def _refused(alert: Alert, exc: DomainError):
    ctx = _detail_context(alert)
    ctx["field_errors"] = getattr(exc, "field_errors", {})
    return respond_refused(exc, DETAIL, PANEL, **ctx)


def _single(alert_id: str, change, message: str):
    alert = get_or_404(Alert, alert_id)
    try:
        change(alert, current_actor())
    except (ValidationFailed, Conflict) as exc:
        return _refused(alert, exc)
    return _changed(alert, message.format(ref=alert.reference))


@bp.post("/alerts/<alert_id>/acknowledge")
@require("alert:write")
def alert_acknowledge_post(alert_id: str):
    return _single(alert_id, lambda a, actor: services.acknowledge_alert(a, actor=actor), "{ref} acknowledged.")


@bp.post("/alerts/<alert_id>/start")
@require("alert:write")
def alert_start_post(alert_id: str):
    return _single(alert_id, lambda a, actor: services.start_alert(a, actor=actor), "{ref} is in progress.")


@bp.post("/alerts/<alert_id>/close")
@require("alert:write")
def alert_close_post(alert_id: str):
    reason = request.form.get("close_reason") or None
    return _single(alert_id, lambda a, actor: services.close_alert(a, reason, actor=actor), "{ref} closed.")


@bp.post("/alerts/<alert_id>/reopen")
@require("alert:write")
def alert_reopen_post(alert_id: str):
    return _single(alert_id, lambda a, actor: services.reopen_alert(a, actor=actor), "{ref} reopened.")


@bp.post("/alerts/<alert_id>/assign")
@require("alert:write")
def alert_assign_post(alert_id: str):
    def change(alert, actor):
        return services.assign_alert(alert, _assignee_from_form(), actor=actor)

    return _single(alert_id, change, "{ref} assigned.")

