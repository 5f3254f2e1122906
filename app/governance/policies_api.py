"""Policies under /api/v1: list, create, get, update; versions: list, create, get, edit draft, request review;
acknowledge; diff between two versions."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request
from pydantic import BaseModel, Field

from app.approvals.api import ApprovalOut
from app.core.actors import current_actor
from app.core.api import documented, ok, parse_body
from app.core.errors import NotFound, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.governance import policies_services as services
from app.governance.policies_diff import line_diff
from app.governance.policies_models import Policy, PolicyVersion

api_bp = Blueprint("policies_api", __name__)


class VersionOut(BaseModel):
    id: str
    number: int
    status: str = Field(description="draft | in_review | published | retired")
    change_note: str
    body: str | None = Field(default=None, description="Markdown source (single version only)")
    created_by: str | None
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None

    @classmethod
    def build(cls, v: PolicyVersion, *, body: bool = False) -> VersionOut:
        return cls(id=v.public_id, number=v.number, status=v.status.value, change_note=v.change_note,
                   body=v.body if body else None, created_by=v.created_by.public_id if v.created_by else None,
                   created_at=v.created_at, published_at=v.published_at, retired_at=v.retired_at)

    @classmethod
    def of(cls, v: PolicyVersion, *, body: bool = False) -> dict:
        return cls.build(v, body=body).model_dump(mode="json")


class LinkedControlOut(BaseModel):
    id: str
    key: str
    name: str


class PolicyOut(BaseModel):
    id: str
    title: str
    summary: str
    controls: list[LinkedControlOut] = Field(description="the tenant's compliance controls this policy covers")
    published_version: int | None
    versions: list[VersionOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Policy) -> dict:
        return cls(id=p.public_id, title=p.title, summary=p.summary,
                   controls=[LinkedControlOut(id=c.public_id, key=c.key, name=c.name) for c in p.controls],
                   published_version=p.published.number if p.published else None,
                   versions=[VersionOut.build(v) for v in p.versions], created_at=p.created_at,
                   updated_at=p.updated_at).model_dump(mode="json")


class PolicyIn(BaseModel):
    title: str = Field(max_length=services.TITLE_MAX)
    summary: str = Field(default="", max_length=services.SUMMARY_MAX)
    body: str = Field(max_length=services.BODY_MAX, description="Markdown of version 1 (a draft)")
    change_note: str = Field(default="", max_length=services.NOTE_MAX)


class PolicyPatch(BaseModel):
    title: str | None = Field(default=None, max_length=services.TITLE_MAX)
    summary: str | None = Field(default=None, max_length=services.SUMMARY_MAX)


class ControlLinkIn(BaseModel):
    control: str = Field(max_length=80, description="the control's id, or its key (e.g. VC-01)")


class VersionIn(BaseModel):
    body: str = Field(max_length=services.BODY_MAX)
    change_note: str = Field(default="", max_length=services.NOTE_MAX)


class PolicyReviewIn(BaseModel):
    approver_role: str = Field(default="admin")
    rule: str = Field(default="any", description="any | all | n_of_m")
    required: int = 1
    due_hours: int | None = 7 * 24
    note: str = Field(default="", max_length=5000)


class AckOut(BaseModel):
    version: int
    acknowledged_at: datetime


class DiffLineOut(BaseModel):
    kind: str = Field(description="same | add | del | gap")
    old_no: int | None
    new_no: int | None
    text: str


class DiffOut(BaseModel):
    added: int
    removed: int
    lines: list[DiffLineOut]


def _version(policy: Policy, number: int) -> PolicyVersion:
    version = policy.version_numbered(number)
    if version is None:
        raise NotFound("This policy has no such version.")
    return version


@api_bp.get("/policies")
@require("policy:read")
@documented(response=PolicyOut, tag="policies")
def policies_list():
    """Every policy of the tenant with its versions (a tenant has tens, not thousands: no paging)."""
    return ok([PolicyOut.of(p) for p in services.list_policies()], next_cursor=None)


@api_bp.post("/policies")
@require("compliance:write")
@documented(body=PolicyIn, response=PolicyOut, tag="policies")
def policies_create():
    body = parse_body(PolicyIn)
    policy = services.create_policy(actor=current_actor(), **body.model_dump())
    return ok(PolicyOut.of(policy), status=201)


@api_bp.get("/policies/<policy_id>")
@require("policy:read")
@documented(response=PolicyOut, tag="policies")
def policies_get(policy_id: str):
    return ok(PolicyOut.of(get_or_404(Policy, policy_id)))


@api_bp.patch("/policies/<policy_id>")
@require("compliance:write")
@documented(body=PolicyPatch, response=PolicyOut, tag="policies")
def policies_patch(policy_id: str):
    policy = get_or_404(Policy, policy_id)
    body = parse_body(PolicyPatch)
    services.update_policy(policy, actor=current_actor(), **body.model_dump(exclude_unset=True))
    return ok(PolicyOut.of(policy))


@api_bp.post("/policies/<policy_id>/controls")
@require("compliance:write")
@documented(body=ControlLinkIn, response=PolicyOut, tag="policies")
def policies_link_control(policy_id: str):
    """Link one of the tenant's controls to the policy (linking it again changes nothing; 404 for an unknown
    control)."""
    policy = get_or_404(Policy, policy_id)
    body = parse_body(ControlLinkIn)
    services.link_control(policy, services.find_control(body.control), actor=current_actor())
    return ok(PolicyOut.of(policy), status=201)


@api_bp.delete("/policies/<policy_id>/controls/<control_id>")
@require("compliance:write")
@documented(response=PolicyOut, tag="policies")
def policies_unlink_control(policy_id: str, control_id: str):
    """Unlink a control (by id or key) from the policy (404 when it is not linked)."""
    policy = get_or_404(Policy, policy_id)
    services.unlink_control(policy, services.find_control(control_id), actor=current_actor())
    return ok(PolicyOut.of(policy))


@api_bp.post("/policies/<policy_id>/versions")
@require("compliance:write")
@documented(body=VersionIn, response=VersionOut, tag="policies", errors=(409,))
def versions_create(policy_id: str):
    """Start a new draft version (409 while another draft or review is open)."""
    policy = get_or_404(Policy, policy_id)
    body = parse_body(VersionIn)
    version = services.create_version(policy, actor=current_actor(), body=body.body, change_note=body.change_note)
    return ok(VersionOut.of(version, body=True), status=201)


@api_bp.get("/policies/<policy_id>/versions/<int:number>")
@require("policy:read")
@documented(response=VersionOut, tag="policies")
def versions_get(policy_id: str, number: int):
    return ok(VersionOut.of(_version(get_or_404(Policy, policy_id), number), body=True))


@api_bp.patch("/policies/<policy_id>/versions/<int:number>")
@require("compliance:write")
@documented(body=VersionIn, response=VersionOut, tag="policies", errors=(409,))
def versions_patch(policy_id: str, number: int):
    """Edit a draft (409 once it is in review, published or retired)."""
    version = _version(get_or_404(Policy, policy_id), number)
    body = parse_body(VersionIn)
    services.update_draft(version, actor=current_actor(), body=body.body, change_note=body.change_note)
    return ok(VersionOut.of(version, body=True))


@api_bp.post("/policies/<policy_id>/versions/<int:number>:request-review")
@require("compliance:write")
@documented(body=PolicyReviewIn, response=ApprovalOut, tag="policies", errors=(409,))
def versions_request_review(policy_id: str, number: int):
    """Send a draft to review: answers the approval request whose approval publishes the version."""
    version = _version(get_or_404(Policy, policy_id), number)
    body = parse_body(PolicyReviewIn)
    approval = services.request_review(version, actor=current_actor(), **body.model_dump())
    return ok(ApprovalOut.of(approval), status=201)


@api_bp.post("/policies/<policy_id>:acknowledge")
@require("policy:read")
@documented(response=AckOut, tag="policies", errors=(409,))
def policies_acknowledge(policy_id: str):
    """Attest that you read the published version (members only; 409 if already done)."""
    policy = get_or_404(Policy, policy_id)
    ack = services.acknowledge(policy, actor=current_actor())
    return ok(AckOut(version=policy.published.number, acknowledged_at=ack.acknowledged_at).model_dump(mode="json"),
              status=201)


@api_bp.get("/policies/<policy_id>/diff")
@require("policy:read")
@documented(response=DiffOut, tag="policies")
def policies_diff(policy_id: str):
    """Line diff between `?from=` and `?to=` version numbers (default: the two newest)."""
    policy = get_or_404(Policy, policy_id)
    numbers = [v.number for v in policy.versions]
    defaults = {"from": str(numbers[-2] if len(numbers) > 1 else numbers[-1]), "to": str(numbers[-1])}
    try:
        old, new = (_version(policy, int(request.args.get(k, defaults[k]))) for k in ("from", "to"))
    except ValueError:
        raise ValidationFailed({"from": ["Give ?from= and ?to= as version numbers."]})
    result = line_diff(old.body, new.body)
    return ok(DiffOut(added=result.added, removed=result.removed,
                      lines=[DiffLineOut(**line.__dict__) for line in result.lines]).model_dump())
