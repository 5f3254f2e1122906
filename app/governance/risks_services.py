"""Risk register operations: record and score risks, treat them, accept them (through the approval
engine above the tenant's threshold), link them to AI systems, controls and cases.

Acceptance: choosing the treatment "accept" for a risk whose residual score (likelihood × impact) is at
or above the tenant's threshold opens a high-impact approval request (subject kind `risk_acceptance`)
and leaves the risk "acceptance pending"; approval accepts it (who and when are kept), rejection,
cancellation or expiry put back the treatment it had before. Below the threshold it is accepted at once.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.models import ApprovalRequest, RequestStatus
from app.approvals.subjects import Subject, SubjectKind, register
from app.compliance.models import Control
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.tenancy import get_or_404
from app.governance.ai_models import AISystem
from app.governance.risks_models import (
    DEFAULT_ACCEPTANCE_THRESHOLD,
    Acceptance,
    Risk,
    RiskAISystemLink,
    RiskCaseLink,
    RiskCategory,
    RiskControlLink,
    RiskSettings,
    RiskStatus,
    Treatment,
)
from app.identity.models import Membership, User
from app.soc.cases.models import Case

SUBJECT_KIND = "risk_acceptance"
TITLE_MAX, DESCRIPTION_MAX, PLAN_MAX, NOTE_MAX = 200, 20_000, 10_000, 2000
MAX_LINKS = 50
SCORE_FIELDS = ("inherent_likelihood", "inherent_impact", "residual_likelihood", "residual_impact")
CATEGORY_LABELS = {RiskCategory.SECURITY: "Security", RiskCategory.PRIVACY: "Privacy",
                   RiskCategory.AI_MODEL: "AI model", RiskCategory.THIRD_PARTY: "Third party",
                   RiskCategory.OPERATIONAL: "Operational", RiskCategory.COMPLIANCE: "Compliance"}
# What each link kind points at: the model, its link table, the link's column, and how to show it.
LINK_KINDS = {
    "ai_systems": (AISystem, RiskAISystemLink, "ai_system_id"),
    "controls": (Control, RiskControlLink, "control_id"),
    "cases": (Case, RiskCaseLink, "case_id"),
}


def today() -> date:
    return utcnow().date()


# --- settings and numbering --------------------------------------------------------------------


def acceptance_threshold() -> int:
    value = db.session.scalar(sa.select(RiskSettings.acceptance_threshold))
    return value if value is not None else DEFAULT_ACCEPTANCE_THRESHOLD


def _settings_row() -> RiskSettings:
    """The tenant's settings row, created on first use (a concurrent first use loses the insert and re-reads)."""
    row = db.session.scalar(sa.select(RiskSettings))
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = RiskSettings(acceptance_threshold=DEFAULT_ACCEPTANCE_THRESHOLD, last_number=0)
            db.session.add(row)
        return row
    except sa.exc.IntegrityError:
        return db.session.scalar(sa.select(RiskSettings))


def _next_number() -> int:
    """The tenant's next risk number: the counter is changed before it is read (UPDATE … RETURNING), so the
    row lock (PostgreSQL) or the write lock (SQLite) serialises concurrent creates; the unique
    (tenant_id, number) constraint is the backstop."""
    bump = (sa.update(RiskSettings).values(last_number=RiskSettings.last_number + 1)
            .returning(RiskSettings.last_number).execution_options(synchronize_session=False))
    number = db.session.scalar(bump)
    if number is None:
        _settings_row()
        number = db.session.scalar(bump)
    return number


@atomic
def set_acceptance_threshold(*, actor: Actor, threshold) -> RiskSettings:
    """Change the residual score at or above which accepting a risk needs an approval."""
    try:
        value = int(str(threshold).strip())
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 25:
        raise ValidationFailed({"acceptance_threshold": ["Give a residual score from 1 to 25 "
                                                         "(likelihood × impact)."]})
    row = _settings_row()
    before = row.acceptance_threshold
    if value != before:
        row.acceptance_threshold = value
        audit.record("risk.threshold_changed", actor=actor, target=row, before={"acceptance_threshold": before},
                     after={"acceptance_threshold": value})
    return row


# --- validation ---------------------------------------------------------------------------------


def _text(value, field: str, limit: int, errors: dict, *, required: bool = False, what: str = "") -> str:
    value = (value or "").strip() if isinstance(value, str | None) else str(value)
    if required and not value:
        errors[field] = [f"Give the {what or field}."]
    elif len(value) > limit:
        errors[field] = [f"Keep the {what or field} under {limit:,} characters."]
    return value


def _choice(value, kind, field: str, errors: dict, what: str):
    try:
        return kind((value or "").strip() if isinstance(value, str) else value)
    except ValueError:
        errors[field] = [f"Choose a {what}: {', '.join(m.value.replace('_', ' ') for m in kind)}."]
        return None


def _score(value, field: str, errors: dict) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= 5:
        errors[field] = ["Choose from 1 (lowest) to 5 (highest)."]
        return None
    return number


def _review_date(value, errors: dict) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors["review_date"] = ["Give the review date as YYYY-MM-DD."]
        return None


def _owner(value, errors: dict) -> int | None:
    """A member of this tenant by user public id (None or "" = nobody)."""
    if value in (None, ""):
        return None
    member = db.session.scalar(sa.select(Membership).join(User).where(
        User.public_id == str(value).strip(), Membership.is_active))
    if member is None:
        errors["owner"] = ["Choose the owner from this tenant's members."]
        return None
    return member.user_id


def _clean(fields: dict, *, partial: bool) -> dict:
    """Validate the given fields; every problem is reported at once, per field."""
    errors: dict[str, list[str]] = {}
    out: dict = {}
    checks = {
        "title": lambda v: _text(v, "title", TITLE_MAX, errors, required=True),
        "description": lambda v: _text(v, "description", DESCRIPTION_MAX, errors),
        "category": lambda v: _choice(v, RiskCategory, "category", errors, "category"),
        "treatment": lambda v: _choice(v, Treatment, "treatment", errors, "treatment"),
        "treatment_plan": lambda v: _text(v, "treatment_plan", PLAN_MAX, errors, what="treatment plan"),
        "review_date": lambda v: _review_date(v, errors),
        "status": lambda v: _choice(v, RiskStatus, "status", errors, "status"),
        **{f: (lambda v, f=f: _score(v, f, errors)) for f in SCORE_FIELDS},
    }
    required = {"title", "category", *SCORE_FIELDS}
    for name, check in checks.items():
        if name in fields:
            out[name] = check(fields[name])
        elif not partial and name in required:
            out[name] = check(None)
    if "owner" in fields:
        out["owner_id"] = _owner(fields["owner"], errors)
    if errors:
        raise ValidationFailed(errors)
    return out


def _snapshot(risk: Risk) -> dict:
    return {"title": risk.title, "category": risk.category.value, "owner": risk.owner.email if risk.owner else None,
            **{f: getattr(risk, f) for f in SCORE_FIELDS}, "treatment": risk.treatment.value,
            "treatment_plan": risk.treatment_plan[:200], "review_date": risk.review_date,
            "status": risk.status.value, "acceptance": risk.acceptance.value,
            "description_length": len(risk.description)}


def _check_version(risk: Risk, version) -> None:
    if version is None:
        return
    try:
        seen = int(version)
    except (TypeError, ValueError):
        seen = -1
    if seen != risk.version:
        raise Conflict(f"{risk.reference} changed while you were editing it. Reload it to see the changes; "
                       "nothing of yours was saved.", {"current_version": risk.version})


def _bump(risk: Risk) -> None:
    """Compare-and-set the version so two writers at the same moment cannot both win."""
    seen = risk.version
    changed = db.session.execute(sa.update(Risk).where(Risk.id == risk.id, Risk.version == seen)
                                 .values(version=seen + 1).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(f"Someone else changed {risk.reference} at the same moment. Reload it; "
                       "nothing of yours was saved.")
    db.session.refresh(risk, ["version"])


# --- risks ----------------------------------------------------------------------------------------


@atomic
def create_risk(*, actor: Actor, approver_role: str = "admin", **fields) -> Risk:
    """Record a risk. Choosing "accept" at once goes through acceptance like a later change would."""
    values = _clean(fields, partial=False)
    treatment = values.pop("treatment", None) or Treatment.MITIGATE
    values.setdefault("status", RiskStatus.OPEN)
    risk = Risk(**values, number=_next_number(), treatment=Treatment.MITIGATE if treatment == Treatment.ACCEPT
                else treatment, acceptance=Acceptance.NONE, version=1)
    db.session.add(risk)
    db.session.flush()
    audit.record("risk.created", actor=actor, target=risk, after=_snapshot(risk))
    if treatment == Treatment.ACCEPT:
        _start_acceptance(risk, actor=actor, approver_role=approver_role)
    return risk


@atomic
def update_risk(risk: Risk, *, actor: Actor, version=None, approver_role: str = "admin", **fields) -> Risk:
    """Change a risk. Only given fields change; a stale `version` is refused. While an acceptance is
    pending, the treatment, residual scores and status are locked (the approvers decide on them)."""
    _check_version(risk, version)
    values = _clean(fields, partial=True)
    before = _snapshot(risk)
    changed = {k for k, v in values.items() if getattr(risk, k) != v}
    if risk.acceptance == Acceptance.PENDING and changed & {"treatment", "residual_likelihood", "residual_impact",
                                                             "status"}:
        raise Conflict(f"The acceptance of {risk.reference} is waiting for approval, so its treatment, residual "
                       "scores and status are locked. Cancel the approval request first; nothing was changed.")
    new_treatment = values.pop("treatment", risk.treatment)
    for key, value in values.items():
        setattr(risk, key, value)
    residual_changed = bool(changed & {"residual_likelihood", "residual_impact"})
    if new_treatment != risk.treatment:
        if new_treatment == Treatment.ACCEPT:
            _start_acceptance(risk, actor=actor, approver_role=approver_role)
        else:
            risk.treatment, risk.acceptance, risk.previous_treatment = new_treatment, Acceptance.NONE, None
            risk.acceptance_outcome, risk.acceptance_by_id, risk.acceptance_at = "", None, None
    elif risk.treatment == Treatment.ACCEPT and residual_changed:
        # An acceptance holds for the scores it was given on: new residual scores are accepted afresh.
        _start_acceptance(risk, actor=actor, approver_role=approver_role, previous=risk.previous_treatment)
    after = _snapshot(risk)
    if after != before:
        _bump(risk)
        audit.record("risk.updated", actor=actor, target=risk, before=before, after=after)
    return risk


@atomic
def accept_risk(risk: Risk, *, actor: Actor, version=None, note: str = "",
                approver_role: str = "admin") -> ApprovalRequest | None:
    """Set the treatment to "accept": the approval request when the residual score needs one, else None."""
    _check_version(risk, version)
    if risk.acceptance == Acceptance.PENDING:
        raise Conflict(f"The acceptance of {risk.reference} is already waiting for approval; nothing was changed.")
    if risk.treatment == Treatment.ACCEPT and risk.acceptance == Acceptance.ACCEPTED:
        raise Conflict(f"{risk.reference} is already accepted; nothing was changed.")
    if risk.status == RiskStatus.CLOSED:
        raise Conflict(f"{risk.reference} is closed; reopen it before accepting it.")
    request = _start_acceptance(risk, actor=actor, approver_role=approver_role, note=note)
    _bump(risk)
    return request


def _start_acceptance(risk: Risk, *, actor: Actor, approver_role: str, note: str = "",
                      previous: Treatment | None = None) -> ApprovalRequest | None:
    previous = previous or (risk.treatment if risk.treatment != Treatment.ACCEPT else Treatment.MITIGATE)
    threshold = acceptance_threshold()
    risk.treatment, risk.previous_treatment = Treatment.ACCEPT, previous
    risk.acceptance_by_id, risk.acceptance_at = None, None
    if risk.residual_score < threshold:
        risk.acceptance, risk.acceptance_outcome = Acceptance.ACCEPTED, "direct"
        risk.acceptance_by_id = actor.user.id if actor.user else None
        risk.acceptance_at = utcnow()
        audit.record("risk.accepted", actor=actor, target=risk, after={
            "residual_score": risk.residual_score, "threshold": threshold, "approval": None})
        return None
    risk.acceptance, risk.acceptance_outcome = Acceptance.PENDING, ""
    db.session.flush()
    request = approvals.create_request(
        actor=actor, subject_kind=SUBJECT_KIND, subject_id=risk.public_id, description=(note or "").strip(),
        steps=[approvals.StepSpec(name="Risk acceptance", role=approver_role, due_hours=7 * 24)])
    audit.record("risk.acceptance_requested", actor=actor, target=risk, after={
        "residual_score": risk.residual_score, "threshold": threshold, "approval": request.reference,
        "previous_treatment": previous.value})
    return request


# --- approval engine callbacks ---------------------------------------------------------------------


def _accepted(subject_id: str, request, actor: Actor) -> None:
    risk = get_or_404(Risk, subject_id, "No such risk.")
    if risk.acceptance != Acceptance.PENDING:
        raise Conflict(f"{risk.reference} is no longer waiting for acceptance, so it cannot be accepted now.")
    risk.acceptance, risk.acceptance_outcome = Acceptance.ACCEPTED, "approved"
    risk.acceptance_by_id, risk.acceptance_at = (actor.user.id if actor.user else None), utcnow()
    _bump(risk)
    audit.record("risk.accepted", actor=actor, target=risk, after={
        "residual_score": risk.residual_score, "approval": request.reference})


def _not_accepted(subject_id: str, request, actor: Actor, outcome: str) -> None:
    risk = get_or_404(Risk, subject_id, "No such risk.")
    if risk.acceptance != Acceptance.PENDING:
        return
    restored = risk.previous_treatment or Treatment.MITIGATE
    risk.treatment, risk.previous_treatment = restored, None
    risk.acceptance, risk.acceptance_outcome = Acceptance.REJECTED, outcome
    risk.acceptance_by_id, risk.acceptance_at = (actor.user.id if actor.user else None), utcnow()
    _bump(risk)
    audit.record("risk.acceptance_ended", actor=actor, target=risk, after={
        "outcome": outcome, "approval": request.reference, "treatment": restored.value})


def risk_link(risk: Risk) -> str:
    return f"/governance/risks/{risk.public_id}"


def _describe(subject_id: str) -> Subject | None:
    risk = db.session.scalar(sa.select(Risk).where(Risk.public_id == subject_id))
    if risk is None:
        return None
    return Subject(title=f"Accept {risk.reference} {risk.title} (residual {risk.residual_score})",
                   link=risk_link(risk))


register(SubjectKind(name=SUBJECT_KIND, label="risk acceptance", describe=_describe, on_approved=_accepted,
                     on_rejected=_not_accepted, high_impact=True, request_permission="compliance:write"))


def open_acceptance(risk: Risk) -> ApprovalRequest | None:
    return db.session.scalar(sa.select(ApprovalRequest).where(
        ApprovalRequest.subject_kind == SUBJECT_KIND, ApprovalRequest.subject_id == risk.public_id,
        ApprovalRequest.status == RequestStatus.PENDING))


# --- links ----------------------------------------------------------------------------------------


def linked(risk: Risk, kind: str) -> list:
    model, link, column = LINK_KINDS[kind]
    return list(db.session.scalars(sa.select(model).join(link, getattr(link, column) == model.id)
                                   .where(link.risk_id == risk.id).order_by(model.id)))


def _objects(kind: str, public_ids: list[str]) -> list:
    model = LINK_KINDS[kind][0]
    ids = list(dict.fromkeys(str(i).strip() for i in public_ids if str(i).strip()))
    if len(ids) > MAX_LINKS:
        raise ValidationFailed({kind: [f"Link at most {MAX_LINKS}."]})
    found = list(db.session.scalars(sa.select(model).where(model.public_id.in_(ids)))) if ids else []
    missing = set(ids) - {o.public_id for o in found}
    if missing:
        raise ValidationFailed({kind: [f"Not found here: {', '.join(sorted(m[:36] for m in missing)[:5])}."]})
    return found


@atomic
def set_links(risk: Risk, *, actor: Actor, version=None, **kinds: list[str] | None) -> Risk:
    """Replace the linked AI systems, controls and/or cases (given as public ids; None leaves a kind as is)."""
    _check_version(risk, version)
    unknown = set(kinds) - set(LINK_KINDS)
    if unknown:
        raise ValidationFailed({sorted(unknown)[0]: ["Link ai_systems, controls or cases."]})
    changes = {}
    for kind, public_ids in kinds.items():
        if public_ids is None:
            continue
        _model, link, column = LINK_KINDS[kind]
        wanted = {o.id: o for o in _objects(kind, public_ids)}
        have = {getattr(row, column): row for row in db.session.scalars(sa.select(link).where(
            link.risk_id == risk.id))}
        added, removed = set(wanted) - set(have), set(have) - set(wanted)
        for target_id in added:
            db.session.add(link(risk_id=risk.id, **{column: target_id}))
        for target_id in removed:
            db.session.delete(have[target_id])
        if added or removed:
            changes[kind] = {"added": sorted(_label(wanted[i]) for i in added), "removed": len(removed)}
    if changes:
        db.session.flush()
        _bump(risk)
        audit.record("risk.links_changed", actor=actor, target=risk, after=changes)
    return risk


def _label(obj) -> str:
    return getattr(obj, "reference", None) or getattr(obj, "key", None) or obj.name


def link_choices(kind: str) -> list:
    model = LINK_KINDS[kind][0]
    order = {"ai_systems": AISystem.name, "controls": Control.key, "cases": Case.number.desc()}[kind]
    return list(db.session.scalars(sa.select(model).order_by(order).limit(500)))


def owners() -> list[User]:
    return list(db.session.scalars(sa.select(User).join(Membership).where(Membership.is_active)
                                   .order_by(User.name, User.email)))
