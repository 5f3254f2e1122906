"""Policy operations: write, version, send to review through the approval engine, publish, acknowledge.

A version is editable only as a draft. "Request review" opens a high-impact approval request about
the version (subject kind `policy_version`); the engine calls back: approval publishes the version
and retires the previously published one, rejection/cancellation/expiry returns it to draft.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.subjects import Subject, SubjectKind, register
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.governance.policies_models import Policy, PolicyAcknowledgement, PolicyVersion, VersionStatus
from app.identity.models import Membership

TITLE_MAX, SUMMARY_MAX, NOTE_MAX, BODY_MAX = 200, 500, 500, 200_000
CONTROL_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,59}$")
MAX_CONTROLS = 40
SUBJECT_KIND = "policy_version"


# --- validation ------------------------------------------------------------------------------


def _text(value: str | None, field: str, limit: int, *, required: bool = False, what: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({field: [f"Give the {what or field}."]})
    if len(value) > limit:
        raise ValidationFailed({field: [f"Keep the {what or field} under {limit:,} characters."]})
    return value


def clean_control_refs(raw: list[str] | str | None) -> list[str]:
    """Control keys from a list or from text (one per line or comma-separated), checked and de-duplicated."""
    items = re.split(r"[\s,]+", raw) if isinstance(raw, str) else list(raw or [])
    refs = list(dict.fromkeys(i.strip() for i in items if i and i.strip()))
    bad = [r for r in refs if not CONTROL_REF.match(r)]
    if bad:
        raise ValidationFailed({"control_refs": [f"“{bad[0][:60]}” is not a control key: use letters, digits "
                                                 "and . _ : / - (for example ISO42001-A.2.2)."]})
    if len(refs) > MAX_CONTROLS:
        raise ValidationFailed({"control_refs": [f"Link at most {MAX_CONTROLS} controls."]})
    return refs


def _body(body: str | None) -> str:
    return _text(body, "body", BODY_MAX, required=True, what="policy text")


# --- policies and versions -------------------------------------------------------------------


@atomic
def create_policy(*, actor: Actor, title: str, body: str, summary: str = "",
                  control_refs: list[str] | str | None = None, change_note: str = "") -> Policy:
    """Create a policy with its first version as a draft."""
    values = {"title": _text(title, "title", TITLE_MAX, required=True),
              "summary": _text(summary, "summary", SUMMARY_MAX), "control_refs": clean_control_refs(control_refs)}
    body = _body(body)
    policy = Policy(**values, owner_id=actor.user.id if actor.user else None)
    policy.versions.append(PolicyVersion(number=1, body=body, change_note=_text(change_note, "change_note", NOTE_MAX)
                                         or "First version", created_by_id=actor.user.id if actor.user else None))
    db.session.add(policy)
    db.session.flush()
    audit.record("policy.created", actor=actor, target=policy, after=values | {"version": 1})
    return policy


@atomic
def update_policy(policy: Policy, *, actor: Actor, title: str | None = None, summary: str | None = None,
                  control_refs: list[str] | str | None = None) -> Policy:
    """Change a policy's title, summary or linked controls (its text changes only through versions)."""
    before = {"title": policy.title, "summary": policy.summary, "control_refs": list(policy.control_refs)}
    if title is not None:
        policy.title = _text(title, "title", TITLE_MAX, required=True)
    if summary is not None:
        policy.summary = _text(summary, "summary", SUMMARY_MAX)
    if control_refs is not None:
        policy.control_refs = clean_control_refs(control_refs)
    after = {"title": policy.title, "summary": policy.summary, "control_refs": list(policy.control_refs)}
    if after != before:
        audit.record("policy.updated", actor=actor, target=policy, before=before, after=after)
    return policy


@atomic
def create_version(policy: Policy, *, actor: Actor, body: str, change_note: str = "") -> PolicyVersion:
    """Start a new draft version (one open draft or review at a time)."""
    body = _body(body)
    note = _text(change_note, "change_note", NOTE_MAX)
    if (open_version := policy.open_version) is not None:
        raise Conflict(f"Version {open_version.number} is still {_status_words(open_version)}; "
                       "edit or finish it before starting another.")
    version = PolicyVersion(number=(policy.latest.number + 1) if policy.latest else 1, body=body, change_note=note,
                            created_by_id=actor.user.id if actor.user else None)
    policy.versions.append(version)
    db.session.flush()
    audit.record("policy.version_created", actor=actor, target=version, after={"number": version.number,
                                                                                "change_note": note})
    return version


def _status_words(version: PolicyVersion) -> str:
    return {VersionStatus.DRAFT: "a draft", VersionStatus.IN_REVIEW: "in review",
            VersionStatus.PUBLISHED: "published", VersionStatus.RETIRED: "retired"}[version.status]


@atomic
def update_draft(version: PolicyVersion, *, actor: Actor, body: str, change_note: str = "") -> PolicyVersion:
    """Edit a draft's text; versions in review, published or retired never change."""
    if version.status != VersionStatus.DRAFT:
        raise Conflict(f"Version {version.number} is {_status_words(version)}, so its text can no longer change. "
                       "Start a new version instead.")
    body, note = _body(body), _text(change_note, "change_note", NOTE_MAX)
    if (body, note) != (version.body, version.change_note):
        audit.record("policy.draft_edited", actor=actor, target=version,
                     before={"length": len(version.body), "change_note": version.change_note},
                     after={"length": len(body), "change_note": note})
        version.body, version.change_note = body, note
    return version


@atomic
def request_review(version: PolicyVersion, *, actor: Actor, approver_role: str = "admin", rule: str = "any",
                   required: int = 1, due_hours: int | None = 7 * 24, note: str = ""):
    """Send a draft to review: an approval request whose approval publishes it."""
    if version.status != VersionStatus.DRAFT:
        raise Conflict(f"Version {version.number} is {_status_words(version)}; only a draft can go to review.")
    version.status = VersionStatus.IN_REVIEW
    audit.record("policy.review_requested", actor=actor, target=version, after={"approver_role": approver_role})
    return approvals.create_request(actor=actor, subject_kind=SUBJECT_KIND, subject_id=version.public_id,
                                    description=note, steps=[approvals.StepSpec(
                                        name="Policy approval", role=approver_role, rule=rule, required=required,
                                        due_hours=due_hours)])


def _publish(subject_id: str, request, actor: Actor) -> None:
    version = _version_by_public_id(subject_id)
    if version.status != VersionStatus.IN_REVIEW:
        raise Conflict(f"Version {version.number} is {_status_words(version)}, so it cannot be published now.")
    now = utcnow()
    previous = version.policy.published
    if previous is not None:
        previous.status, previous.retired_at = VersionStatus.RETIRED, now
        audit.record("policy.version_retired", actor=actor, target=previous, after={"replaced_by": version.number})
    version.status, version.published_at = VersionStatus.PUBLISHED, now
    audit.record("policy.version_published", actor=actor, target=version,
                 after={"approval": request.reference, "retired": previous.number if previous else None})


def _return_to_draft(subject_id: str, request, actor: Actor, outcome: str) -> None:
    version = _version_by_public_id(subject_id)
    if version.status == VersionStatus.IN_REVIEW:
        version.status = VersionStatus.DRAFT
        audit.record("policy.review_ended", actor=actor, target=version, after={"outcome": outcome,
                                                                                 "approval": request.reference})


def _version_by_public_id(public_id: str) -> PolicyVersion:
    version = db.session.scalar(sa.select(PolicyVersion).where(PolicyVersion.public_id == public_id))
    if version is None:
        raise NotFound("No such policy version.")
    return version


def version_link(version: PolicyVersion) -> str:
    return f"/governance/policies/{version.policy.public_id}/versions/{version.number}"


def _describe(subject_id: str) -> Subject | None:
    version = db.session.scalar(sa.select(PolicyVersion).where(PolicyVersion.public_id == subject_id))
    if version is None:
        return None
    return Subject(title=f"{version.policy.title} — version {version.number}", link=version_link(version))


register(SubjectKind(name=SUBJECT_KIND, label="policy version", describe=_describe, on_approved=_publish,
                     on_rejected=_return_to_draft, high_impact=True, request_permission="compliance:write"))


# --- acknowledgements --------------------------------------------------------------------------


@atomic
def acknowledge(policy: Policy, *, actor: Actor) -> PolicyAcknowledgement:
    """Record that the member read and accepts the published version."""
    version = policy.published
    if version is None:
        raise Conflict("This policy has no published version to acknowledge yet.")
    if actor.user is None:
        raise Conflict("Only a member can acknowledge a policy.")
    existing = db.session.scalar(sa.select(PolicyAcknowledgement).where(
        PolicyAcknowledgement.version_id == version.id, PolicyAcknowledgement.user_id == actor.user.id))
    if existing is not None:
        raise Conflict(f"You already acknowledged version {version.number}; nothing was changed.")
    ack = PolicyAcknowledgement(version_id=version.id, user_id=actor.user.id)
    db.session.add(ack)
    audit.record("policy.acknowledged", actor=actor, target=version, after={"version": version.number})
    return ack


def acknowledgement_status(policy: Policy) -> tuple[list[tuple[Membership, PolicyAcknowledgement]], list[Membership]]:
    """Active members who acknowledged the published version (with when), and those who have not."""
    version = policy.published
    members = list(db.session.scalars(sa.select(Membership).where(Membership.is_active).order_by(Membership.id)))
    if version is None:
        return [], members
    acks = {a.user_id: a for a in db.session.scalars(sa.select(PolicyAcknowledgement).where(
        PolicyAcknowledgement.version_id == version.id))}
    done = [(m, acks[m.user_id]) for m in members if m.user_id in acks]
    return done, [m for m in members if m.user_id not in acks]


def list_policies() -> list[Policy]:
    return list(db.session.scalars(sa.select(Policy).order_by(Policy.title)))


def acknowledged_counts() -> dict[int, int]:
    """Acknowledgements per published version id (for the policy list)."""
    rows = db.session.execute(sa.select(PolicyAcknowledgement.version_id, sa.func.count())
                              .group_by(PolicyAcknowledgement.version_id))
    return dict(rows.tuples().all())


def active_member_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(Membership.is_active)) or 0


@atomic
def import_policy(*, actor: Actor, title: str, summary: str, bodies: list[tuple[str, str]],
                  control_refs: list[str] | None = None, in_force_since: datetime | None = None) -> Policy:
    """Bring in a policy approved before Vigil: its versions (text, note), the last in force, earlier ones retired.

    For onboarding an existing policy library; audited as an import, so nobody mistakes it for a
    decision made here.
    """
    if not bodies:
        raise ValidationFailed({"body": ["Give at least one version."]})
    since = in_force_since or utcnow()
    dates = [since - timedelta(days=365 * (len(bodies) - n)) for n in range(1, len(bodies) + 1)]
    policy = Policy(title=_text(title, "title", TITLE_MAX, required=True),
                    summary=_text(summary, "summary", SUMMARY_MAX),
                    control_refs=clean_control_refs(control_refs), owner_id=actor.user.id if actor.user else None)
    for number, (body, note) in enumerate(bodies, start=1):
        last = number == len(bodies)
        policy.versions.append(PolicyVersion(
            number=number, body=_body(body), change_note=_text(note, "change_note", NOTE_MAX),
            status=VersionStatus.PUBLISHED if last else VersionStatus.RETIRED, published_at=dates[number - 1],
            created_at=dates[number - 1], retired_at=None if last else dates[number],
            created_by_id=actor.user.id if actor.user else None))
    db.session.add(policy)
    db.session.flush()
    audit.record("policy.imported", actor=actor, target=policy, after={"versions": len(bodies),
                                                                       "in_force": len(bodies)})
    return policy
