"""AI system inventory operations: record and edit systems, classify them under the EU AI Act, go live.

Classification: the questionnaire's answers are saved step by step in a draft (one per system), so an
unfinished questionnaire is never lost; completing it stores the outcome, supersedes the previous
classification (kept as history) and sets the system's `risk_tier` and `ai_act_role`.

Go-live: a high-risk system goes live through a high-impact approval request (subject kind
`ai_go_live`) and waits in `awaiting_go_live`; the engine calls back: approval → live, rejection,
cancellation or expiry → the status it had before. Other classified systems go live directly;
prohibited ones never do, and unclassified ones must be classified first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlparse

import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.subjects import Subject, SubjectKind, register
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.tenancy import get_or_404
from app.governance import ai_classification as questionnaire
from app.governance.ai_models import (
    AIClassification,
    AISystem,
    ClassificationStatus,
    DeploymentStatus,
    RiskTier,
    SystemKind,
)
from app.identity.models import Membership, User

NAME_MAX, PROVIDER_MAX, AFFECTED_MAX, TEXT_MAX, ITEM_MAX = 200, 200, 500, 10_000, 120
MAX_ITEMS, MAX_LINKS = 30, 20
SUBJECT_KIND = "ai_go_live"
FRAMEWORK_KEY = "eu-ai-act-2024"
# Statuses a person sets; awaiting_go_live belongs to the approval flow, live goes through request_go_live.
SETTABLE_STATUSES = (DeploymentStatus.PLANNED, DeploymentStatus.IN_DEVELOPMENT, DeploymentStatus.PILOT,
                     DeploymentStatus.LIVE, DeploymentStatus.RETIRED)
FIELDS = ("name", "kind", "purpose", "owner", "provider", "models", "deployment_status", "data_categories",
          "personal_data", "special_category_data", "affected_users", "human_oversight", "links")


# --- validation ------------------------------------------------------------------------------------


def _text(value, field: str, limit: int, *, required: bool = False, what: str = "") -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        raise ValidationFailed({field: ["Give text here."]})
    if required and not value:
        raise ValidationFailed({field: [f"Give the {what or field}."]})
    if len(value) > limit:
        raise ValidationFailed({field: [f"Keep the {what or field} under {limit:,} characters."]})
    return value


def _items(raw, field: str) -> list[str]:
    """A list from JSON, or from text with one item per line or comma-separated."""
    items = re.split(r"[\n,]+", raw) if isinstance(raw, str) else list(raw or [])
    items = list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
    if len(items) > MAX_ITEMS:
        raise ValidationFailed({field: [f"List at most {MAX_ITEMS}."]})
    if any(len(i) > ITEM_MAX for i in items):
        raise ValidationFailed({field: [f"Keep each entry under {ITEM_MAX} characters."]})
    return items


def _links(raw) -> list[dict]:
    """Links as [{"label", "url"}], or text lines "Label | https://..." (or just the URL)."""
    if isinstance(raw, str):
        rows = []
        for line in (x.strip() for x in raw.splitlines()):
            if line:
                label, _, url = line.rpartition("|") if "|" in line else ("", "", line)
                rows.append({"label": label.strip(), "url": url.strip()})
    else:
        rows = [dict(r) if isinstance(r, Mapping) else {"label": "", "url": str(r)} for r in (raw or [])]
    if len(rows) > MAX_LINKS:
        raise ValidationFailed({"links": [f"Give at most {MAX_LINKS} links."]})
    links = []
    for row in rows:
        url, label = str(row.get("url") or "").strip(), str(row.get("label") or "").strip()
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 500:
            raise ValidationFailed({"links": [f"“{url[:60]}” is not a web address; start it with https://."]})
        links.append({"label": label[:ITEM_MAX] or parsed.netloc, "url": url})
    return links


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "yes", "on", "y")


def _choice(enum, value, field: str, allowed=None):
    try:
        chosen = enum(str(value or "").strip())
    except ValueError:
        chosen = None
    allowed = allowed or list(enum)
    if chosen not in allowed:
        raise ValidationFailed({field: [f"Choose one of: {', '.join(a.value for a in allowed)}."]})
    return chosen


def _owner(value) -> int | None:
    if not value:
        return None
    user = db.session.scalar(sa.select(User).join(Membership, Membership.user_id == User.id).where(
        User.public_id == str(value), Membership.is_active))
    if user is None:
        raise ValidationFailed({"owner": ["Choose an active member of this organisation as owner."]})
    return user.id


def _clean(values: Mapping, *, partial: bool) -> dict:
    """Validated column values for the fields present (all of FIELDS when not partial)."""
    errors, clean = {}, {}
    cleaners = {
        "name": lambda v: _text(v, "name", NAME_MAX, required=True),
        "kind": lambda v: _choice(SystemKind, v or "system", "kind"),
        "purpose": lambda v: _text(v, "purpose", TEXT_MAX, required=True, what="intended purpose"),
        "owner": _owner,
        "provider": lambda v: _text(v, "provider", PROVIDER_MAX),
        "models": lambda v: _items(v, "models"),
        "deployment_status": lambda v: _choice(DeploymentStatus, v or "planned", "deployment_status",
                                               SETTABLE_STATUSES),
        "data_categories": lambda v: _items(v, "data_categories"),
        "personal_data": _flag, "special_category_data": _flag,
        "affected_users": lambda v: _text(v, "affected_users", AFFECTED_MAX),
        "human_oversight": lambda v: _text(v, "human_oversight", TEXT_MAX),
        "links": _links,
    }
    for name in FIELDS:
        if partial and name not in values:
            continue
        try:
            clean["owner_id" if name == "owner" else name] = cleaners[name](values.get(name))
        except ValidationFailed as exc:
            errors |= exc.field_errors
    if clean.get("special_category_data"):
        clean["personal_data"] = True  # special-category data is personal data (GDPR Art. 9)
    if errors:
        raise ValidationFailed(errors)
    return clean


def _snapshot(system: AISystem) -> dict:
    return {"name": system.name, "kind": system.kind.value, "purpose": system.purpose, "owner_id": system.owner_id,
            "provider": system.provider, "models": list(system.models),
            "deployment_status": system.deployment_status.value, "data_categories": list(system.data_categories),
            "personal_data": system.personal_data, "special_category_data": system.special_category_data,
            "affected_users": system.affected_users, "human_oversight": system.human_oversight,
            "links": [dict(link) for link in system.links]}


def _name_taken(name: str, system: AISystem | None = None) -> None:
    stmt = sa.select(AISystem.id).where(sa.func.lower(AISystem.name) == name.lower())
    if system is not None:
        stmt = stmt.where(AISystem.id != system.id)
    if db.session.scalar(stmt):
        raise ValidationFailed({"name": [f"An AI system named “{name[:60]}” already exists."]})


# --- systems ---------------------------------------------------------------------------------------


@atomic
def create_system(*, actor: Actor, **values) -> AISystem:
    """Record an AI system (unclassified; it goes live only once classified)."""
    clean = _clean(values, partial=False)
    if clean["deployment_status"] == DeploymentStatus.LIVE:
        raise ValidationFailed({"deployment_status": ["A new system cannot start live: save it, classify it under "
                                                      "the EU AI Act, then set it live."]})
    _name_taken(clean["name"])
    system = AISystem(**clean)
    db.session.add(system)
    db.session.flush()
    audit.record("ai_system.created", actor=actor, target=system, after=_snapshot(system))
    return system


@atomic
def update_system(system: AISystem, *, actor: Actor, **values):
    """Change a system's facts; setting it live goes through `request_go_live` (→ the approval or None)."""
    if values.get("deployment_status") == system.deployment_status.value:
        values.pop("deployment_status")  # unchanged (awaiting_go_live included, which nobody sets by hand)
    clean = _clean(values, partial=True)
    if "name" in clean:
        _name_taken(clean["name"], system)
    status = clean.pop("deployment_status", None)
    before = _snapshot(system)
    for name, value in clean.items():
        setattr(system, name, value)
    after = _snapshot(system)
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        audit.record("ai_system.updated", actor=actor, target=system, before={k: before[k] for k in sorted(changed)},
                     after={k: after[k] for k in sorted(changed)})
    if status is None or status == system.deployment_status:
        return None
    if status == DeploymentStatus.LIVE:
        return request_go_live(system, actor=actor)
    _set_status(system, status, actor=actor)
    return None


def _set_status(system: AISystem, status: DeploymentStatus, *, actor: Actor) -> None:
    if system.deployment_status == DeploymentStatus.AWAITING_GO_LIVE:
        raise Conflict("A go-live approval is open for this system; cancel it in Approvals before changing the "
                       "status. Nothing else was lost.")
    audit.record("ai_system.status_changed", actor=actor, target=system,
                 before={"deployment_status": system.deployment_status.value},
                 after={"deployment_status": status.value})
    system.deployment_status = status


@atomic
def request_go_live(system: AISystem, *, actor: Actor, approver_role: str = "admin", note: str = ""):
    """Take a system live: directly, or through an approval when it is high-risk. Returns the approval or None."""
    if system.deployment_status == DeploymentStatus.LIVE:
        raise Conflict(f"{system.name} is already live.")
    if system.deployment_status == DeploymentStatus.AWAITING_GO_LIVE:
        raise Conflict(f"{system.name} is already waiting for its go-live approval.")
    if system.risk_tier == RiskTier.PROHIBITED:
        raise Conflict(f"{system.name} is classified as a prohibited AI practice (EU AI Act Article 5) and cannot "
                       "go live. Redesign it and classify it again.")
    if system.risk_tier == RiskTier.UNCLASSIFIED:
        raise Conflict(f"Classify {system.name} under the EU AI Act before it goes live.")
    if system.risk_tier != RiskTier.HIGH:
        _set_status(system, DeploymentStatus.LIVE, actor=actor)
        return None
    previous = system.deployment_status
    system.status_before_go_live, system.deployment_status = previous, DeploymentStatus.AWAITING_GO_LIVE
    audit.record("ai_system.go_live_requested", actor=actor, target=system,
                 before={"deployment_status": previous.value},
                 after={"deployment_status": DeploymentStatus.AWAITING_GO_LIVE.value, "approver_role": approver_role})
    return approvals.create_request(
        actor=actor, subject_kind=SUBJECT_KIND, subject_id=system.public_id,
        description=note or f"High-risk AI system ({current_label(system)}): approve putting it into service.",
        steps=[approvals.StepSpec(name="Go-live approval", role=approver_role, due_hours=7 * 24)])


def _go_live(subject_id: str, request, actor: Actor) -> None:
    system = get_or_404(AISystem, subject_id, "No such AI system.")
    if system.deployment_status != DeploymentStatus.AWAITING_GO_LIVE:
        raise Conflict(f"{system.name} is no longer waiting to go live, so it cannot go live now.")
    if system.risk_tier == RiskTier.PROHIBITED:
        raise Conflict(f"{system.name} has since been classified as prohibited and cannot go live.")
    system.deployment_status, system.status_before_go_live = DeploymentStatus.LIVE, None
    audit.record("ai_system.went_live", actor=actor, target=system, after={"approval": request.reference})


def _go_live_ended(subject_id: str, request, actor: Actor, outcome: str) -> None:
    system = get_or_404(AISystem, subject_id, "No such AI system.")
    if system.deployment_status == DeploymentStatus.AWAITING_GO_LIVE:
        back = system.status_before_go_live or DeploymentStatus.PILOT
        system.deployment_status, system.status_before_go_live = back, None
        audit.record("ai_system.go_live_ended", actor=actor, target=system,
                     after={"outcome": outcome, "approval": request.reference, "deployment_status": back.value})


def system_link(system: AISystem) -> str:
    return f"/governance/ai-systems/{system.public_id}"


def _describe(subject_id: str) -> Subject | None:
    system = db.session.scalar(sa.select(AISystem).where(AISystem.public_id == subject_id))
    if system is None:
        return None
    return Subject(title=f"Go-live of {system.name}", link=system_link(system))


register(SubjectKind(name=SUBJECT_KIND, label="AI system go-live", describe=_describe, on_approved=_go_live,
                     on_rejected=_go_live_ended, high_impact=True, request_permission="compliance:write"))


# --- classification --------------------------------------------------------------------------------


def current_classification(system: AISystem) -> AIClassification | None:
    return db.session.scalar(sa.select(AIClassification).where(
        AIClassification.system_id == system.id, AIClassification.status == ClassificationStatus.COMPLETED))


def draft_of(system: AISystem) -> AIClassification | None:
    return db.session.scalar(sa.select(AIClassification).where(
        AIClassification.system_id == system.id, AIClassification.status == ClassificationStatus.DRAFT))


def classification_history(system: AISystem) -> list[AIClassification]:
    """Completed and superseded classifications, newest first."""
    return list(db.session.scalars(sa.select(AIClassification).where(
        AIClassification.system_id == system.id, AIClassification.status != ClassificationStatus.DRAFT)
        .order_by(AIClassification.id.desc())))


def _draft(system: AISystem, actor: Actor) -> AIClassification:
    draft = draft_of(system)
    if draft is None:
        # A reclassification starts from the current answers, so only what changed needs answering.
        current = current_classification(system)
        draft = AIClassification(system_id=system.id, system=system, answers=dict(current.answers) if current else {},
                                 created_by_id=actor.user.id if actor.user else None)
        db.session.add(draft)
        db.session.flush()
    return draft


@atomic
def save_answers(system: AISystem, *, actor: Actor, step: str, raw: Mapping) -> tuple[AIClassification, dict]:
    """Keep one step's answers in the system's draft; returns the draft and what is still missing in that step.

    Missing answers are reported, not raised: the valid ones are saved either way.
    """
    draft = _draft(system, actor)
    stored, errors = questionnaire.clean_step(step, raw, draft.answers)
    answers = questionnaire.merge_step(draft.answers, step, stored)
    if answers != draft.answers:
        audit.record("ai_classification.answers_saved", actor=actor, target=system,
                     after={"classification": draft.public_id, "step": step, "answers": stored})
        draft.answers = answers
    return draft, errors


def _api_errors(errors: dict) -> dict:
    return {f"answers.{k}": v for k, v in errors.items()}


@atomic
def complete_classification(system: AISystem, *, actor: Actor, answers: Mapping | None = None) -> AIClassification:
    """Finish the questionnaire (the draft's answers, or `answers` given whole): store the outcome as current."""
    if answers is not None:
        if not isinstance(answers, Mapping):
            raise ValidationFailed({"answers": ["Give the answers as an object keyed by question."]})
        clean, errors = questionnaire.clean_all(answers)
        if errors:
            raise ValidationFailed(_api_errors(errors))
        draft = _draft(system, actor)
        draft.answers = clean
    else:
        draft = draft_of(system)
        if draft is None:
            raise Conflict("There is no questionnaire in progress for this system; start one first.")
        errors = questionnaire.missing(draft.answers)
        if errors:
            raise ValidationFailed(errors, message=f"{len(errors)} question(s) still need an answer; your answers "
                                   "so far are kept.")
    outcome = questionnaire.classify(draft.answers)
    now = utcnow()
    previous = current_classification(system)
    if previous is not None:
        previous.status, previous.superseded_at = ClassificationStatus.SUPERSEDED, now
    draft.status, draft.completed_at = ClassificationStatus.COMPLETED, now
    draft.completed_by_id = actor.user.id if actor.user else None
    draft.result_tier, draft.annex, draft.annex_iii_area = outcome.tier, outcome.annex, outcome.area
    draft.roles, draft.gpai, draft.systemic_risk = outcome.roles, outcome.gpai, outcome.systemic_risk
    draft.reasoning = outcome.reasoning
    draft.obligations = [o.as_dict() for o in outcome.obligations]
    before = {"risk_tier": system.risk_tier.value, "ai_act_role": system.ai_act_role.value}
    system.risk_tier, system.ai_act_role = outcome.tier, outcome.primary_role
    audit.record("ai_system.classified", actor=actor, target=system, before=before, after={
        "risk_tier": outcome.tier.value, "ai_act_role": system.ai_act_role.value, "result": outcome.label,
        "classification": draft.public_id, "superseded": previous.public_id if previous else None,
        "obligations": [o.ref for o in outcome.obligations]})
    return draft


@atomic
def discard_draft(system: AISystem, *, actor: Actor) -> None:
    draft = draft_of(system)
    if draft is None:
        raise Conflict("There is no questionnaire in progress for this system.")
    audit.record("ai_classification.draft_discarded", actor=actor, target=system,
                 after={"classification": draft.public_id, "answers": len(draft.answers)})
    db.session.delete(draft)


def classification_label(c: AIClassification | None) -> str:
    if c is None or c.result_tier is None:
        return "Not classified"
    return questionnaire.tier_label(c.result_tier, c.annex, c.annex_iii_area, c.gpai)


def current_label(system: AISystem) -> str:
    return classification_label(current_classification(system))


def requirement_ids(refs: list[str]) -> dict[str, str]:
    """Requirement public ids of the EU AI Act library by ref ("Art.9"), when this tenant can see it.

    A ref the library lacks ("Art.50(4)") falls back to its article ("Art.50"); refs with neither are left out.
    """
    from app.compliance.models import Framework, Requirement
    from app.compliance.services import visible_frameworks

    framework = db.session.scalar(visible_frameworks().where(Framework.key == FRAMEWORK_KEY))
    if framework is None or not refs:
        return {}
    articles = {r: r.split("(")[0] for r in refs}
    rows = dict(db.session.execute(sa.select(Requirement.ref, Requirement.public_id).where(
        Requirement.framework_id == framework.id, Requirement.retired_at.is_(None),
        Requirement.ref.in_(set(refs) | set(articles.values())))).tuples().all())
    return {r: rows.get(r) or rows[articles[r]] for r in refs if r in rows or articles[r] in rows}


# --- queries ---------------------------------------------------------------------------------------


def list_statement(*, tier: str = "", status: str = "", owner: str = "", q: str = "") -> sa.Select:
    """Systems matching the filters (unknown filter values are a 422 naming the filter)."""
    stmt = sa.select(AISystem)
    if tier:
        stmt = stmt.where(AISystem.risk_tier == _choice(RiskTier, tier, "tier"))
    if status:
        stmt = stmt.where(AISystem.deployment_status == _choice(DeploymentStatus, status, "status"))
    if owner == "none":
        stmt = stmt.where(AISystem.owner_id.is_(None))
    elif owner:
        stmt = stmt.where(AISystem.owner_id == sa.select(User.id).where(User.public_id == owner).scalar_subquery())
    if q := q.strip()[:100]:
        like = f"%{q.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(sa.or_(sa.func.lower(AISystem.name).like(like), sa.func.lower(AISystem.purpose).like(like),
                                 sa.func.lower(AISystem.provider).like(like)))
    return stmt


def list_systems(*, limit: int, **filters) -> list[AISystem]:
    return list(db.session.scalars(list_statement(**filters).order_by(AISystem.name).limit(limit)))


def tier_counts() -> dict[str, int]:
    rows = db.session.execute(sa.select(AISystem.risk_tier, sa.func.count()).group_by(AISystem.risk_tier))
    return {tier.value: n for tier, n in rows.tuples().all()}


def members() -> list[User]:
    """Active members, for the owner choices."""
    return list(db.session.scalars(sa.select(User).join(Membership, Membership.user_id == User.id)
                                   .where(Membership.is_active).order_by(User.name, User.email)))


def system_history(system: AISystem, tenant, *, limit: int = 100) -> list:
    """The audit records about this system (its classifications and go-live included), newest first."""
    from app.audit.queries import tenant_records
    from app.core.audit import AuditRecord

    return list(db.session.scalars(tenant_records(tenant).where(AuditRecord.target_id == system.public_id)
                                   .order_by(AuditRecord.seq.desc()).limit(limit)))
