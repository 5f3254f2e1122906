"""The case timeline: system entries written by every case change, manual events, comments, export.

Manual events carry the time the thing happened (typed by the analyst), which can be long
before it was recorded; system entries happen when they are recorded.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import authorize
from app.soc.cases.models import Case, EventCategory, TimelineEntry, TimelineKind

MAX_BODY = 20_000
MAX_ASSET = 500


def write_entry(case: Case, kind: TimelineKind, *, actor: Actor, body: str = "", details: dict | None = None,
                occurred_at: datetime | None = None, attachment=None) -> TimelineEntry:
    """Append a system entry in the caller's transaction (the caller writes the audit record)."""
    now = utcnow()
    entry = TimelineEntry(case_id=case.id, kind=kind, occurred_at=occurred_at or now, recorded_at=now,
                          author_id=actor.user.id if actor.user is not None else None,
                          author_label=actor.label[:320], body=body, details=details,
                          attachment_id=attachment.id if attachment is not None else None)
    db.session.add(entry)
    return entry


def entry_key(e: TimelineEntry) -> tuple:
    """Every value of an entry its fragment shows (soc/cases/_timeline_entry.html), for the fragment cache."""
    attachment = e.attachment
    return (e.public_id, e.kind, e.occurred_at, e.recorded_at, e.category, e.asset, e.author_label, e.edited_at,
            e.body, json.dumps(e.details, sort_keys=True, default=str) if e.details else None,
            (attachment.public_id, attachment.size, attachment.sha256) if attachment is not None else None)


def _category(value: str | None) -> EventCategory:
    try:
        return EventCategory(value or "other")
    except ValueError:
        raise ValidationFailed({"category": [f"Use one of {', '.join(c.value for c in EventCategory)}."]}) from None


def _occurred(value: datetime | None, field: str = "occurred_at") -> datetime:
    if value is None:
        raise ValidationFailed({field: ["Give the time the event happened."]})
    if value.tzinfo is None:
        raise ValidationFailed({field: ["Give the time with its zone (for example 2025-11-24T14:03:00Z)."]})
    if value > utcnow():
        raise ValidationFailed({field: ["The time is in the future."]})
    return value.astimezone(UTC)


def _text(value: str | None, field: str, *, required: bool, limit: int) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({field: ["This cannot be empty."]})
    if len(value) > limit:
        raise ValidationFailed({field: [f"Use at most {limit:,} characters."]})
    return value


def _entry_state(entry: TimelineEntry) -> dict:
    return {"occurred_at": entry.occurred_at.isoformat(), "category": entry.category,
            "asset": entry.asset, "body": entry.body}


@atomic
def add_event(case: Case, *, actor: Actor, occurred_at: datetime | None, body: str, category: str | None = None,
              asset: str = "") -> TimelineEntry:
    """Add a manual timeline event at the time it happened."""
    authorize(actor, "case:write")
    entry = write_entry(case, TimelineKind.EVENT, actor=actor, body=_text(body, "body", required=True, limit=MAX_BODY),
                        occurred_at=_occurred(occurred_at))
    entry.category = _category(category)
    entry.asset = _text(asset, "asset", required=False, limit=MAX_ASSET)
    db.session.flush()
    audit.record("case.timeline_event_added", actor=actor, target=case,
                 after={"entry": entry.public_id, **_entry_state(entry)})
    return entry


@atomic
def add_comment(case: Case, *, actor: Actor, body: str) -> TimelineEntry:
    """Add a Markdown comment to the case's timeline."""
    authorize(actor, "case:write")
    entry = write_entry(case, TimelineKind.COMMENT, actor=actor,
                        body=_text(body, "body", required=True, limit=MAX_BODY))
    db.session.flush()
    audit.record("case.commented", actor=actor, target=case,
                 after={"entry": entry.public_id, "length": len(entry.body)})
    return entry


@atomic
def edit_entry(entry: TimelineEntry, *, actor: Actor, body: str | None = None, occurred_at: datetime | None = None,
               category: str | None = None, asset: str | None = None) -> TimelineEntry:
    """Edit a manual event or comment; the audit record keeps what it said before."""
    authorize(actor, "case:write")
    if not entry.is_manual:
        raise Conflict("Only manual events and comments can be edited; system entries record what happened.")
    before = _entry_state(entry)
    if body is not None:
        entry.body = _text(body, "body", required=True, limit=MAX_BODY)
    if entry.kind is TimelineKind.EVENT:
        if occurred_at is not None:
            entry.occurred_at = _occurred(occurred_at)
        if category is not None:
            entry.category = _category(category)
        if asset is not None:
            entry.asset = _text(asset, "asset", required=False, limit=MAX_ASSET)
    after = _entry_state(entry)
    if after == before:
        return entry
    entry.edited_at = utcnow()
    case = db.session.get(Case, entry.case_id)
    audit.record("case.timeline_entry_edited", actor=actor, target=case,
                 before={"entry": entry.public_id, **before}, after={"entry": entry.public_id, **after})
    return entry


def timeline_kinds(values) -> list[TimelineKind]:
    try:
        return [TimelineKind(v) for v in values if v]
    except ValueError:
        raise ValidationFailed({"kind": [f"Use any of {', '.join(k.value for k in TimelineKind)}."]}) from None


def timeline_statement(case: Case, *, kinds: list[TimelineKind] | None = None, order: str = "occurred") -> sa.Select:
    """The case's entries, oldest first, by event time (`occurred`) or by recorded time (`recorded`)."""
    if order not in ("occurred", "recorded"):
        raise ValidationFailed({"order": ["Use occurred or recorded."]})
    column = TimelineEntry.occurred_at if order == "occurred" else TimelineEntry.recorded_at
    stmt = sa.select(TimelineEntry).where(TimelineEntry.case_id == case.id).order_by(column, TimelineEntry.id)
    if kinds:
        stmt = stmt.where(TimelineEntry.kind.in_(kinds))
    return stmt


def list_timeline(case: Case, *, kinds: list[TimelineKind] | None = None,
                  order: str = "occurred") -> list[TimelineEntry]:
    return list(db.session.scalars(timeline_statement(case, kinds=kinds, order=order)))


EXPORT_FIELDS = ("occurred_at", "recorded_at", "kind", "category", "asset", "author", "body", "attachment_sha256",
                 "edited_at", "id")


def export_row(entry: TimelineEntry) -> dict:
    return {
        "id": entry.public_id, "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(), "kind": entry.kind.value,
        "category": entry.category.value if entry.category else "", "asset": entry.asset,
        "author": entry.author_label, "body": entry.body,
        "attachment_sha256": entry.attachment.sha256 if entry.attachment is not None else "",
        "edited_at": entry.edited_at.isoformat() if entry.edited_at else "",
    }


def spreadsheet_safe(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula (CSV injection, OWASP)."""
    if value and value[0] in ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%"):
        return "'" + value
    return value


def export_csv(case: Case, *, order: str = "occurred") -> str:
    """The timeline as CSV, with formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for entry in list_timeline(case, order=order):
        writer.writerow({k: spreadsheet_safe(str(v)) for k, v in export_row(entry).items()})
    return out.getvalue()


def export_json(case: Case, *, order: str = "occurred") -> str:
    """The timeline as JSON: the case reference and its entries."""
    return json.dumps({"case": case.reference, "title": case.title,
                       "entries": [export_row(e) for e in list_timeline(case, order=order)]},
                      ensure_ascii=False, indent=2)
