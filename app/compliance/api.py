"""Compliance routes of the API: frameworks, requirements, controls, mappings, evidence, scores, gaps."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field

from app.compliance import evidence as evidence_service
from app.compliance import queries, scores, services
from app.compliance.models import Control, ControlMapping, Evidence, Framework, Requirement
from app.core.actors import current_actor
from app.core.api import documented, ok, page_limit, paginate, parse_body, uploaded_file
from app.core.db import db
from app.core.permissions import require
from app.core.tenancy import get_or_404

api_bp = Blueprint("compliance_api", __name__, url_prefix="/compliance")


class ScoreOut(BaseModel):
    met: int
    applicable: int
    total: int
    percent: int

    @classmethod
    def of(cls, score: scores.Score) -> ScoreOut:
        return cls(met=score.met, applicable=score.applicable, total=score.total, percent=score.percent)


class FrameworkOut(BaseModel):
    key: str
    name: str
    short_name: str
    version: str
    published: date | None
    source: str
    licence: str
    origin: str = Field(description="file (the shared library) or oscal (imported by this tenant)")
    adopted: bool
    requirements: int = Field(description="live leaf requirements")
    score: ScoreOut | None = Field(description="null until adopted")


class RequirementOut(BaseModel):
    id: str
    framework: str
    ref: str
    title: str
    kind: str
    description: str
    parent: str | None = Field(description="the parent group's id")
    is_leaf: bool
    retired: bool
    state: str | None = Field(default=None, description="met, gap or not_applicable (leaves of adopted frameworks)")

    @classmethod
    def of(cls, req: Requirement, parents: dict[int, str], state: str | None = None) -> RequirementOut:
        return cls(id=req.public_id, framework=req.framework.key, ref=req.ref, title=req.title, kind=req.kind,
                   description=req.description, parent=parents.get(req.parent_id) if req.parent_id else None,
                   is_leaf=req.is_leaf, retired=req.retired_at is not None, state=state)


class ControlOut(BaseModel):
    id: str
    key: str
    name: str
    description: str
    status: str
    justification: str
    owner: str | None = Field(description="the owner's user id")
    due_date: date | None
    review_cadence_days: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Control) -> ControlOut:
        return cls(id=c.public_id, key=c.key, name=c.name, description=c.description, status=c.status.value,
                   justification=c.justification, owner=c.owner.public_id if c.owner else None, due_date=c.due_date,
                   review_cadence_days=c.review_cadence_days, created_at=c.created_at, updated_at=c.updated_at)


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    name: str
    description: str = ""
    owner: str | None = None
    due_date: date | None = None
    review_cadence_days: int | None = None


class ControlPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    status: str | None = Field(default=None, description="not_started, in_progress, implemented, not_applicable")
    justification: str | None = Field(default=None, description="required with not_applicable")
    owner: str | None = None
    due_date: date | None = None
    review_cadence_days: int | None = None


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requirement: str = Field(description="a requirement id")


class MappingOut(BaseModel):
    control: str
    requirement: str
    framework: str
    ref: str


class EvidenceOut(BaseModel):
    id: str
    title: str
    kind: str
    description: str
    filename: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    url: str | None
    valid_from: date
    valid_until: date | None
    expired: bool
    review_status: str
    review_comment: str
    controls: list[str] = Field(description="control ids")
    created_at: datetime

    @classmethod
    def of(cls, ev: Evidence, controls: list[Control]) -> EvidenceOut:
        return cls(id=ev.public_id, title=ev.title, kind=ev.kind.value, description=ev.description,
                   filename=ev.filename, content_type=ev.content_type, size=ev.size, sha256=ev.sha256, url=ev.url,
                   valid_from=ev.valid_from, valid_until=ev.valid_until, expired=ev.is_expired(scores.today()),
                   review_status=ev.review_status.value, review_comment=ev.review_comment,
                   controls=[c.public_id for c in controls], created_at=ev.created_at)


class LinkEvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    title: str
    description: str = ""
    controls: list[str] = []
    valid_from: date | None = None
    valid_until: date | None = None


class EvidenceReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(description="accepted or rejected")
    comment: str = Field(default="", description="required when rejecting")


class GapOut(BaseModel):
    requirement: str
    ref: str
    title: str
    reasons: list[str]
    owner: str | None
    due_date: date | None


class AdoptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    controls: list[str] | None = Field(default=None, description="template keys to bring in; all proposed if null")


def _framework_out(fw: Framework, adopted: set[int], score: scores.Score | None, leaves: int) -> dict:
    return FrameworkOut(key=fw.key, name=fw.name, short_name=fw.short_name, version=fw.version, published=fw.published,
                        source=fw.source, licence=fw.licence, origin=fw.origin, adopted=fw.id in adopted,
                        requirements=leaves, score=ScoreOut.of(score) if score else None).model_dump(mode="json")


# --- frameworks and requirements -----------------------------------------------------------


@api_bp.get("/frameworks")
@require("compliance:read")
@documented(response=FrameworkOut)
def list_frameworks():
    """The framework library with this tenant's adoption and scores."""
    rows = queries.framework_rows()
    adopted = {r.framework.id for r in rows if r.adopted}
    return ok([_framework_out(r.framework, adopted, r.score, r.leaves) for r in rows])


@api_bp.get("/frameworks/<key>")
@require("compliance:read")
@documented(response=FrameworkOut)
def get_framework(key: str):
    """One framework."""
    row = next((r for r in queries.framework_rows() if r.framework.key == key), None)
    if row is None:
        services.framework_by_key(key)  # raises the 404
    return ok(_framework_out(row.framework, {row.framework.id} if row.adopted else set(), row.score, row.leaves))


@api_bp.post("/frameworks/<key>/adopt")
@require("compliance:write")
@documented(body=AdoptIn, response=FrameworkOut, errors=(409,))
def adopt_framework(key: str):
    """Adopt a framework, bringing in the proposed default controls."""
    fw = services.framework_by_key(key)
    body = parse_body(AdoptIn) if request.data else AdoptIn()
    services.adopt_framework(fw, actor=current_actor(), template_keys=body.controls)
    return ok(_framework_out(fw, {fw.id}, scores.scores([fw.id])[fw.id], 0), status=201)


@api_bp.get("/frameworks/<key>/requirements")
@require("compliance:read")
@documented(response=RequirementOut)
def list_requirements(key: str):
    """Every requirement of a framework in document order, groups included, with leaf states."""
    fw = services.framework_by_key(key)
    reqs = list(db.session.scalars(sa.select(Requirement).where(Requirement.framework_id == fw.id)
                                   .order_by(Requirement.position)))
    parents = {r.id: r.public_id for r in reqs}
    states = scores.requirement_states(fw.id) if services.adoption_of(fw) else {}
    return ok([RequirementOut.of(r, parents, states.get(r.id)).model_dump(mode="json") for r in reqs])


@api_bp.get("/requirements/<req_id>")
@require("compliance:read")
@documented(response=RequirementOut)
def get_requirement(req_id: str):
    """One requirement."""
    req = services.requirement_by_id(req_id)
    parent = db.session.get(Requirement, req.parent_id) if req.parent_id else None
    state = scores.requirement_states(req.framework_id).get(req.id)
    return ok(RequirementOut.of(req, {parent.id: parent.public_id} if parent else {}, state).model_dump(mode="json"))


@api_bp.get("/frameworks/<key>/score")
@require("compliance:read")
@documented(response=ScoreOut)
def get_score(key: str):
    """A framework's score now: met / applicable live leaf requirements."""
    fw = services.framework_by_key(key)
    return ok(ScoreOut.of(scores.scores([fw.id])[fw.id]).model_dump())


@api_bp.get("/frameworks/<key>/gaps")
@require("compliance:read")
@documented(response=GapOut)
def list_gaps(key: str):
    """Unmet applicable requirements, each with why, owner and due date."""
    fw = services.framework_by_key(key)
    users = {}
    out = []
    for gap in scores.gaps(fw):
        if gap.owner_id and gap.owner_id not in users:
            from app.identity.models import User

            users[gap.owner_id] = db.session.get(User, gap.owner_id).public_id
        out.append(GapOut(requirement=gap.public_id, ref=gap.ref, title=gap.title, reasons=gap.reasons,
                          owner=users.get(gap.owner_id), due_date=gap.due_date).model_dump(mode="json"))
    return ok(out)


# --- controls and mappings -----------------------------------------------------------------


@api_bp.get("/controls")
@require("compliance:read")
@documented(response=ControlOut, paged=True)
def list_controls():
    """The tenant's controls, newest first."""
    rows, cursor = paginate(sa.select(Control), Control.id, limit=page_limit(), cursor=request.args.get("cursor"))
    return ok([ControlOut.of(c).model_dump(mode="json") for c in rows], next_cursor=cursor)


@api_bp.post("/controls")
@require("compliance:write")
@documented(body=ControlIn, response=ControlOut)
def create_control():
    """Create a control."""
    body = parse_body(ControlIn)
    control = services.create_control(actor=current_actor(), key=body.key, name=body.name,
                                      description=body.description, owner_id=body.owner, due_date=body.due_date,
                                      review_cadence_days=body.review_cadence_days)
    return ok(ControlOut.of(control).model_dump(mode="json"), status=201)


@api_bp.get("/controls/<control_id>")
@require("compliance:read")
@documented(response=ControlOut)
def get_control(control_id: str):
    """One control."""
    return ok(ControlOut.of(get_or_404(Control, control_id)).model_dump(mode="json"))


@api_bp.patch("/controls/<control_id>")
@require("compliance:write")
@documented(body=ControlPatch, response=ControlOut)
def patch_control(control_id: str):
    """Change a control's status (N/A needs a justification), owner, due date, cadence or text."""
    control = get_or_404(Control, control_id)
    body = parse_body(ControlPatch)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items()}
    if "owner" in changes:
        changes["owner_id"] = changes.pop("owner")
    services.update_control(control, actor=current_actor(), **changes)
    return ok(ControlOut.of(control).model_dump(mode="json"))


@api_bp.delete("/controls/<control_id>")
@require("compliance:write")
@documented()
def delete_control(control_id: str):
    """Delete a control with its mappings (evidence stays)."""
    services.delete_control(get_or_404(Control, control_id), actor=current_actor())
    return ok(None)


def _mappings_of(control: Control) -> list[dict]:
    rows = db.session.scalars(sa.select(ControlMapping).where(ControlMapping.control_id == control.id))
    return [MappingOut(control=control.public_id, requirement=m.requirement.public_id,
                       framework=m.requirement.framework.key, ref=m.requirement.ref).model_dump() for m in rows]


@api_bp.get("/controls/<control_id>/mappings")
@require("compliance:read")
@documented(response=MappingOut)
def list_mappings(control_id: str):
    """The requirements a control is mapped to, across frameworks."""
    return ok(_mappings_of(get_or_404(Control, control_id)))


@api_bp.post("/controls/<control_id>/mappings")
@require("compliance:write")
@documented(body=MappingIn, response=MappingOut)
def add_mapping(control_id: str):
    """Map a control to a requirement."""
    control = get_or_404(Control, control_id)
    req = services.requirement_by_id(parse_body(MappingIn).requirement)
    services.map_control(control, req, actor=current_actor())
    return ok(MappingOut(control=control.public_id, requirement=req.public_id, framework=req.framework.key,
                         ref=req.ref).model_dump(), status=201)


@api_bp.delete("/controls/<control_id>/mappings/<req_id>")
@require("compliance:write")
@documented()
def remove_mapping(control_id: str, req_id: str):
    """Unmap a control from a requirement."""
    services.unmap_control(get_or_404(Control, control_id), services.requirement_by_id(req_id), actor=current_actor())
    return ok(None)


# --- evidence ------------------------------------------------------------------------------


def _evidence_out(ev: Evidence) -> dict:
    return EvidenceOut.of(ev, evidence_service.controls_of(ev)).model_dump(mode="json")


@api_bp.get("/evidence")
@require("compliance:read")
@documented(response=EvidenceOut, paged=True)
def list_evidence():
    """Evidence, newest first."""
    rows, cursor = paginate(sa.select(Evidence), Evidence.id, limit=page_limit(), cursor=request.args.get("cursor"))
    links = queries.controls_by_evidence([e.id for e in rows])
    return ok([EvidenceOut.of(e, links.get(e.id, [])).model_dump(mode="json") for e in rows], next_cursor=cursor)


@api_bp.post("/evidence")
@require("compliance:write")
@documented(response=EvidenceOut, upload="file", errors=(413,))
def add_evidence():
    """Add evidence: multipart/form-data with `file` (plus title, controls, valid_from, valid_until), or JSON link.

    A file's type is sniffed from its bytes (PDF, PNG, JPEG, text, CSV, JSON, ZIP, Office documents) and must
    agree with its name; it is stored content-addressed and its sha256 returned. A JSON body
    `{url, title, controls, valid_from, valid_until}` records a link (document, ticket) instead.
    """
    actor = current_actor()
    if request.is_json:
        body = parse_body(LinkEvidenceIn)
        ev = evidence_service.link_evidence(actor=actor, url=body.url, title=body.title, description=body.description,
                                            control_ids=body.controls, valid_from=body.valid_from,
                                            valid_until=body.valid_until)
    else:
        upload = uploaded_file("file")
        form = request.form
        ev = evidence_service.upload_evidence(actor=actor, filename=upload.filename, stream=upload.stream,
                                              title=form.get("title", ""), description=form.get("description", ""),
                                              control_ids=form.getlist("controls"),
                                              valid_from=form.get("valid_from") or None,
                                              valid_until=form.get("valid_until") or None)
    return ok(_evidence_out(ev), status=201)


@api_bp.get("/evidence/<evidence_id>")
@require("compliance:read")
@documented(response=EvidenceOut)
def get_evidence(evidence_id: str):
    """One piece of evidence."""
    return ok(_evidence_out(get_or_404(Evidence, evidence_id)))


@api_bp.post("/evidence/<evidence_id>/review")
@require("compliance:write")
@documented(body=EvidenceReviewIn, response=EvidenceOut)
def review_evidence(evidence_id: str):
    """Accept or reject evidence (rejecting needs a comment)."""
    ev = get_or_404(Evidence, evidence_id)
    body = parse_body(EvidenceReviewIn)
    evidence_service.review_evidence(ev, actor=current_actor(), decision=body.decision, comment=body.comment)
    return ok(_evidence_out(ev))


@api_bp.get("/scores")
@require("compliance:read")
@documented(response=FrameworkOut)
def list_scores():
    """Scores of every adopted framework, recomputed now."""
    rows = [r for r in queries.framework_rows() if r.adopted]
    adopted = {r.framework.id for r in rows}
    return ok([_framework_out(r.framework, adopted, r.score, r.leaves) for r in rows])
