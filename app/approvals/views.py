"""Approval pages: the inbox (three tabs, HTMX decisions in place), a request's page, decisions with step-up."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, session, url_for

from app.approvals import jobs, notifications, queries, services
from app.approvals.models import ApprovalRequest, Outcome
from app.approvals.services import StepUpAnswer, StepUpRequired
from app.approvals.subjects import KINDS
from app.core.actors import current_actor
from app.core.errors import DomainError, NotFound
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import is_fragment_request, render, respond_changed, respond_refused
from app.identity import stepup

bp = Blueprint("approvals", __name__)

INBOX, TAB_LIST, ROW = "approvals/inbox.html", "approvals/_inbox_list.html", "approvals/_inbox_row.html"
DETAIL, VERIFICATION = "approvals/detail.html", "approvals/_verification.html"
STEPUP, STEPUP_FRAGMENT = "approvals/decide_stepup.html", "approvals/_decide_stepup.html"
NOTICES, NOTICE = "approvals/notifications.html", "approvals/_notification.html"
CHALLENGE_KEY = "approval_stepup"
DONE = {Outcome.APPROVE: "Approved", Outcome.REJECT: "Rejected"}


@bp.app_context_processor
def _bell():
    # A callable, so the count is only queried by pages that draw the top bar.
    def unread() -> int:
        actor = current_actor()
        return notifications.unread_count(actor.user) if actor and actor.user else 0

    def subject_label(kind: str) -> str:
        return KINDS[kind].label if kind in KINDS else kind

    return {"unread_notifications": unread, "subject_label": subject_label}


def _version() -> int | None:
    raw = (request.form.get("version") or "").strip()
    return int(raw) if raw.isdigit() else None


# --- the inbox ---------------------------------------------------------------------------------


@bp.get("/approvals")
@require("approval:read")
def inbox():
    actor = current_actor()
    tab = request.args.get("tab", "waiting")
    if tab not in queries.TABS:
        tab = "waiting"
    rows = queries.tab_rows(tab, actor.user)
    counts = {"waiting": len(queries.waiting_for(actor.user))}
    return render(INBOX, TAB_LIST, tab=tab, tabs=queries.TABS, rows=rows, counts=counts)


@bp.get("/approvals/<request_id>")
@require("approval:read")
def detail(request_id: str):
    return render(DETAIL, **_detail_ctx(get_or_404(ApprovalRequest, request_id)))


def _detail_ctx(req: ApprovalRequest, **extra) -> dict:
    actor = current_actor()
    step = req.current_step
    ctx = {"req": req, "can_decide": bool(step and actor.user and step.can_decide(actor.user.id)
                                          and actor.can("approval:decide")),
           "can_cancel": req.is_open and actor.user is not None
           and (actor.user.id == req.requested_by_id or actor.role == "admin"),
           "results": None, "error": None, "comment": "", "people": queries.people_of(req)}
    return ctx | extra


# --- deciding ----------------------------------------------------------------------------------


@bp.post("/approvals/<request_id>/approve")
@require("approval:decide")
def approve(request_id: str):
    return _decide(request_id, Outcome.APPROVE)


@bp.post("/approvals/<request_id>/reject")
@require("approval:decide")
def reject(request_id: str):
    return _decide(request_id, Outcome.REJECT)


def _decide(request_id: str, outcome: Outcome):
    actor = current_actor()
    req = get_or_404(ApprovalRequest, request_id)
    form, in_row = request.form, request.form.get("from") == "inbox"
    assertion = form.get(stepup.ASSERTION_FIELD) or None
    answer = StepUpAnswer(assertion=assertion, code=form.get(stepup.CODE_FIELD) or None,
                          challenge_hash=session.pop(CHALLENGE_KEY, None) if assertion else None)
    try:
        services.decide(req, actor=actor, outcome=outcome, comment=form.get("comment"), version=_version(),
                        step_up=answer)
    except StepUpRequired as exc:
        return _stepup_page(req, outcome, status=exc.status)
    except DomainError as exc:
        if (answer.assertion or answer.code) and exc.status == 401:
            return _stepup_page(req, outcome, error=exc.message, status=exc.status)
        return _refused(req, exc, in_row)
    return respond_changed(f"{DONE[outcome]}: {req.title}.", redirect_to=url_for("approvals.detail",
                           request_id=req.public_id), fragment=ROW if in_row else None, r=req, mine=True,
                           event="approval-decided")


def _refused(req: ApprovalRequest, exc: DomainError, in_row: bool):
    ctx = _detail_ctx(req, comment=request.form.get("comment", ""))
    if in_row and is_fragment_request():
        return respond_refused(exc, INBOX, ROW, r=req, mine=False, row_comment=ctx["comment"],
                               tab="waiting", tabs=queries.TABS, rows=[], counts={})
    return respond_refused(exc, DETAIL, **_without_error(ctx))


def _without_error(ctx: dict) -> dict:
    # respond_refused passes the error message itself.
    return {k: v for k, v in ctx.items() if k != "error"}


def _stepup_page(req: ApprovalRequest, outcome: Outcome, *, error: str | None = None, status: int = 401):
    actor = current_actor()
    ctx = {"req": req, "outcome": outcome.value, "method": stepup.method_for(actor.user), "error": error,
           "comment": request.form.get("comment", ""), "version": request.form.get("version", ""),
           "back": url_for("approvals.detail", request_id=req.public_id)}
    if is_fragment_request():
        response = render(STEPUP, STEPUP_FRAGMENT, **ctx)
        response.headers["HX-Retarget"], response.headers["HX-Reswap"] = "#main", "innerHTML"
        return response
    return render(STEPUP, status=status, **ctx)


@bp.post("/approvals/<request_id>/step-up/<outcome>/options")
@require("approval:decide")
def stepup_options(request_id: str, outcome: str):
    """Passkey options whose challenge commits to this decision (JSON for static/js/passkeys.js)."""
    req = get_or_404(ApprovalRequest, request_id)
    if outcome not in {o.value for o in Outcome}:
        raise NotFound("No such decision.")
    body = request.get_json(silent=True) or {}
    version = str(body.get("version") or request.args.get("version") or "")
    try:
        options, digest = services.step_up_options(req, actor=current_actor(), outcome=outcome,
                                                   version=int(version) if version.isdigit() else -1)
    except DomainError as exc:
        return jsonify(error=exc.message), exc.status
    session[CHALLENGE_KEY] = digest
    return Response(options, mimetype="application/json")


@bp.post("/approvals/<request_id>/cancel")
@require("approval:read")
def cancel(request_id: str):
    req = get_or_404(ApprovalRequest, request_id)
    try:
        services.cancel(req, actor=current_actor(), reason=request.form.get("reason", ""), version=_version())
    except DomainError as exc:
        return respond_refused(exc, DETAIL, **_without_error(_detail_ctx(req)))
    return respond_changed(f"Cancelled: {req.title}.", redirect_to=url_for("approvals.detail",
                                                                           request_id=req.public_id))


@bp.post("/approvals/<request_id>/verify")
@require("approval:read")
def verify(request_id: str):
    req = get_or_404(ApprovalRequest, request_id)
    results = services.verify_decisions(req, actor=current_actor())
    return render(DETAIL, VERIFICATION, **_detail_ctx(req, results=results))


# --- notifications -------------------------------------------------------------------------------


@bp.get("/notifications")
@require("dashboard:view")
def notification_list():
    return render(NOTICES, notices=notifications.list_for(current_actor().user))


@bp.post("/notifications/<notice_id>/read")
@require("dashboard:view")
def notification_read(notice_id: str):
    actor = current_actor()
    notice = notifications.mark_read(notifications.own_notification(actor.user, notice_id), actor=actor)
    return respond_changed("Marked as read.", redirect_to=url_for("approvals.notification_list"),
                           fragment=NOTICE, n=notice)


@bp.post("/notifications/read-all")
@require("dashboard:view")
def notification_read_all():
    actor = current_actor()
    count = notifications.mark_all_read(actor=actor)
    return respond_changed(f"Marked {count} notification{'s' if count != 1 else ''} as read.",
                           redirect_to=url_for("approvals.notification_list"))


# --- the periodic expiry and its command -----------------------------------------------------------


@bp.record_once
def _schedule_expiry(state) -> None:
    jobs.schedule(state.app.extensions["huey"], state.app)


@bp.cli.command("expire")
def expire_command() -> None:
    """Expire approval requests whose step deadline has passed (the job does this every 5 minutes)."""
    import click

    click.echo(f"Expired {jobs.expire_overdue_everywhere()} overdue approval request(s).")
