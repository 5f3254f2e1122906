"""The approval engine: make a request, decide on it step by step, cancel it, expire it, re-verify decisions.

Every change bumps the request's `version` with a compare-and-set UPDATE, so a stale form or two
approvers deciding at the same moment cannot both win (the loser gets a 409 and nothing changes).
Decisions on high-impact subjects need a fresh step-up whose passkey challenge commits to this
request, this outcome and the version the approver saw; the proof is stored with the decision.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.approvals import notifications
from app.approvals.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStep,
    Outcome,
    RequestStatus,
    Rule,
    StepStatus,
)
from app.approvals.subjects import get_kind
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, DomainError, Forbidden, Unauthorized, ValidationFailed
from app.core.permissions import Role, permissions_for_role
from app.identity import passkeys, stepup
from app.identity.models import Membership, User

MAX_STEPS = 10
COMMENT_MAX = 2000
DESCRIPTION_MAX = 5000
MAX_DUE_HOURS = 24 * 90
STATUS_WORDS = {RequestStatus.APPROVED: "approved", RequestStatus.REJECTED: "rejected",
                RequestStatus.CANCELLED: "cancelled", RequestStatus.EXPIRED: "expired"}


class StepUpRequired(Unauthorized):
    """This decision needs a fresh confirmation with your passkey (or authenticator code)."""

    code = "step_up_required"


@dataclass(frozen=True)
class StepSpec:
    """One step as asked for: a role or named members (public ids), a rule, an optional time limit."""

    name: str = ""
    role: str | None = None
    user_ids: list[str] = field(default_factory=list)
    rule: str = Rule.ANY
    required: int = 1
    due_hours: int | None = None


@dataclass(frozen=True)
class StepUpAnswer:
    """What the approver sent to confirm: a passkey assertion (with its challenge's hash) or a TOTP code."""

    assertion: dict | str | None = None
    challenge_hash: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Verification:
    status: str  # verified | failed | not_signed | not_needed
    message: str


# --- making a request ------------------------------------------------------------------------


def _deciders(user_ids) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))) if user_ids else []


def _eligible_members(requester: User) -> list[Membership]:
    """Active members who hold approval:decide, the requester excluded (nobody approves their own request)."""
    members = db.session.scalars(sa.select(Membership).where(Membership.is_active).order_by(Membership.id))
    return [m for m in members if m.user_id != requester.id and m.user.is_active
            and "approval:decide" in permissions_for_role(m.role)]


def _resolve_step(spec: StepSpec, position: int, requester: User) -> ApprovalStep:
    where = f"steps.{position - 1}"
    try:
        rule = Rule(spec.rule)
    except ValueError:
        raise ValidationFailed({f"{where}.rule": ["Choose any, all or n_of_m."]})
    eligible = _eligible_members(requester)
    if spec.role and spec.user_ids:
        raise ValidationFailed({where: ["Name either a role or members, not both."]})
    if spec.role:
        if spec.role not in {r.value for r in Role}:
            raise ValidationFailed({f"{where}.role": [f"Unknown role “{spec.role[:20]}”."]})
        ids = [m.user_id for m in eligible if m.role == spec.role]
    elif spec.user_ids:
        if requester.public_id in spec.user_ids:
            raise ValidationFailed({f"{where}.user_ids": ["You cannot approve your own request; name someone else."]})
        by_public = {m.user.public_id: m.user_id for m in eligible}
        unknown = [u for u in spec.user_ids if u not in by_public]
        if unknown:
            raise ValidationFailed({f"{where}.user_ids": [
                f"Not a member who can approve: {', '.join(u[:36] for u in unknown[:5])}."]})
        ids = list(dict.fromkeys(by_public[u] for u in spec.user_ids))
    else:
        raise ValidationFailed({where: ["Name the approvers: a role or one or more members."]})
    if not ids:
        raise ValidationFailed({where: [f"Nobody besides you holds the {spec.role} role and may approve."]})
    required = spec.required if rule == Rule.N_OF_M else 1
    if rule == Rule.N_OF_M and not 1 <= required <= len(ids):
        raise ValidationFailed({f"{where}.required": [f"Choose between 1 and {len(ids)} approvals."]})
    if spec.due_hours is not None and not 1 <= spec.due_hours <= MAX_DUE_HOURS:
        raise ValidationFailed({f"{where}.due_hours": [f"Give between 1 and {MAX_DUE_HOURS} hours."]})
    return ApprovalStep(position=position, name=(spec.name or "").strip()[:120] or f"Step {position}", rule=rule,
                        required=required, approver_role=spec.role or None, approver_ids=ids,
                        due_hours=spec.due_hours)


@atomic
def create_request(*, actor: Actor, subject_kind: str, subject_id: str, steps: list[StepSpec],
                   description: str = "") -> ApprovalRequest:
    """Ask for approval of a subject through ordered steps; the first step's approvers are notified."""
    kind = get_kind(subject_kind)
    if actor.user is None:
        raise Forbidden("Only a member can request an approval (an API key cannot be the requester).")
    if not actor.can(kind.request_permission):
        raise Forbidden(f"Requesting approval of a {kind.label} needs the “{kind.request_permission}” permission.")
    subject = kind.describe(subject_id)
    if subject is None:
        raise ValidationFailed({"subject_id": [f"No {kind.label} with id “{subject_id[:36]}” here."]})
    if not steps or len(steps) > MAX_STEPS:
        raise ValidationFailed({"steps": [f"Give between 1 and {MAX_STEPS} steps."]})
    if len(description or "") > DESCRIPTION_MAX:
        raise ValidationFailed({"description": [f"Keep the description under {DESCRIPTION_MAX} characters."]})
    pending = db.session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.subject_kind == kind.name, ApprovalRequest.subject_id == subject_id,
        ApprovalRequest.status == RequestStatus.PENDING))
    if pending:
        raise Conflict(f"This {kind.label} already has an open approval request (APR-{pending}).")
    request = ApprovalRequest(subject_kind=kind.name, subject_id=subject_id, title=subject.title[:200],
                              link=subject.link[:500], description=(description or "").strip(),
                              high_impact=kind.high_impact, requested_by_id=actor.user.id,
                              steps=[_resolve_step(s, i, actor.user) for i, s in enumerate(steps, start=1)])
    db.session.add(request)
    db.session.flush()
    audit.record("approval.requested", actor=actor, target=request, after={
        "subject": f"{kind.name}:{subject_id}", "high_impact": request.high_impact,
        "steps": [{"name": s.name, "rule": s.rule.value, "needed": s.needed, "role": s.approver_role,
                   "approvers": len(s.approver_ids), "due_hours": s.due_hours} for s in request.steps]})
    _activate(request.steps[0], request)
    return request


def _activate(step: ApprovalStep, request: ApprovalRequest) -> None:
    now = utcnow()
    step.status, step.started_at = StepStatus.ACTIVE, now
    step.deadline = now + timedelta(hours=step.due_hours) if step.due_hours else None
    notifications.notify(step.approver_ids, kind="approval.waiting", title=f"Approval needed: {request.title}",
                         link=f"/approvals/{request.public_id}",
                         body=f"{request.requested_by.display_name} asks for your decision ({step.name}).")


# --- deciding --------------------------------------------------------------------------------


def decision_action(request: ApprovalRequest, outcome: str, version: int) -> str:
    """The step-up action a passkey signs for one decision: this request, this outcome, this version."""
    return f"approval:{Outcome(outcome).value}:{request.public_id}:v{int(version)}"


def _refuse(request: ApprovalRequest, actor: Actor, exc: DomainError, reason: str) -> None:
    """Audit a refused decision that matters for security (self-approval, not an approver), then raise."""
    db.session.rollback()
    audit.record("approval.decision_refused", actor=actor, target=request, after={"reason": reason})
    db.session.commit()
    raise exc


def check_can_decide(request: ApprovalRequest, actor: Actor, version: int | None) -> ApprovalStep:
    """The step this actor may decide now, or the reason they may not (nothing is changed)."""
    if request.status != RequestStatus.PENDING:
        raise Conflict(f"This request was already {STATUS_WORDS[request.status]}; nothing was changed.")
    step = request.current_step
    if actor.user is None:
        raise Forbidden("Only a member can decide (an API key cannot approve).")
    if actor.user.id == request.requested_by_id:
        _refuse(request, actor, Forbidden("You requested this, so you cannot approve or reject it."), "own request")
    if step is None or actor.user.id not in step.approver_ids:
        _refuse(request, actor, Forbidden("You are not an approver of the current step of this request."),
                "not an approver")
    mine = next((d for d in step.decisions if d.user_id == actor.user.id), None)
    if mine is not None:
        raise Conflict(f"You already {'approved' if mine.outcome == Outcome.APPROVE else 'rejected'} this step; "
                       "nothing was changed.")
    if step.is_overdue:
        raise Conflict("The deadline of this step has passed, so the request is expiring; nothing was changed.")
    if version is None or int(version) != request.version:
        raise Conflict("This request changed while you were looking at it (someone decided, or it moved on). "
                       "Review it again, then decide; nothing was changed.", {"current_version": request.version})
    return step


def _clean_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed({"comment": ["Say why, in a comment: it is kept with your decision."]})
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed({"comment": [f"Keep the comment under {COMMENT_MAX} characters."]})
    return comment


def _confirm(request: ApprovalRequest, actor: Actor, outcome: Outcome, version: int, answer: StepUpAnswer | None):
    """Verify the step-up for a high-impact decision and return the stored proof."""
    method = stepup.method_for(actor.user)
    if method is None:
        raise Forbidden("Decisions on this request need a passkey or an authenticator app on your account; "
                        "set one up under Account security.")
    action = decision_action(request, outcome, version)
    if answer and answer.assertion and method == "passkey":
        return stepup.verify_passkey(action, answer.assertion, challenge_hash=answer.challenge_hash, actor=actor)
    if answer and answer.code and method == "totp":
        return stepup.verify_totp(action, answer.code, actor=actor)
    raise StepUpRequired("Confirm it’s you with your passkey to decide on this request." if method == "passkey"
                         else "Enter the code from your authenticator app to decide on this request.",
                         {"method": method, "version": request.version})


def _bump(request: ApprovalRequest, seen: int) -> None:
    changed = db.session.execute(sa.update(ApprovalRequest).where(
        ApprovalRequest.id == request.id, ApprovalRequest.version == seen)
        .values(version=ApprovalRequest.version + 1).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("Someone else decided on this request at the same moment. Review it again; "
                       "nothing of yours was saved.")
    db.session.refresh(request, ["version"])


@atomic
def decide(request: ApprovalRequest, *, actor: Actor, outcome: str, comment: str | None, version: int | None,
           step_up: StepUpAnswer | None = None) -> ApprovalDecision:
    """Record one approver's approve or reject on the current step, and move the request on."""
    outcome = Outcome(outcome)
    step = check_can_decide(request, actor, version)
    comment = _clean_comment(comment)
    proof = _confirm(request, actor, outcome, request.version, step_up) if request.high_impact else None
    _bump(request, int(version))
    decision = ApprovalDecision(request_id=request.id, step_id=step.id, user_id=actor.user.id, outcome=outcome,
                                comment=comment, request_version=int(version),
                                stepup_proof_id=proof.id if proof else None)
    step.decisions.append(decision)
    db.session.flush()
    notifications.settle(actor.user.id, f"/approvals/{request.public_id}")
    audit.record("approval.decided", actor=actor, target=request, after={
        "step": step.position, "outcome": outcome.value, "comment": comment[:200], "decision": decision.public_id,
        "proof": proof.public_id if proof else None, "method": proof.method if proof else None})
    _advance(request, step, actor)
    return decision


def _advance(request: ApprovalRequest, step: ApprovalStep, actor: Actor) -> None:
    now = utcnow()
    if step.approvals >= step.needed:
        step.status, step.completed_at = StepStatus.APPROVED, now
        following = next((s for s in request.steps if s.position > step.position), None)
        if following is not None:
            _activate(following, request)
            audit.record("approval.step_approved", actor=actor, target=request,
                         after={"step": step.position, "next": following.position})
            return
        _close(request, RequestStatus.APPROVED, actor=actor)
    elif step.rejections > len(step.approver_ids) - step.needed:
        # The step can no longer reach its threshold (for "all", any rejection; for "any", everyone's).
        step.status, step.completed_at = StepStatus.REJECTED, now
        _close(request, RequestStatus.REJECTED, actor=actor)


def _close(request: ApprovalRequest, status: RequestStatus, *, actor: Actor, reason: str = "") -> None:
    request.status, request.closed_at, request.close_reason = status, utcnow(), reason[:500]
    for step in request.steps:
        if step.status in (StepStatus.ACTIVE, StepStatus.WAITING):
            step.status = StepStatus.CLOSED
    kind = get_kind(request.subject_kind)
    if status == RequestStatus.APPROVED:
        kind.on_approved(request.subject_id, request, actor)
    else:
        kind.on_rejected(request.subject_id, request, actor, status.value)
    audit.record(f"approval.{status.value}", actor=actor, target=request,
                 after={"subject": f"{request.subject_kind}:{request.subject_id}", "reason": reason or None})
    notifications.notify([request.requested_by_id], kind=f"approval.{status.value}",
                         title=f"Your request was {STATUS_WORDS[status]}: {request.title}",
                         link=f"/approvals/{request.public_id}")


@atomic
def cancel(request: ApprovalRequest, *, actor: Actor, reason: str = "", version: int | None = None) -> ApprovalRequest:
    """Withdraw an open request (its requester or an admin); the subject goes back as it was."""
    if request.status != RequestStatus.PENDING:
        raise Conflict(f"This request was already {STATUS_WORDS[request.status]}; nothing was changed.")
    if actor.user is None or (actor.user.id != request.requested_by_id and actor.role != Role.ADMIN):
        raise Forbidden("Only the requester or an admin can cancel this request.")
    if version is not None and int(version) != request.version:
        raise Conflict("This request changed while you were looking at it. Review it again; nothing was changed.")
    _bump(request, request.version)
    _close(request, RequestStatus.CANCELLED, actor=actor, reason=(reason or "").strip())
    return request


def expire_overdue(*, actor: Actor, now: datetime | None = None) -> list[ApprovalRequest]:
    """Expire every open request of the current tenant whose active step is past its deadline."""
    now = now or utcnow()
    overdue = db.session.scalars(sa.select(ApprovalRequest).join(ApprovalStep).where(
        ApprovalRequest.status == RequestStatus.PENDING, ApprovalStep.status == StepStatus.ACTIVE,
        ApprovalStep.deadline <= now)).unique().all()
    return [_expire(request, actor=actor) for request in overdue]


@atomic
def _expire(request: ApprovalRequest, *, actor: Actor) -> ApprovalRequest:
    _bump(request, request.version)
    _close(request, RequestStatus.EXPIRED, actor=actor, reason="the step's deadline passed")
    return request


# --- step-up options and re-verification ----------------------------------------------------


def step_up_options(request: ApprovalRequest, *, actor: Actor, outcome: str, version: int) -> tuple[str, str]:
    """WebAuthn options whose challenge commits to this decision (request, outcome, version seen)."""
    check_can_decide(request, actor, version)
    action = decision_action(request, outcome, version)
    challenge = secrets.token_bytes(32) + stepup.binding(action, actor.user.public_id, actor.tenant.public_id)
    return passkeys.authentication_options("stepup", user=actor.user, action=action, challenge=challenge)


def verification_of(decision: ApprovalDecision, request: ApprovalRequest) -> Verification:
    """Re-check a decision's stored step-up: the signature, the key, and that it signed exactly this decision."""
    proof = decision.proof
    if proof is None:
        return Verification("not_needed", "No step-up was needed: the subject is not high-impact.")
    if proof.method != "passkey":
        return Verification("not_signed", "Confirmed with an authenticator code: there is no signature to re-check.")
    expected = decision_action(request, decision.outcome, decision.request_version)
    if proof.action != expected or proof.user_id != decision.user_id or not stepup.reverify(proof):
        return Verification("failed", "The stored passkey signature does NOT verify for this decision.")
    word = "approval" if decision.outcome == Outcome.APPROVE else "rejection"
    return Verification("verified", f"The passkey signature of {decision.user.display_name} verifies for this "
                                     f"{word} of {request.reference}.")


@atomic
def verify_decisions(request: ApprovalRequest, *, actor: Actor) -> list[tuple[ApprovalDecision, Verification]]:
    """Re-verify every decision of the request and record that it was checked."""
    results = [(d, verification_of(d, request)) for s in request.steps for d in s.decisions]
    audit.record("approval.verified", actor=actor, target=request,
                 after={d.public_id: v.status for d, v in results})
    return results
