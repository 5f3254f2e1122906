"""AI system pages: the inventory (filters in the URL), the system form, the system page, the EU AI Act
questionnaire (one step per page, HTMX swaps the step in place) and go-live."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from app.approvals import queries as approval_queries
from app.core.actors import current_actor
from app.core.errors import DomainError
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import is_fragment_request, render, respond_changed, respond_refused
from app.governance import ai_classification as questionnaire
from app.governance import ai_services as services
from app.governance.ai_models import AISystem, DeploymentStatus, RiskTier, SystemKind

bp = Blueprint("ai_systems", __name__, url_prefix="/governance/ai-systems")

PAGES = "governance/ai"
LIST, ROWS, FORM = f"{PAGES}/list.html", f"{PAGES}/_rows.html", f"{PAGES}/form.html"
DETAIL, CLASSIFY, STEP = f"{PAGES}/detail.html", f"{PAGES}/classify.html", f"{PAGES}/_questionnaire.html"
LIST_LIMIT = 200
FILTERS = ("tier", "status", "owner", "q")

TIER_LABELS = {RiskTier.PROHIBITED: "Prohibited", RiskTier.HIGH: "High-risk", RiskTier.TRANSPARENCY: "Transparency",
               RiskTier.GPAI: "GPAI", RiskTier.MINIMAL: "Minimal", RiskTier.UNCLASSIFIED: "Unclassified"}
STATUS_LABELS = {DeploymentStatus.PLANNED: "Planned", DeploymentStatus.IN_DEVELOPMENT: "In development",
                 DeploymentStatus.PILOT: "Pilot", DeploymentStatus.AWAITING_GO_LIVE: "Awaiting go-live approval",
                 DeploymentStatus.LIVE: "Live", DeploymentStatus.RETIRED: "Retired"}
ACTION_WORDS = {"ai_system.created": "Recorded", "ai_system.updated": "Details edited",
                "ai_system.status_changed": "Deployment status changed", "ai_system.classified": "Classified",
                "ai_classification.answers_saved": "Questionnaire answers saved",
                "ai_classification.draft_discarded": "Unfinished questionnaire discarded",
                "ai_system.go_live_requested": "Go-live requested", "ai_system.went_live": "Went live (approved)",
                "ai_system.go_live_ended": "Go-live request ended"}
KIND_LABELS = {SystemKind.SYSTEM: "AI system", SystemKind.MODEL: "Model", SystemKind.AGENT: "Agent"}


@bp.context_processor
def _helpers():
    return {"tier_labels": {k.value: v for k, v in TIER_LABELS.items()},
            "ai_status_labels": {k.value: v for k, v in STATUS_LABELS.items()},
            "ai_kind_labels": {k.value: v for k, v in KIND_LABELS.items()},
            "classification_label": services.classification_label, "action_words": ACTION_WORDS,
            "steps": questionnaire.STEPS,
            "annex_iii_areas": questionnaire.ANNEX_III_AREAS, "role_labels": questionnaire.ROLE_LABELS}


def _errors(exc: DomainError) -> dict[str, list[str]]:
    return getattr(exc, "field_errors", None) or {"_": [exc.message]}


def _system_url(system: AISystem) -> str:
    return url_for("ai_systems.system_detail", system_id=system.public_id)


# --- the inventory ---------------------------------------------------------------------------------


@bp.get("")
@require("compliance:read")
def system_list():
    args = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    ctx = {"args": args, "members": services.members(), "counts": services.tier_counts(), "error": None}
    try:
        systems = services.list_systems(limit=LIST_LIMIT, **args)
    except DomainError as exc:
        return render(LIST, ROWS, status=exc.status, systems=[], **ctx | {"error": exc.message})
    return render(LIST, ROWS, systems=systems, **ctx)


def _form_values(form) -> dict:
    # Every field is sent (an unticked box is absent from the form: absent means "no").
    return {name: form.get(name, "") for name in services.FIELDS}


def _form_ctx(system: AISystem | None, values, errors, **extra) -> dict:
    return {"system": system, "values": values, "errors": errors, "members": services.members(),
            "settable": services.SETTABLE_STATUSES, "kinds": list(SystemKind)} | extra


@bp.get("/new")
@require("compliance:write")
def system_new():
    return render(FORM, **_form_ctx(None, {"deployment_status": "planned", "kind": "system"}, {}))


@bp.post("/new")
@require("compliance:write")
def system_new_post():
    try:
        system = services.create_system(actor=current_actor(), **_form_values(request.form))
    except DomainError as exc:
        return render(FORM, status=exc.status, **_form_ctx(None, request.form, _errors(exc)))
    return respond_changed(f"AI system “{system.name}” recorded. Classify it under the EU AI Act next.",
                           redirect_to=url_for("ai_systems.classify", system_id=system.public_id))


def _edit_values(system: AISystem) -> dict:
    return {"name": system.name, "kind": system.kind.value, "purpose": system.purpose,
            "owner": system.owner.public_id if system.owner else "", "provider": system.provider,
            "models": ", ".join(system.models), "deployment_status": system.deployment_status.value,
            "data_categories": ", ".join(system.data_categories), "personal_data": system.personal_data,
            "special_category_data": system.special_category_data, "affected_users": system.affected_users,
            "human_oversight": system.human_oversight,
            "links": "\n".join(f"{link['label']} | {link['url']}" for link in system.links)}


@bp.get("/<system_id>/edit")
@require("compliance:write")
def system_edit(system_id: str):
    system = get_or_404(AISystem, system_id)
    return render(FORM, **_form_ctx(system, _edit_values(system), {}))


@bp.post("/<system_id>/edit")
@require("compliance:write")
def system_edit_post(system_id: str):
    system = get_or_404(AISystem, system_id)
    try:
        approval = services.update_system(system, actor=current_actor(), **_form_values(request.form))
    except DomainError as exc:
        return render(FORM, status=exc.status, **_form_ctx(system, request.form, _errors(exc)))
    message = (f"Saved. {system.name} is high-risk, so going live needs approval: {approval.reference} was sent "
               "to the approvers." if approval else f"{system.name} saved.")
    return respond_changed(message, redirect_to=_system_url(system))


# --- the system page -------------------------------------------------------------------------------


def _detail_ctx(system: AISystem, **extra) -> dict:
    current = services.current_classification(system)
    refs = [o["ref"] for o in current.obligations] if current else []
    return {"system": system, "current": current, "draft": services.draft_of(system),
            "history": services.classification_history(system), "requirement_ids": services.requirement_ids(refs),
            "go_live_requests": approval_queries.for_subject(services.SUBJECT_KIND, system.public_id),
            "audit_history": services.system_history(system, current_actor().tenant)} | extra


@bp.get("/<system_id>")
@require("compliance:read")
def system_detail(system_id: str):
    return render(DETAIL, **_detail_ctx(get_or_404(AISystem, system_id)))


@bp.post("/<system_id>/go-live")
@require("compliance:write")
def go_live_post(system_id: str):
    system = get_or_404(AISystem, system_id)
    try:
        approval = services.request_go_live(system, actor=current_actor())
    except DomainError as exc:
        return respond_refused(exc, DETAIL, **_detail_ctx(system))
    message = (f"Go-live requested: {approval.reference} waits for an admin’s approval." if approval
               else f"{system.name} is live.")
    return respond_changed(message, redirect_to=_system_url(system))


# --- the questionnaire -----------------------------------------------------------------------------


def _step_ctx(system: AISystem, step_key: str, answers: dict, errors: dict, **extra) -> dict:
    step = questionnaire.step_by_key(step_key)
    index = questionnaire.STEP_KEYS.index(step.key)
    return {"system": system, "step": step, "index": index, "answers": answers, "errors": errors,
            "current": services.current_classification(system), "error": None} | extra


@bp.get("/<system_id>/classify")
@require("compliance:write")
def classify(system_id: str):
    system = get_or_404(AISystem, system_id)
    draft = services.draft_of(system)
    current = services.current_classification(system)
    answers = draft.answers if draft else (dict(current.answers) if current else {})
    step = request.args.get("step") or (questionnaire.first_incomplete_step(answers) if draft else None) or "role"
    return render(CLASSIFY, STEP, **_step_ctx(system, step, answers, {}))


@bp.post("/<system_id>/classify")
@require("compliance:write")
def classify_post(system_id: str):
    """Save this step's answers, then show the step asked for (the next one only when this one is complete)."""
    system = get_or_404(AISystem, system_id)
    step = questionnaire.step_by_key(request.form.get("step", "")).key
    target = request.form.get("go", step)
    draft, errors = services.save_answers(system, actor=current_actor(), step=step, raw=_step_form(step))
    forward = questionnaire.STEP_KEYS.index(questionnaire.step_by_key(target).key) > \
        questionnaire.STEP_KEYS.index(step)
    if errors and forward:
        return render(CLASSIFY, STEP, status=422, **_step_ctx(
            system, step, draft.answers, errors, error="Answer the highlighted questions to go on; what you answered "
            "is saved."))
    if is_fragment_request():
        return render(CLASSIFY, STEP, **_step_ctx(system, target, draft.answers, {}))
    return redirect(url_for("ai_systems.classify", system_id=system.public_id, step=target), 303)


def _step_form(step: str) -> dict:
    """The step's answers from the form: lists for multiple-choice questions, single values otherwise."""
    return {q.key: (request.form.getlist(q.key) if q.kind == "multi" else request.form.get(q.key))
            for q in questionnaire.step_by_key(step).questions}


@bp.post("/<system_id>/classify/complete")
@require("compliance:write")
def classify_complete(system_id: str):
    system = get_or_404(AISystem, system_id)
    step = questionnaire.step_by_key(request.form.get("step", "")).key
    draft, _step_errors = services.save_answers(system, actor=current_actor(), step=step, raw=_step_form(step))
    try:
        result = services.complete_classification(system, actor=current_actor())
    except DomainError as exc:
        errors = _errors(exc)
        gap = questionnaire.first_incomplete_step(draft.answers) or step
        return render(CLASSIFY, STEP, status=exc.status, **_step_ctx(system, gap, draft.answers, errors,
                                                                      error=exc.message))
    return respond_changed(f"Classified: {services.classification_label(result)}.", redirect_to=_system_url(system))


@bp.post("/<system_id>/classify/discard")
@require("compliance:write")
def classify_discard(system_id: str):
    system = get_or_404(AISystem, system_id)
    try:
        services.discard_draft(system, actor=current_actor())
    except DomainError as exc:
        return respond_refused(exc, DETAIL, **_detail_ctx(system))
    return respond_changed("The unfinished questionnaire was discarded.", redirect_to=_system_url(system))
