"""Risk register pages: the register with its heatmap, new/edit, the risk, acceptance, links, settings."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app.approvals import queries as approval_queries
from app.core.actors import current_actor
from app.core.errors import DomainError, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.text import render_markdown
from app.core.ui import render, respond_changed, respond_refused
from app.governance import risks_queries as queries
from app.governance import risks_services as services
from app.governance.risks_models import Risk, RiskCategory, Treatment

bp = Blueprint("risks", __name__, url_prefix="/governance/risks")

LIST, REGISTER = "governance/risks/list.html", "governance/risks/_register.html"
FORM, DETAIL, SETTINGS = "governance/risks/form.html", "governance/risks/detail.html", "governance/risks/settings.html"
ACCEPTANCE = "governance/risks/_acceptance.html"
FORM_FIELDS = ("title", "description", "category", "owner", "treatment", "treatment_plan", "review_date", "status",
               *services.SCORE_FIELDS)
TREATMENT_LABELS = {"mitigate": "Mitigate", "accept": "Accept", "transfer": "Transfer", "avoid": "Avoid"}
ACCEPTANCE_WORDS = {"approved": "accepted after approval", "direct": "accepted (below the threshold)",
                    "rejected": "acceptance rejected", "cancelled": "acceptance request cancelled",
                    "expired": "acceptance request expired"}


@bp.context_processor
def _helpers():
    return {"markdown": render_markdown, "category_labels": {c.value: label for c, label in
                                                              services.CATEGORY_LABELS.items()},
            "treatment_labels": TREATMENT_LABELS, "acceptance_words": ACCEPTANCE_WORDS, "band": queries.band,
            "today": services.today()}


def _errors(exc: DomainError) -> dict[str, list[str]]:
    return getattr(exc, "field_errors", None) or {"_": [exc.message]}


def _risk_url(risk: Risk) -> str:
    return url_for("risks.risk_detail", risk_id=risk.public_id)


# --- the register -----------------------------------------------------------------------------------


def _register_ctx(filters: queries.RiskFilters, *, error: str | None = None) -> dict:
    actor = current_actor()
    me, today = actor.user, services.today()
    risks = [] if error else queries.risk_list(filters, me=me, today=today)
    return {"filters": filters, "risks": risks, "summary": queries.summary(risks, today=today,
                                                                            threshold=services.acceptance_threshold()),
            "cells": {} if error else queries.heatmap(filters, me=me, today=today), "error": error,
            "threshold": services.acceptance_threshold(), "owners": services.owners(),
            "categories": list(RiskCategory), "treatments": list(Treatment)}


@bp.get("")
@require("risk:read")
def risk_list():
    try:
        filters = queries.parse_filters(request.args)
    except ValidationFailed as exc:
        bad = queries.RiskFilters(raw={k: request.args.get(k, "") for k in request.args})
        return render(LIST, REGISTER, status=422, **_register_ctx(bad, error=exc.message))
    return render(LIST, REGISTER, **_register_ctx(filters))


# --- new and edit -----------------------------------------------------------------------------------


def _form_ctx(risk: Risk | None, values, errors: dict) -> dict:
    return {"risk": risk, "values": values, "errors": errors, "owners": services.owners(),
            "categories": list(RiskCategory), "treatments": list(Treatment),
            "threshold": services.acceptance_threshold()}


def _values_of(risk: Risk) -> dict:
    return {**{f: getattr(risk, f) for f in FORM_FIELDS if f != "owner"},
            "category": risk.category.value, "treatment": risk.treatment.value, "status": risk.status.value,
            "owner": risk.owner.public_id if risk.owner else "", "review_date": risk.review_date or "",
            "version": risk.version}


def _submitted() -> dict:
    return {f: request.form.get(f, "") for f in FORM_FIELDS if f in request.form}


@bp.get("/new")
@require("compliance:write")
def risk_new():
    actor = current_actor()
    return render(FORM, **_form_ctx(None, {"owner": actor.user.public_id if actor.user else "",
                                           "treatment": "mitigate", "category": "security"}, {}))


@bp.post("/new")
@require("compliance:write")
def risk_new_post():
    try:
        risk = services.create_risk(actor=current_actor(), **_submitted())
    except DomainError as exc:
        return render(FORM, status=exc.status, **_form_ctx(None, request.form, _errors(exc)))
    return respond_changed(_saved_message(risk, "recorded"), redirect_to=_risk_url(risk))


def _saved_message(risk: Risk, verb: str) -> str:
    if risk.acceptance.value == "pending":
        return f"{risk.reference} {verb}. Its acceptance needs approval: the request is waiting for an approver."
    return f"{risk.reference} {verb}."


@bp.get("/<risk_id>/edit")
@require("compliance:write")
def risk_edit(risk_id: str):
    risk = get_or_404(Risk, risk_id)
    return render(FORM, **_form_ctx(risk, _values_of(risk), {}))


@bp.post("/<risk_id>/edit")
@require("compliance:write")
def risk_edit_post(risk_id: str):
    risk = get_or_404(Risk, risk_id)
    try:
        services.update_risk(risk, actor=current_actor(), version=request.form.get("version", ""), **_submitted())
    except DomainError as exc:
        # Fields the form did not send (a locked treatment) show their stored value, not a blank.
        return render(FORM, status=exc.status, **_form_ctx(risk, _values_of(risk) | request.form.to_dict(),
                                                           _errors(exc)))
    return respond_changed(_saved_message(risk, "saved"), redirect_to=_risk_url(risk))


# --- the risk -----------------------------------------------------------------------------------------


def _detail_ctx(risk: Risk, **extra) -> dict:
    actor = current_actor()
    return {"risk": risk, "threshold": services.acceptance_threshold(), "error": None, "errors": {},
            "links": {kind: services.linked(risk, kind) for kind in services.LINK_KINDS},
            "choices": ({kind: services.link_choices(kind) for kind in services.LINK_KINDS}
                        if actor.can("compliance:write") else {}),
            "approvals": approval_queries.for_subject(services.SUBJECT_KIND, risk.public_id),
            "history": queries.history(actor.tenant, risk) if actor.can("audit:read") or actor.can(
                "compliance:read") else []} | extra


@bp.get("/<risk_id>")
@require("risk:read")
def risk_detail(risk_id: str):
    return render(DETAIL, **_detail_ctx(get_or_404(Risk, risk_id)))


@bp.post("/<risk_id>/accept")
@require("compliance:write")
def risk_accept(risk_id: str):
    risk = get_or_404(Risk, risk_id)
    try:
        approval = services.accept_risk(risk, actor=current_actor(), version=request.form.get("version", ""),
                                        note=request.form.get("note", ""))
    except DomainError as exc:
        ctx = _detail_ctx(risk)
        ctx.pop("error")  # respond_refused passes the refusal as `error`
        return respond_refused(exc, DETAIL, ACCEPTANCE, **ctx)
    message = (f"Acceptance of {risk.reference} sent for approval ({approval.reference})." if approval
               else f"{risk.reference} accepted: its residual score is below the threshold.")
    return respond_changed(message, redirect_to=_risk_url(risk), fragment=ACCEPTANCE, **_detail_ctx(risk))


@bp.post("/<risk_id>/links")
@require("compliance:write")
def risk_links_post(risk_id: str):
    risk = get_or_404(Risk, risk_id)
    try:
        services.set_links(risk, actor=current_actor(), version=request.form.get("version", ""),
                           **{kind: request.form.getlist(kind) for kind in services.LINK_KINDS})
    except DomainError as exc:
        return render(DETAIL, status=exc.status, **_detail_ctx(risk, error=exc.message, errors=_errors(exc)))
    return respond_changed(f"Links of {risk.reference} saved.", redirect_to=_risk_url(risk) + "#links")


# --- settings -------------------------------------------------------------------------------------------


@bp.get("/settings")
@require("compliance:write")
def risk_settings():
    return render(SETTINGS, values={"acceptance_threshold": services.acceptance_threshold()}, errors={})


@bp.post("/settings")
@require("compliance:write")
def risk_settings_post():
    try:
        row = services.set_acceptance_threshold(actor=current_actor(),
                                                threshold=request.form.get("acceptance_threshold"))
    except DomainError as exc:
        return render(SETTINGS, status=exc.status, values=request.form, errors=_errors(exc))
    return respond_changed(f"Risk acceptance threshold set to {row.acceptance_threshold}.",
                           redirect_to=url_for("risks.risk_settings"))
