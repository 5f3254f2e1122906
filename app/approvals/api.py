"""Approvals under /api/v1: list, request, get, approve, reject, cancel, passkey challenge, re-verify.

Decisions use Google-style custom methods (`POST /approvals/{id}:approve`). A high-impact decision
needs a step-up: a passkey assertion over the options from `:challenge` (or, for members without a
passkey, their authenticator code); without one the answer is 401 `step_up_required`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, Field
from webauthn.helpers import base64url_to_bytes

from app.approvals import queries, services
from app.approvals.models import ApprovalDecision, ApprovalRequest, ApprovalStep, Outcome
from app.core.actors import current_actor
from app.core.api import documented, ok, page_limit, paginate, parse_body
from app.core.errors import ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.identity import passkeys

api_bp = Blueprint("approvals_api", __name__)


class StepIn(BaseModel):
    name: str = Field(default="", max_length=120)
    role: str | None = Field(default=None, description="approvers: every member with this role (not the requester)")
    user_ids: list[str] = Field(default_factory=list, max_length=50, description="or: named members (user ids)")
    rule: str = Field(default="any", description="any | all | n_of_m")
    required: int = Field(default=1, description="approvals needed when rule is n_of_m")
    due_hours: int | None = Field(default=None, description="the step expires this long after it starts")


class ApprovalIn(BaseModel):
    subject_type: str = Field(max_length=40, examples=["policy_version"])
    subject_id: str = Field(max_length=36)
    description: str = Field(default="", max_length=5000)
    steps: list[StepIn] = Field(min_length=1, max_length=services.MAX_STEPS)


class StepUpIn(BaseModel):
    assertion: dict[str, Any] | None = Field(default=None, description="navigator.credentials.get() as JSON, "
                                             "over the options from :challenge")
    code: str | None = Field(default=None, max_length=32, description="authenticator code (members without a passkey)")


class DecideIn(BaseModel):
    comment: str = Field(max_length=services.COMMENT_MAX)
    version: int = Field(description="the request's version you decided on; a changed request answers 409")
    step_up: StepUpIn | None = None


class ChallengeIn(BaseModel):
    outcome: str = Field(description="approve | reject")
    version: int


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=500)
    version: int | None = None


class DecisionOut(BaseModel):
    id: str
    user: str = Field(description="the approver's user id")
    user_name: str
    outcome: str
    comment: str
    request_version: int
    step_up_method: str | None = Field(description="passkey | totp | null (not high-impact)")
    created_at: datetime

    @classmethod
    def of(cls, d: ApprovalDecision) -> DecisionOut:
        return cls(id=d.public_id, user=d.user.public_id, user_name=d.user.display_name, outcome=d.outcome.value,
                   comment=d.comment, request_version=d.request_version,
                   step_up_method=d.proof.method if d.proof else None, created_at=d.created_at)


class StepOut(BaseModel):
    position: int
    name: str
    rule: str
    needed: int
    approver_role: str | None
    approvers: list[str]
    status: str
    deadline: datetime | None
    decisions: list[DecisionOut]

    @classmethod
    def of(cls, s: ApprovalStep, people: dict) -> StepOut:
        return cls(position=s.position, name=s.name, rule=s.rule.value, needed=s.needed, approver_role=s.approver_role,
                   approvers=[people[i].public_id for i in s.approver_ids if i in people], status=s.status.value,
                   deadline=s.deadline, decisions=[DecisionOut.of(d) for d in s.decisions])


class ApprovalOut(BaseModel):
    id: str
    reference: str = Field(examples=["APR-12"])
    subject_type: str
    subject_id: str
    title: str = Field(description="as stored: escape it when rendering")
    link: str
    description: str
    status: str = Field(description="pending | approved | rejected | cancelled | expired")
    high_impact: bool
    version: int
    requested_by: str
    created_at: datetime
    closed_at: datetime | None
    steps: list[StepOut]

    @classmethod
    def of(cls, r: ApprovalRequest) -> dict:
        people = queries.people_of(r)
        return cls(id=r.public_id, reference=r.reference, subject_type=r.subject_kind, subject_id=r.subject_id,
                   title=r.title, link=r.link, description=r.description, status=r.status.value,
                   high_impact=r.high_impact, version=r.version, requested_by=r.requested_by.public_id,
                   created_at=r.created_at, closed_at=r.closed_at,
                   steps=[StepOut.of(s, people) for s in r.steps]).model_dump(mode="json")


class VerificationOut(BaseModel):
    decision: str
    status: str = Field(description="verified | failed | not_signed | not_needed")
    message: str


@api_bp.get("/approvals")
@require("approval:read")
@documented(response=ApprovalOut, paged=True, tag="approvals")
def approvals_list():
    """Requests of the tenant, newest first; `?status=pending` filters, `?tab=waiting` lists what waits for you."""
    actor = current_actor()
    tab = request.args.get("tab")
    if tab:
        if tab not in queries.TABS or actor.user is None:
            raise ValidationFailed({"tab": [f"Use one of {', '.join(queries.TABS)} (members only)."]})
        return ok([ApprovalOut.of(r) for r in queries.tab_rows(tab, actor.user)], next_cursor=None)
    status = request.args.get("status") or None
    try:
        stmt = queries.list_statement(status)
    except ValueError:
        raise ValidationFailed({"status": ["Use pending, approved, rejected, cancelled or expired."]})
    rows, cursor = paginate(stmt, ApprovalRequest.id, limit=page_limit(), cursor=request.args.get("cursor"))
    return ok([ApprovalOut.of(r) for r in rows], next_cursor=cursor)


@api_bp.post("/approvals")
@require("approval:request")
@documented(body=ApprovalIn, response=ApprovalOut, tag="approvals", errors=(409,))
def approvals_create():
    """Request approval of a subject (registered types: policy_version, ...) through ordered steps."""
    body = parse_body(ApprovalIn)
    req = services.create_request(actor=current_actor(), subject_kind=body.subject_type, subject_id=body.subject_id,
                                  description=body.description,
                                  steps=[services.StepSpec(**s.model_dump()) for s in body.steps])
    return ok(ApprovalOut.of(req), status=201)


@api_bp.get("/approvals/<request_id>")
@require("approval:read")
@documented(response=ApprovalOut, tag="approvals")
def approvals_get(request_id: str):
    return ok(ApprovalOut.of(get_or_404(ApprovalRequest, request_id)))


def _decide(request_id: str, outcome: Outcome):
    req = get_or_404(ApprovalRequest, request_id)
    body = parse_body(DecideIn)
    answer = None
    if body.step_up is not None:
        assertion = body.step_up.assertion
        # An API client has no session to remember the challenge; the signed challenge names its own row.
        digest = _signed_challenge_digest(assertion) if assertion else None
        answer = services.StepUpAnswer(assertion=assertion, challenge_hash=digest, code=body.step_up.code)
    services.decide(req, actor=current_actor(), outcome=outcome, comment=body.comment, version=body.version,
                    step_up=answer)
    return ok(ApprovalOut.of(req))


def _signed_challenge_digest(assertion: dict) -> str | None:
    try:
        client_data = base64url_to_bytes(assertion["response"]["clientDataJSON"])
        challenge = base64url_to_bytes(json.loads(client_data)["challenge"])
    except (KeyError, TypeError, ValueError):
        return None
    return passkeys.challenge_digest(challenge)


@api_bp.post("/approvals/<request_id>:approve")
@require("approval:decide")
@documented(body=DecideIn, response=ApprovalOut, tag="approvals", errors=(401, 409))
def approvals_approve(request_id: str):
    """Approve the current step (not your own request); high-impact subjects need `step_up`."""
    return _decide(request_id, Outcome.APPROVE)


@api_bp.post("/approvals/<request_id>:reject")
@require("approval:decide")
@documented(body=DecideIn, response=ApprovalOut, tag="approvals", errors=(401, 409))
def approvals_reject(request_id: str):
    """Reject the current step; high-impact subjects need `step_up`."""
    return _decide(request_id, Outcome.REJECT)


@api_bp.post("/approvals/<request_id>:challenge")
@require("approval:decide")
@documented(body=ChallengeIn, tag="approvals", errors=(409,))
def approvals_challenge(request_id: str):
    """WebAuthn request options whose challenge commits to this request, outcome and version."""
    req = get_or_404(ApprovalRequest, request_id)
    body = parse_body(ChallengeIn)
    if body.outcome not in {o.value for o in Outcome}:
        raise ValidationFailed({"outcome": ["Use approve or reject."]})
    options, _digest = services.step_up_options(req, actor=current_actor(), outcome=body.outcome,
                                                version=body.version)
    return ok(json.loads(options))


@api_bp.post("/approvals/<request_id>:cancel")
@require("approval:read")
@documented(body=CancelIn, response=ApprovalOut, tag="approvals", errors=(409,))
def approvals_cancel(request_id: str):
    """Cancel an open request (its requester or an admin)."""
    req = get_or_404(ApprovalRequest, request_id)
    body = parse_body(CancelIn)
    services.cancel(req, actor=current_actor(), reason=body.reason, version=body.version)
    return ok(ApprovalOut.of(req))


@api_bp.post("/approvals/<request_id>:verify")
@require("approval:read")
@documented(response=VerificationOut, tag="approvals")
def approvals_verify(request_id: str):
    """Re-verify every decision's stored passkey signature against the stored key and the decision it names."""
    req = get_or_404(ApprovalRequest, request_id)
    results = services.verify_decisions(req, actor=current_actor())
    return ok([VerificationOut(decision=d.public_id, status=v.status, message=v.message).model_dump()
               for d, v in results])
