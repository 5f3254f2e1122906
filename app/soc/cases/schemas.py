"""The shapes of the cases API: request bodies (validated by pydantic) and the `data` it answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.core.text import render_markdown
from app.identity.models import User
from app.soc.cases import workflow
from app.soc.cases.models import Attachment, Case, CaseTask, TimelineEntry


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(_In):
    title: str = Field(max_length=300)
    severity: str | None = Field(default=None, description="info, low, medium, high or critical; "
                                                            "the template's (or medium) if omitted")
    description: str = Field(default="", max_length=100_000, description="Markdown")
    tags: list[str] = Field(default_factory=list, max_length=30)
    techniques: list[str] = Field(default_factory=list, max_length=50, description="MITRE ATT&CK ids, T1059.001")
    assignee_id: str | None = Field(default=None, description="a member's user id")
    template: str | None = Field(default=None, description="phishing, ransomware or ai_model_abuse")


class CasePatch(_In):
    title: str | None = Field(default=None, max_length=300)
    severity: str | None = None
    description: str | None = Field(default=None, max_length=100_000)
    tags: list[str] | None = Field(default=None, max_length=30)
    techniques: list[str] | None = Field(default=None, max_length=50)
    assignee_id: str | None = Field(default=None, description="a member's user id; null unassigns")
    watcher_ids: list[str] | None = Field(default=None, max_length=100, description="replaces the watchers")


class TransitionIn(_In):
    to: str = Field(description="the next status; see GET /cases/transitions")
    resolution: str | None = Field(default=None, max_length=20_000, description="required to close")
    alert_close_reason: str | None = Field(
        default=None, description="when closing: how the linked alerts still open are closed — true_positive "
                                  "(default), benign or false_positive; reopening never reopens them")


class EventIn(_In):
    occurred_at: AwareDatetime = Field(description="when it happened, with its zone")
    body: str = Field(max_length=20_000)
    category: str = Field(default="other", description="initial_access, execution, persistence, lateral_movement, "
                                                       "exfiltration, containment_action, communication, other")
    asset: str = Field(default="", max_length=500, description="the host, account or observable involved")


class CommentIn(_In):
    body: str = Field(max_length=20_000, description="Markdown")


class TaskIn(_In):
    title: str = Field(max_length=300)
    assignee_id: str | None = None
    due_at: AwareDatetime | None = None


class TaskPatch(_In):
    title: str | None = Field(default=None, max_length=300)
    assignee_id: str | None = None
    due_at: AwareDatetime | None = None
    done: bool | None = Field(default=None, description="true completes the task, false reopens it")


class LinkAlertsIn(_In):
    alert_ids: list[str] = Field(min_length=1, max_length=500)


class MergeIn(_In):
    into: str = Field(description="the id of the case that survives")


class UserRef(BaseModel):
    id: str
    email: str
    name: str

    @classmethod
    def of(cls, user: User | None) -> UserRef | None:
        return cls(id=user.public_id, email=user.email, name=user.name) if user is not None else None


class TaskOut(BaseModel):
    id: str
    title: str
    position: int
    assignee: UserRef | None
    due_at: datetime | None
    done: bool
    done_at: datetime | None

    @classmethod
    def of(cls, task: CaseTask) -> TaskOut:
        return cls(id=task.public_id, title=task.title, position=task.position, assignee=UserRef.of(task.assignee),
                   due_at=task.due_at, done=task.is_done, done_at=task.done_at)


class CaseOut(BaseModel):
    id: str
    number: int
    reference: str = Field(examples=["CASE-42"])
    title: str
    description: str = Field(description="Markdown source")
    description_html: str = Field(description="sanitised HTML")
    severity: str
    status: str
    allowed_transitions: list[str]
    assignee: UserRef | None
    tags: list[str]
    techniques: list[str]
    resolution: str | None
    closed_at: datetime | None
    merged_into: str | None = Field(description="the surviving case's id when this one was merged")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls(id=case.public_id, number=case.number, reference=case.reference, title=case.title,
                   description=case.description, description_html=str(render_markdown(case.description)),
                   severity=case.severity.value, status=case.status.value,
                   allowed_transitions=workflow.allowed_transitions(case.status), assignee=UserRef.of(case.assignee),
                   tags=case.tags, techniques=case.techniques, resolution=case.resolution, closed_at=case.closed_at,
                   merged_into=case.merged_into.public_id if case.merged_into is not None else None,
                   created_at=case.created_at, updated_at=case.updated_at)


class CaseDetailOut(CaseOut):
    watchers: list[UserRef]
    tasks: list[TaskOut]

    @classmethod
    def of(cls, case: Case) -> CaseDetailOut:
        return cls(**CaseOut.of(case).model_dump(), watchers=[UserRef.of(u) for u in case.watchers],
                   tasks=[TaskOut.of(t) for t in case.tasks])


class EntryOut(BaseModel):
    id: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    author: str
    category: str | None
    asset: str
    body: str
    body_html: str | None = Field(description="sanitised HTML of a comment's Markdown")
    details: dict | None
    attachment: dict | None = Field(description="filename, sha256 and size of an attachment entry")
    edited_at: datetime | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> EntryOut:
        att = entry.attachment
        return cls(id=entry.public_id, kind=entry.kind.value, occurred_at=entry.occurred_at,
                   recorded_at=entry.recorded_at, author=entry.author_label,
                   category=entry.category.value if entry.category else None, asset=entry.asset, body=entry.body,
                   body_html=str(render_markdown(entry.body)) if entry.kind.value == "comment" else None,
                   details=entry.details, edited_at=entry.edited_at,
                   attachment={"id": att.public_id, "filename": att.filename, "sha256": att.sha256,
                               "size": att.size} if att is not None else None)


class TransitionsOut(BaseModel):
    statuses: list[str]
    transitions: dict[str, list[str]] = Field(description="for each status, the statuses it may move to")
    resolution_required: list[str] = Field(description="moving to these needs a resolution")


class LinkedOut(BaseModel):
    linked: list[str] = Field(description="references of the alerts newly linked")
    alerts: list[str] = Field(description="references of every alert linked to the case")


class EntryPatch(_In):
    occurred_at: AwareDatetime | None = Field(default=None, description="events only: when it happened")
    body: str | None = Field(default=None, max_length=20_000)
    category: str | None = Field(default=None, description="events only")
    asset: str | None = Field(default=None, max_length=500, description="events only")


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int = Field(description="bytes")
    sha256: str
    uploaded_by: str
    created_at: datetime
    download: str = Field(description="the path that serves the file (Content-Disposition: attachment)")

    @classmethod
    def of(cls, att: Attachment) -> AttachmentOut:
        return cls(id=att.public_id, filename=att.filename, content_type=att.content_type, size=att.size,
                   sha256=att.sha256, uploaded_by=att.uploaded_by_label, created_at=att.created_at,
                   download=f"/api/v1/evidence/{att.public_id}")


class LinkedAlertOut(BaseModel):
    id: str
    reference: str = Field(examples=["ALR-123"])
    title: str
    severity: str
    status: str
    source: str
    last_seen: datetime

    @classmethod
    def of(cls, alert) -> LinkedAlertOut:
        return cls(id=alert.public_id, reference=alert.reference, title=alert.title, severity=alert.severity.value,
                   status=alert.status.value, source=alert.source, last_seen=alert.last_seen)
