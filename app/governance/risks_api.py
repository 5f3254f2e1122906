"""The risk register under /api/v1: list (filters, cursor paging), get, create, patch, links, accept,
heatmap counts, and the acceptance threshold."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, request
from pydantic import BaseModel, Field

from app.approvals.api import ApprovalOut
from app.core.actors import current_actor
from app.core.api import documented, ok, page_limit, paginate, parse_body
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.governance import risks_queries as queries
from app.governance import risks_services as services
from app.governance.risks_models import Risk

api_bp = Blueprint("risks_api", __name__)

Score = Field(ge=1, le=5)


class RiskLinksOut(BaseModel):
    ai_systems: list[str] = Field(description="public ids of linked AI systems")
    controls: list[str] = Field(description="public ids of linked controls")
    cases: list[str] = Field(description="public ids of linked cases")


class RiskOut(BaseModel):
    id: str
    reference: str = Field(description="per-tenant reference, e.g. RSK-7")
    title: str
    description: str = Field(description="Markdown source")
    category: str = Field(description="security | privacy | ai_model | third_party | operational | compliance")
    owner: str | None = Field(description="user public id")
    inherent_likelihood: int
    inherent_impact: int
    inherent_score: int
    residual_likelihood: int
    residual_impact: int
    residual_score: int
    treatment: str = Field(description="mitigate | accept | transfer | avoid")
    treatment_plan: str
    review_date: date | None
    review_overdue: bool
    status: str = Field(description="open | closed")
    acceptance: str = Field(description="none | pending | accepted | rejected")
    acceptance_outcome: str = Field(description="approved | direct | rejected | cancelled | expired, or empty")
    acceptance_by: str | None
    acceptance_at: datetime | None
    version: int = Field(description="send it back as `version` to refuse stale edits (409)")
    links: RiskLinksOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Risk) -> dict:
        return cls(
            id=r.public_id, reference=r.reference, title=r.title, description=r.description,
            category=r.category.value, owner=r.owner.public_id if r.owner else None,
            inherent_likelihood=r.inherent_likelihood, inherent_impact=r.inherent_impact,
            inherent_score=r.inherent_score, residual_likelihood=r.residual_likelihood,
            residual_impact=r.residual_impact, residual_score=r.residual_score, treatment=r.treatment.value,
            treatment_plan=r.treatment_plan, review_date=r.review_date, review_overdue=r.is_overdue(services.today()),
            status=r.status.value, acceptance=r.acceptance.value, acceptance_outcome=r.acceptance_outcome,
            acceptance_by=r.acceptance_by.public_id if r.acceptance_by else None, acceptance_at=r.acceptance_at,
            version=r.version, created_at=r.created_at, updated_at=r.updated_at,
            links=RiskLinksOut(**{k: [o.public_id for o in services.linked(r, k)] for k in services.LINK_KINDS}),
        ).model_dump(mode="json")


class RiskIn(BaseModel):
    title: str = Field(max_length=services.TITLE_MAX)
    description: str = Field(default="", max_length=services.DESCRIPTION_MAX)
    category: str
    owner: str | None = Field(default=None, description="user public id")
    inherent_likelihood: int = Score
    inherent_impact: int = Score
    residual_likelihood: int = Score
    residual_impact: int = Score
    treatment: str = "mitigate"
    treatment_plan: str = Field(default="", max_length=services.PLAN_MAX)
    review_date: date | None = None


class RiskPatch(BaseModel):
    version: int | None = Field(default=None, description="the version you read; a stale one answers 409")
    title: str | None = Field(default=None, max_length=services.TITLE_MAX)
    description: str | None = Field(default=None, max_length=services.DESCRIPTION_MAX)
    category: str | None = None
    owner: str | None = None
    inherent_likelihood: int | None = Field(default=None, ge=1, le=5)
    inherent_impact: int | None = Field(default=None, ge=1, le=5)
    residual_likelihood: int | None = Field(default=None, ge=1, le=5)
    residual_impact: int | None = Field(default=None, ge=1, le=5)
    treatment: str | None = None
    treatment_plan: str | None = Field(default=None, max_length=services.PLAN_MAX)
    review_date: date | None = None
    status: str | None = None


class RiskLinksIn(BaseModel):
    version: int | None = None
    ai_systems: list[str] | None = Field(default=None, description="replace the linked AI systems (public ids)")
    controls: list[str] | None = Field(default=None, description="replace the linked controls (public ids)")
    cases: list[str] | None = Field(default=None, description="replace the linked cases (public ids)")


class RiskAcceptIn(BaseModel):
    version: int | None = None
    note: str = Field(default="", max_length=services.NOTE_MAX)


class RiskAcceptOut(BaseModel):
    risk: RiskOut
    approval: ApprovalOut | None = Field(description="the approval request when the residual score needs one")


class HeatmapCellOut(BaseModel):
    likelihood: int
    impact: int
    score: int
    band: str = Field(description="low | moderate | high | critical")
    count: int


class HeatmapOut(BaseModel):
    basis: str = Field(description="residual | inherent")
    threshold: int
    cells: list[HeatmapCellOut]


class RiskSettingsOut(BaseModel):
    acceptance_threshold: int = Field(description="residual score at or above which acceptance needs approval")


class RiskSettingsIn(BaseModel):
    acceptance_threshold: int = Field(ge=1, le=25)


@api_bp.get("/risks")
@require("risk:read")
@documented(response=RiskOut, paged=True, tag="risks")
def risks_list():
    """The register, newest first; filters as on the page: category, treatment, owner (me | none | user id),
    status (open | closed | all), overdue=1, cell=L-I with basis=residual|inherent."""
    filters = queries.parse_filters(request.args)
    stmt = queries.risk_select(filters, me=current_actor().user, today=services.today())
    rows, next_cursor = paginate(stmt, Risk.id, limit=page_limit(), cursor=request.args.get("cursor"))
    return ok([RiskOut.of(r) for r in rows], next_cursor=next_cursor)


@api_bp.get("/risks/heatmap")
@require("risk:read")
@documented(response=HeatmapOut, tag="risks")
def risks_heatmap():
    """Risks per likelihood × impact cell (all 25 cells), under the same filters as the list."""
    filters = queries.parse_filters(request.args)
    counts = queries.heatmap(filters, me=current_actor().user, today=services.today())
    cells = [HeatmapCellOut(likelihood=lk, impact=im, score=lk * im, band=queries.band(lk * im)[0],
                            count=counts.get((lk, im), 0)) for lk in range(1, 6) for im in range(1, 6)]
    return ok(HeatmapOut(basis=filters.basis, threshold=services.acceptance_threshold(),
                         cells=cells).model_dump())


@api_bp.post("/risks")
@require("compliance:write")
@documented(body=RiskIn, response=RiskOut, tag="risks", errors=(409,))
def risks_create():
    body = parse_body(RiskIn)
    risk = services.create_risk(actor=current_actor(), **body.model_dump())
    return ok(RiskOut.of(risk), status=201)


@api_bp.get("/risks/settings")
@require("risk:read")
@documented(response=RiskSettingsOut, tag="risks")
def risks_settings_get():
    return ok(RiskSettingsOut(acceptance_threshold=services.acceptance_threshold()).model_dump())


@api_bp.patch("/risks/settings")
@require("compliance:write")
@documented(body=RiskSettingsIn, response=RiskSettingsOut, tag="risks")
def risks_settings_patch():
    body = parse_body(RiskSettingsIn)
    row = services.set_acceptance_threshold(actor=current_actor(), threshold=body.acceptance_threshold)
    return ok(RiskSettingsOut(acceptance_threshold=row.acceptance_threshold).model_dump())


@api_bp.get("/risks/<risk_id>")
@require("risk:read")
@documented(response=RiskOut, tag="risks")
def risks_get(risk_id: str):
    return ok(RiskOut.of(get_or_404(Risk, risk_id)))


@api_bp.patch("/risks/<risk_id>")
@require("compliance:write")
@documented(body=RiskPatch, response=RiskOut, tag="risks", errors=(409,))
def risks_patch(risk_id: str):
    """Change given fields. Setting treatment to accept follows the acceptance rules (see :accept)."""
    risk = get_or_404(Risk, risk_id)
    body = parse_body(RiskPatch).model_dump(exclude_unset=True)
    services.update_risk(risk, actor=current_actor(), **body)
    return ok(RiskOut.of(risk))


@api_bp.put("/risks/<risk_id>/links")
@require("compliance:write")
@documented(body=RiskLinksIn, response=RiskOut, tag="risks", errors=(409,))
def risks_links(risk_id: str):
    """Replace the linked AI systems, controls and/or cases (a kind left out stays as it is)."""
    risk = get_or_404(Risk, risk_id)
    body = parse_body(RiskLinksIn)
    services.set_links(risk, actor=current_actor(), **body.model_dump())
    return ok(RiskOut.of(risk))


@api_bp.post("/risks/<risk_id>:accept")
@require("compliance:write")
@documented(body=RiskAcceptIn, response=RiskAcceptOut, tag="risks", errors=(409,))
def risks_accept(risk_id: str):
    """Accept the risk: directly below the tenant's threshold; at or above it an approval request is opened
    (only a member can request one: an API key gets 403 there). 409 when already pending or accepted."""
    risk = get_or_404(Risk, risk_id)
    body = parse_body(RiskAcceptIn)
    approval = services.accept_risk(risk, actor=current_actor(), version=body.version, note=body.note)
    return ok({"risk": RiskOut.of(risk), "approval": ApprovalOut.of(approval) if approval else None},
              status=201 if approval else 200)
