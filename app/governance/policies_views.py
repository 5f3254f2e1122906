"""Policy pages: list, new policy, the policy (published text, versions, acknowledgements), versions, diff."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app.approvals import queries as approval_queries
from app.core.actors import current_actor
from app.core.errors import DomainError, NotFound
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.text import render_markdown
from app.core.ui import render, respond_changed, respond_refused
from app.governance import policies_services as services
from app.governance.policies_diff import line_diff
from app.governance.policies_models import Policy, PolicyVersion

bp = Blueprint("policies", __name__, url_prefix="/governance/policies")

LIST, NEW, DETAIL = "governance/policies/list.html", "governance/policies/new.html", "governance/policies/detail.html"
VERSION, VERSION_NEW = "governance/policies/version.html", "governance/policies/version_new.html"
DIFF, DIFF_TABLE, ACKS = "governance/policies/diff.html", "governance/policies/_diff.html", \
    "governance/policies/_acknowledgements.html"
CONTROLS, CONTROL_OPTIONS = "governance/policies/_controls.html", "governance/policies/_control_options.html"
STATUS_LABELS = {"draft": "Draft", "in_review": "In review", "published": "Published", "retired": "Retired"}
STATUS_KINDS = {"draft": "muted", "in_review": "warn", "published": "ok", "retired": "muted"}


@bp.context_processor
def _helpers():
    # Policy text goes through core.text (sanitised Markdown): the only HTML marked safe here.
    return {"markdown": render_markdown, "version_status_labels": STATUS_LABELS, "version_status_kinds": STATUS_KINDS}


def _errors(exc: DomainError) -> dict[str, list[str]]:
    return getattr(exc, "field_errors", None) or {"_": [exc.message]}


def _version(policy: Policy, number: int) -> PolicyVersion:
    version = policy.version_numbered(number)
    if version is None:
        raise NotFound("This policy has no such version.")
    return version


def _policy_url(policy: Policy) -> str:
    return url_for("policies.policy_detail", policy_id=policy.public_id)


def _version_url(version: PolicyVersion) -> str:
    return url_for("policies.version_detail", policy_id=version.policy.public_id, number=version.number)


# --- list and new --------------------------------------------------------------------------------


@bp.get("")
@require("policy:read")
def policy_list():
    return render(LIST, policies=services.list_policies(), ack_counts=services.acknowledged_counts(),
                  member_count=services.active_member_count())


@bp.get("/new")
@require("compliance:write")
def policy_new():
    return render(NEW, values={}, errors={})


@bp.post("/new")
@require("compliance:write")
def policy_new_post():
    form = request.form
    try:
        policy = services.create_policy(actor=current_actor(), title=form.get("title"), summary=form.get("summary"),
                                        body=form.get("body"), change_note=form.get("change_note", ""))
    except DomainError as exc:
        return render(NEW, status=exc.status, values=form, errors=_errors(exc))
    return respond_changed(f"Policy “{policy.title}” created as a draft.", redirect_to=_version_url(policy.versions[0]))


# --- the policy ----------------------------------------------------------------------------------


def _detail_ctx(policy: Policy, **extra) -> dict:
    done, waiting = services.acknowledgement_status(policy)
    actor = current_actor()
    mine = next((a for m, a in done if actor.user and m.user_id == actor.user.id), None)
    return {"policy": policy, "acked": done, "not_acked": waiting, "my_ack": mine, "errors": {},
            "linkable": services.linkable_controls(policy), "control_error": None} | extra


@bp.get("/<policy_id>")
@require("policy:read")
def policy_detail(policy_id: str):
    return render(DETAIL, **_detail_ctx(get_or_404(Policy, policy_id)))


@bp.post("/<policy_id>/acknowledge")
@require("policy:read")
def acknowledge(policy_id: str):
    policy = get_or_404(Policy, policy_id)
    try:
        services.acknowledge(policy, actor=current_actor())
    except DomainError as exc:
        return respond_refused(exc, DETAIL, ACKS, **_detail_ctx(policy))
    return respond_changed(f"You acknowledged “{policy.title}” version {policy.published.number}.",
                           redirect_to=_policy_url(policy), fragment=ACKS, **_detail_ctx(policy))


def _controls_ctx(policy: Policy, **extra) -> dict:
    return {"policy": policy, "linkable": services.linkable_controls(policy), "control_error": None} | extra


@bp.get("/<policy_id>/controls/options")
@require("compliance:write")
def control_options(policy_id: str):
    """The picker's choices narrowed by `?q=` (key or name), for HTMX as you type."""
    policy = get_or_404(Policy, policy_id)
    query = request.args.get("q", "").strip()[:100]
    return render(CONTROL_OPTIONS, linkable=services.linkable_controls(policy, query), q=query)


def _change_link(policy_id: str, control_ref: str | None, change, done: str):
    """Link or unlink one control: the card again (HTMX) or the page with a flash; the reason when refused."""
    policy = get_or_404(Policy, policy_id)
    try:
        control = services.find_control(control_ref)
        change(policy, control, actor=current_actor())
    except DomainError as exc:
        ctx = _detail_ctx(policy) | _controls_ctx(policy, control_error=exc.message)
        return respond_refused(exc, DETAIL, CONTROLS, **ctx)
    return respond_changed(f"{control.key} {done} “{policy.title}”.", redirect_to=_policy_url(policy),
                           fragment=CONTROLS, **_controls_ctx(policy))


@bp.post("/<policy_id>/controls")
@require("compliance:write")
def control_link_post(policy_id: str):
    return _change_link(policy_id, request.form.get("control"), services.link_control, "linked to")


@bp.post("/<policy_id>/controls/<control_id>/remove")
@require("compliance:write")
def control_unlink_post(policy_id: str, control_id: str):
    return _change_link(policy_id, control_id, services.unlink_control, "no longer linked to")


# --- versions -------------------------------------------------------------------------------------


@bp.get("/<policy_id>/versions/new")
@require("compliance:write")
def version_new(policy_id: str):
    policy = get_or_404(Policy, policy_id)
    return render(VERSION_NEW, policy=policy, values={"body": policy.latest.body if policy.latest else ""}, errors={})


@bp.post("/<policy_id>/versions/new")
@require("compliance:write")
def version_new_post(policy_id: str):
    policy = get_or_404(Policy, policy_id)
    try:
        version = services.create_version(policy, actor=current_actor(), body=request.form.get("body"),
                                          change_note=request.form.get("change_note", ""))
    except DomainError as exc:
        return render(VERSION_NEW, status=exc.status, policy=policy, values=request.form, errors=_errors(exc))
    return respond_changed(f"Version {version.number} started as a draft.", redirect_to=_version_url(version))


def _version_ctx(version: PolicyVersion, **extra) -> dict:
    return {"policy": version.policy, "version": version, "values": {}, "errors": {},
            "reviews": approval_queries.for_subject(services.SUBJECT_KIND, version.public_id)} | extra


@bp.get("/<policy_id>/versions/<int:number>")
@require("policy:read")
def version_detail(policy_id: str, number: int):
    return render(VERSION, **_version_ctx(_version(get_or_404(Policy, policy_id), number)))


@bp.post("/<policy_id>/versions/<int:number>")
@require("compliance:write")
def version_edit_post(policy_id: str, number: int):
    version = _version(get_or_404(Policy, policy_id), number)
    try:
        services.update_draft(version, actor=current_actor(), body=request.form.get("body"),
                              change_note=request.form.get("change_note", ""))
    except DomainError as exc:
        return render(VERSION, status=exc.status, **_version_ctx(version, values=request.form, errors=_errors(exc)))
    return respond_changed(f"Draft of version {version.number} saved.", redirect_to=_version_url(version))


@bp.post("/<policy_id>/versions/<int:number>/review")
@require("compliance:write")
def request_review(policy_id: str, number: int):
    version = _version(get_or_404(Policy, policy_id), number)
    form = request.form
    due_days = (form.get("due_days") or "7").strip()
    try:
        approval = services.request_review(version, actor=current_actor(), approver_role=form.get("approver_role",
                                           "admin"), rule=form.get("rule", "any"),
                                           due_hours=int(due_days) * 24 if due_days.isdigit() else -1,
                                           note=form.get("note", ""))
    except DomainError as exc:
        return render(VERSION, status=exc.status, **_version_ctx(version, errors=_errors(exc), review_values=form))
    return respond_changed(f"Version {version.number} sent for approval ({approval.reference}).",
                           redirect_to=_version_url(version))


# --- diff -----------------------------------------------------------------------------------------


@bp.get("/<policy_id>/diff")
@require("policy:read")
def diff(policy_id: str):
    policy = get_or_404(Policy, policy_id)
    numbers = [v.number for v in policy.versions]
    default_to = numbers[-1] if numbers else 0
    default_from = numbers[-2] if len(numbers) > 1 else default_to
    try:
        old_no = int(request.args.get("from", default_from))
        new_no = int(request.args.get("to", default_to))
        old, new = _version(policy, old_no), _version(policy, new_no)
    except (ValueError, NotFound):
        return render(DIFF, status=422, policy=policy, old=None, new=None, result=None,
                      error="Choose two versions of this policy to compare.")
    return render(DIFF, DIFF_TABLE, policy=policy, old=old, new=new, result=line_diff(old.body, new.body), error=None)
