"""Policy operations: write, version, send to review through the approval engine, publish, acknowledge.

A version is editable only as a draft. "Request review" opens a high-impact approval request about
the version (subject kind `policy_version`); the engine calls back: approval publishes the version
and retires the previously published one, rejection/cancellation/expiry returns it to draft.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app.approvals import services as approvals
from app.approvals.subjects import Subject, SubjectKind, register
from app.compliance.models import Control
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.tenancy import get_or_404
from app.governance.policies_models import (
    Policy,
    PolicyAcknowledgement,
    PolicyControl,
    PolicyVersion,
    VersionStatus,
)
from app.identity.models import Membership

TITLE_MAX, SUMMARY_MAX, NOTE_MAX, BODY_MAX = 200, 500, 500, 200_000
MAX_CONTROLS = 100
SUBJECT_KIND = "policy_version"


# --- validation ------------------------------------------------------------------------------


def _text(value: str | None, field: str, limit: int, *, required: bool = False, what: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({field: [f"Give the {what or field}."]})
    if len(value) > limit:
        raise ValidationFailed({field: [f"Keep the {what or field} under {limit:,} characters."]})
    return value


def _body(body: str | None) -> str:
    return _text(body, "body", BODY_MAX, required=True, what="policy text")


# --- policies and versions -------------------------------------------------------------------


@atomic
def create_policy(*, actor: Actor, title: str, body: str, summary: str = "", change_note: str = "") -> Policy:
    """Create a policy with its first version as a draft (controls are linked afterwards)."""
    values = {"title": _text(title, "title", TITLE_MAX, required=True),
              "summary": _text(summary, "summary", SUMMARY_MAX)}
    body = _body(body)
    policy = Policy(**values, owner_id=actor.user.id if actor.user else None)
    policy.versions.append(PolicyVersion(number=1, body=body, change_note=_text(change_note, "change_note", NOTE_MAX)
                                         or "First version", created_by_id=actor.user.id if actor.user else None))
    db.session.add(policy)
    db.session.flush()
    audit.record("policy.created", actor=actor, target=policy, after=values | {"version": 1})
    return policy


@atomic
def update_policy(policy: Policy, *, actor: Actor, title: str | None = None, summary: str | None = None) -> Policy:
    """Change a policy's title or summary (its text changes only through versions)."""
    before = {"title": policy.title, "summary": policy.summary}
    if title is not None:
        policy.title = _text(title, "title", TITLE_MAX, required=True)
    if summary is not None:
        policy.summary = _text(summary, "summary", SUMMARY_MAX)
    after = {"title": policy.title, "summary": policy.summary}
    if after != before:
        audit.record("policy.updated", actor=actor, target=policy, before=before, after=after)
    return policy


# --- linked controls -----------------------------------------------------------------------------


def find_control(ref: str | None) -> Control:
    """A control of the current tenant by public id or key; another tenant's control is simply not found."""
    ref = (ref or "").strip()
    control = db.session.scalar(sa.select(Control).where(sa.or_(Control.public_id == ref, Control.key == ref))) \
        if ref else None
    if control is None:
        raise NotFound("No such control in this tenant's compliance programme.")
    return control


@atomic
def link_control(policy: Policy, control: Control, *, actor: Actor) -> PolicyControl:
    """Say that this policy covers the control; linking twice changes nothing."""
    if control.tenant_id != policy.tenant_id:  # callers load both in the tenant; this keeps it so
        raise NotFound("No such control in this tenant's compliance programme.")
    existing = next((link for link in policy.control_links if link.control_id == control.id), None)
    if existing is not None:
        return existing
    if len(policy.control_links) >= MAX_CONTROLS:
        raise ValidationFailed({"control": [f"Link at most {MAX_CONTROLS} controls to one policy."]})
    link = PolicyControl(control=control)
    policy.control_links.append(link)
    db.session.flush()
    audit.record("policy.control_linked", actor=actor, target=policy,
                 after={"control": control.key, "control_id": control.public_id})
    return link


@atomic
def unlink_control(policy: Policy, control: Control, *, actor: Actor) -> None:
    link = next((link for link in policy.control_links if link.control_id == control.id), None)
    if link is None:
        raise NotFound(f"{control.key} is not linked to this policy.")
    policy.control_links.remove(link)
    audit.record("policy.control_unlinked", actor=actor, target=policy,
                 before={"control": control.key, "control_id": control.public_id})


def policies_covering(control: Control) -> list[Policy]:
    """The policies linked to a control (for its page)."""
    return list(db.session.scalars(sa.select(Policy).join(PolicyControl, PolicyControl.policy_id == Policy.id)
                                   .where(PolicyControl.control_id == control.id).order_by(Policy.title)))


def linkable_controls(policy: Policy, query: str = "") -> list[Control]:
    """The tenant's controls not yet linked to the policy, optionally those whose key or name contains `query`."""
    stmt = sa.select(Control).order_by(Control.key)
    linked = [link.control_id for link in policy.control_links]
    if linked:
        stmt = stmt.where(Control.id.not_in(linked))
    if query := (query or "").strip()[:100]:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(sa.or_(Control.key.ilike(like), Control.name.ilike(like)))
    return list(db.session.scalars(stmt))


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
    version = get_or_404(PolicyVersion, subject_id, "No such policy version.")
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
    version = get_or_404(PolicyVersion, subject_id, "No such policy version.")
    if version.status == VersionStatus.IN_REVIEW:
        version.status = VersionStatus.DRAFT
        audit.record("policy.review_ended", actor=actor, target=version, after={"outcome": outcome,
                                                                                 "approval": request.reference})


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
                  controls: list[Control] | None = None, in_force_since: datetime | None = None) -> Policy:
    """Bring in a policy approved before Vigil: its versions (text, note), the last in force, earlier ones retired.

    For onboarding an existing policy library; audited as an import, so nobody mistakes it for a
    decision made here.
    """
    if not bodies:
        raise ValidationFailed({"body": ["Give at least one version."]})
    since = in_force_since or utcnow()
    dates = [since - timedelta(days=365 * (len(bodies) - n)) for n in range(1, len(bodies) + 1)]
    policy = Policy(title=_text(title, "title", TITLE_MAX, required=True),
                    summary=_text(summary, "summary", SUMMARY_MAX), owner_id=actor.user.id if actor.user else None)
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
    for control in controls or []:
        link_control(policy, control, actor=actor)
    return policy
