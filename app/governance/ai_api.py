"""AI systems under /api/v1: list (filters, cursor paging), create, get, patch; classifications (list,
classify from a whole set of answers); go-live request."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request
from pydantic import BaseModel, Field

from app.approvals.api import ApprovalOut
from app.core.actors import current_actor
from app.core.api import documented, ok, page_limit, paginate, parse_body
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.governance import ai_services as services
from app.governance.ai_classification import QUESTIONS
from app.governance.ai_models import AIClassification, AISystem

api_bp = Blueprint("ai_api", __name__)


class AILinkOut(BaseModel):
    label: str
    url: str


class AISystemOut(BaseModel):
    id: str
    name: str
    kind: str = Field(description="system | model | agent")
    purpose: str
    owner: str | None = Field(description="the owner's user id")
    provider: str
    models: list[str]
    deployment_status: str = Field(description="planned | in_development | pilot | awaiting_go_live | live | retired")
    data_categories: list[str]
    personal_data: bool
    special_category_data: bool
    affected_users: str
    human_oversight: str
    links: list[AILinkOut]
    risk_tier: str = Field(description="unclassified | prohibited | high | transparency | gpai | minimal")
    ai_act_role: str = Field(description="unknown | provider | deployer | importer | distributor")
    classification: str = Field(description="the current classification in words", examples=[
        "High-risk (Annex III — employment)"])
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: AISystem) -> dict:
        return cls(id=s.public_id, name=s.name, kind=s.kind.value, purpose=s.purpose,
                   owner=s.owner.public_id if s.owner else None, provider=s.provider, models=s.models,
                   deployment_status=s.deployment_status.value, data_categories=s.data_categories,
                   personal_data=s.personal_data, special_category_data=s.special_category_data,
                   affected_users=s.affected_users, human_oversight=s.human_oversight,
                   links=[AILinkOut(**link) for link in s.links], risk_tier=s.risk_tier.value,
                   ai_act_role=s.ai_act_role.value, classification=services.current_label(s),
                   created_at=s.created_at, updated_at=s.updated_at).model_dump(mode="json")


class AISystemIn(BaseModel):
    name: str = Field(max_length=services.NAME_MAX)
    kind: str = "system"
    purpose: str = Field(max_length=services.TEXT_MAX)
    owner: str | None = Field(default=None, description="a member's user id")
    provider: str = ""
    models: list[str] = Field(default_factory=list)
    deployment_status: str = Field(default="planned", description="planned | in_development | pilot | retired")
    data_categories: list[str] = Field(default_factory=list)
    personal_data: bool = False
    special_category_data: bool = False
    affected_users: str = ""
    human_oversight: str = ""
    links: list[AILinkOut] = Field(default_factory=list)


class AISystemPatch(BaseModel):
    name: str | None = Field(default=None, max_length=services.NAME_MAX)
    kind: str | None = None
    purpose: str | None = Field(default=None, max_length=services.TEXT_MAX)
    owner: str | None = None
    provider: str | None = None
    models: list[str] | None = None
    deployment_status: str | None = Field(default=None, description="live on a high-risk system opens a go-live "
                                          "approval (status awaiting_go_live); 409 when prohibited or unclassified")
    data_categories: list[str] | None = None
    personal_data: bool | None = None
    special_category_data: bool | None = None
    affected_users: str | None = None
    human_oversight: str | None = None
    links: list[AILinkOut] | None = None


class AIReasonOut(BaseModel):
    ref: str = Field(examples=["Art.6(3)"])
    text: str


class AIObligationOut(BaseModel):
    ref: str = Field(examples=["Art.26"])
    article: str
    title: str
    detail: str


class AIClassificationOut(BaseModel):
    id: str
    status: str = Field(description="draft | completed | superseded")
    result: str = Field(description="the outcome in words")
    risk_tier: str | None
    annex: str = Field(description="annex_i | annex_iii | empty")
    annex_iii_area: str
    roles: list[str]
    gpai: bool
    systemic_risk: bool
    answers: dict
    reasoning: list[AIReasonOut]
    obligations: list[AIObligationOut]
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    superseded_at: datetime | None

    @classmethod
    def of(cls, c: AIClassification) -> dict:
        return cls(id=c.public_id, status=c.status.value, result=services.classification_label(c),
                   risk_tier=c.result_tier.value if c.result_tier else None, annex=c.annex,
                   annex_iii_area=c.annex_iii_area, roles=c.roles, gpai=c.gpai, systemic_risk=c.systemic_risk,
                   answers=c.answers, reasoning=c.reasoning, obligations=c.obligations, created_at=c.created_at,
                   completed_at=c.completed_at, completed_by=c.completed_by.public_id if c.completed_by else None,
                   superseded_at=c.superseded_at).model_dump(mode="json")


class AIClassificationIn(BaseModel):
    answers: dict = Field(description="every question answered, keyed by question: " + ", ".join(QUESTIONS) +
                          ". `roles` is a list (provider, deployer, importer, distributor); `annex3_area` one of "
                          "the Annex III areas; the others yes/no (or true/false). Follow-ups (gpai_systemic, "
                          "annex3_*) only when their question is yes.")


class AIGoLiveIn(BaseModel):
    approver_role: str = Field(default="admin")
    note: str = Field(default="", max_length=5000)


class AIGoLiveOut(BaseModel):
    system: AISystemOut
    approval: ApprovalOut | None = Field(description="the approval request when the system is high-risk")


def _body_values(body: BaseModel, *, exclude_unset: bool) -> dict:
    values = body.model_dump(exclude_unset=exclude_unset)
    if values.get("links") is not None:
        values["links"] = [dict(link) for link in values["links"]]
    return values


@api_bp.get("/ai-systems")
@require("compliance:read")
@documented(response=AISystemOut, paged=True, tag="ai-systems")
def ai_systems_list():
    """AI systems, newest first; filter with `?tier=`, `?status=`, `?owner=` (a user id or `none`) and `?q=`."""
    args = {k: (request.args.get(k) or "").strip() for k in ("tier", "status", "owner", "q")}
    rows, cursor = paginate(services.list_statement(**args), AISystem.id, limit=page_limit(),
                            cursor=request.args.get("cursor"))
    return ok([AISystemOut.of(s) for s in rows], next_cursor=cursor)


@api_bp.post("/ai-systems")
@require("compliance:write")
@documented(body=AISystemIn, response=AISystemOut, tag="ai-systems")
def ai_systems_create():
    body = parse_body(AISystemIn)
    system = services.create_system(actor=current_actor(), **_body_values(body, exclude_unset=False))
    return ok(AISystemOut.of(system), status=201)


@api_bp.get("/ai-systems/<system_id>")
@require("compliance:read")
@documented(response=AISystemOut, tag="ai-systems")
def ai_systems_get(system_id: str):
    return ok(AISystemOut.of(get_or_404(AISystem, system_id)))


@api_bp.patch("/ai-systems/<system_id>")
@require("compliance:write")
@documented(body=AISystemPatch, response=AISystemOut, tag="ai-systems", errors=(409,))
def ai_systems_patch(system_id: str):
    system = get_or_404(AISystem, system_id)
    body = parse_body(AISystemPatch)
    services.update_system(system, actor=current_actor(), **_body_values(body, exclude_unset=True))
    return ok(AISystemOut.of(system))


@api_bp.get("/ai-systems/<system_id>/classifications")
@require("compliance:read")
@documented(response=AIClassificationOut, tag="ai-systems")
def ai_classifications_list(system_id: str):
    """The system's classifications, newest first: the current one, then superseded ones (a draft first if any)."""
    system = get_or_404(AISystem, system_id)
    draft = services.draft_of(system)
    rows = ([draft] if draft else []) + services.classification_history(system)
    return ok([AIClassificationOut.of(c) for c in rows], next_cursor=None)


@api_bp.post("/ai-systems/<system_id>/classifications")
@require("compliance:write")
@documented(body=AIClassificationIn, response=AIClassificationOut, tag="ai-systems")
def ai_classifications_create(system_id: str):
    """Classify from a complete set of answers: the result supersedes the current classification.

    A 422 names every missing or invalid answer as `answers.<question>`.
    """
    system = get_or_404(AISystem, system_id)
    body = parse_body(AIClassificationIn)
    result = services.complete_classification(system, actor=current_actor(), answers=body.answers)
    return ok(AIClassificationOut.of(result), status=201)


@api_bp.post("/ai-systems/<system_id>:request-go-live")
@require("compliance:write")
@documented(body=AIGoLiveIn, response=AIGoLiveOut, tag="ai-systems", errors=(409,))
def ai_systems_go_live(system_id: str):
    """Take the system live: high-risk systems wait for an approval (201 with it), others go live at once (200).

    409 when the system is prohibited, unclassified, already live or already waiting.
    """
    system = get_or_404(AISystem, system_id)
    body = parse_body(AIGoLiveIn)
    approval = services.request_go_live(system, actor=current_actor(), approver_role=body.approver_role,
                                        note=body.note)
    return ok({"system": AISystemOut.of(system), "approval": ApprovalOut.of(approval) if approval else None},
              status=201 if approval else 200)
