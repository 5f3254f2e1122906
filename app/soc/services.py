"""Alert operations: create, bulk OCSF ingest with deduplication, triage transitions, settings.

Every public function here is `@atomic`, takes an explicit `actor`, checks `alert:write` and
writes its audit record in the same transaction. Bulk ingest is the one place that writes
alerts with Core statements instead of the ORM (STYLE §4): per-event ORM round trips cannot
reach the ingest rate the API promises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, new_ordered_public_ids, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import authorize, permissions_for_role
from app.identity.models import Membership
from app.soc import bulk, ocsf, tallies
from app.soc.models import (
    DEFAULT_DEDUP_WINDOW_MINUTES,
    DEFAULT_FINGERPRINT_FIELDS,
    SEVERITY_RANK,
    TECHNIQUE_ID,
    TRANSITIONS,
    Alert,
    AlertDraft,
    AlertObservable,
    AlertSettings,
    AlertSeverity,
    AlertStatus,
    CloseReason,
    ObservableKind,
)
from app.soc.observables import ObservableError, normalise, unique

MAX_BATCH = 1000
FINGERPRINT_FIELDS = ("source", "rule_name", "title", "severity", "primary_observable",
                      *(f"observable:{k}" for k in ObservableKind))
MAX_WINDOW_MINUTES = 90 * 24 * 60
_SEVERITIES = ", ".join(s.value for s in AlertSeverity)
_REASONS = ", ".join(r.value for r in CloseReason)


# --- our own alert format ------------------------------------------------------------------


class ObservableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="ip, domain, hash, user, host, url or email")
    value: str = Field(max_length=2048)


class AlertIn(BaseModel):
    """One alert in Vigil's own JSON (the OCSF batch endpoint takes findings instead)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    severity: str = Field(description=f"one of {_SEVERITIES}")
    source: str = Field(min_length=1, max_length=200, description="the product that raised it")
    description: str = Field(default="", max_length=20000)
    rule_name: str = Field(default="", max_length=300)
    techniques: list[str] = Field(default_factory=list, max_length=50, description="MITRE ATT&CK ids, T1059.001")
    observables: list[ObservableIn] = Field(default_factory=list, max_length=200)
    seen_at: AwareDatetime | None = Field(default=None, description="when it happened; now if omitted")
    raw_event: dict | None = Field(default=None, description="the original event, kept verbatim")

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str) -> str:
        if value.lower() not in AlertSeverity.__members__.values():
            raise ValueError(f"Unknown severity {value[:40]!r}; use one of {_SEVERITIES}")
        return value.lower()

    @field_validator("techniques")
    @classmethod
    def _technique_ids(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not TECHNIQUE_ID.match(v.upper())]
        if bad:
            raise ValueError(f"Not ATT&CK technique ids: {', '.join(b[:20] for b in bad[:5])} (use T1059 or T1059.001)")
        return list(dict.fromkeys(v.upper() for v in values))


def _validated(data: AlertIn | dict) -> AlertIn:
    if isinstance(data, AlertIn):
        return data
    try:
        return AlertIn.model_validate(data)
    except PydanticValidationError as exc:
        fields: dict[str, list[str]] = {}
        for err in exc.errors():
            fields.setdefault(".".join(str(p) for p in err["loc"]) or "_", []).append(err["msg"])
        raise ValidationFailed(fields) from None


def _draft_from(body: AlertIn) -> AlertDraft:
    pairs, errors = [], {}
    for i, obs in enumerate(body.observables):
        try:
            pairs.append(normalise(obs.kind, obs.value))
        except ObservableError as exc:
            errors[f"observables.{i}"] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    return AlertDraft(title=body.title.strip(), severity=AlertSeverity(body.severity), source=body.source.strip(),
                      seen_at=body.seen_at or utcnow(), description=body.description,
                      rule_name=body.rule_name.strip(), techniques=tuple(body.techniques),
                      observables=tuple(unique(pairs)), raw_event=body.raw_event)


# --- settings and numbering ----------------------------------------------------------------


def alert_settings() -> AlertSettings:
    """The tenant's alert settings (defaults until an admin changes them)."""
    settings = db.session.scalar(sa.select(AlertSettings))
    return settings if settings is not None else _default_settings()


def _default_settings() -> AlertSettings:
    return AlertSettings(fingerprint_fields=list(DEFAULT_FINGERPRINT_FIELDS),
                         dedup_window_minutes=DEFAULT_DEDUP_WINDOW_MINUTES, last_number=0)


def _locked_settings() -> AlertSettings:
    # One settings row per tenant doubles as the numbering counter. Locking it first serialises
    # writers of the tenant's alerts: numbers and deduplication decisions never race.
    if db.engine.dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE, and pysqlite opens the transaction only at the first write, so
        # a SELECT first would read the counter outside it and two batches would take the same
        # numbers. A no-op write takes the database's write lock before anything is read.
        db.session.execute(sa.update(AlertSettings).values(last_number=AlertSettings.last_number)
                           .execution_options(synchronize_session=False))
    settings = _select_settings_for_update()
    if settings is None:
        # The tenant's first write: two writers may both find no row. The loser's insert fails on
        # the unique tenant_id (PostgreSQL makes it wait for the winner first); it then locks theirs.
        try:
            with db.session.begin_nested():
                db.session.add(_default_settings())
        except sa.exc.IntegrityError:
            pass
        settings = _select_settings_for_update()
    return settings


def _select_settings_for_update() -> AlertSettings | None:
    return db.session.scalar(sa.select(AlertSettings).with_for_update()
                             .execution_options(populate_existing=True))


def _allocate_numbers(settings: AlertSettings, count: int) -> int:
    """Reserve `count` consecutive numbers; return the first."""
    first = settings.last_number + 1
    settings.last_number += count
    db.session.flush()
    return first


@atomic
def update_alert_settings(*, actor: Actor, fingerprint_fields: list[str] | None = None,
                          dedup_window_minutes: int | None = None) -> AlertSettings:
    """Change which fields make two events the same alert, and for how long they merge."""
    authorize(actor, "soc:configure")
    errors: dict[str, list[str]] = {}
    if fingerprint_fields is not None:
        unknown = [f for f in fingerprint_fields if f not in FINGERPRINT_FIELDS]
        if not fingerprint_fields or unknown:
            errors["fingerprint_fields"] = [
                f"Unknown fields: {', '.join(unknown)}; use {', '.join(FINGERPRINT_FIELDS)}." if unknown
                else "Choose at least one field."]
    if dedup_window_minutes is not None and not 0 <= dedup_window_minutes <= MAX_WINDOW_MINUTES:
        errors["dedup_window_minutes"] = [f"Use 0 (no merging) to {MAX_WINDOW_MINUTES} minutes (90 days)."]
    if errors:
        raise ValidationFailed(errors)
    settings = _locked_settings()
    before = {"fingerprint_fields": settings.fingerprint_fields, "dedup_window_minutes": settings.dedup_window_minutes}
    if fingerprint_fields is not None:
        settings.fingerprint_fields = list(dict.fromkeys(fingerprint_fields))
    if dedup_window_minutes is not None:
        settings.dedup_window_minutes = dedup_window_minutes
    audit.record("alert.settings_changed", actor=actor, target=settings, before=before,
                 after={"fingerprint_fields": settings.fingerprint_fields,
                        "dedup_window_minutes": settings.dedup_window_minutes})
    return settings


def fingerprint(draft: AlertDraft, fields: Iterable[str]) -> str:
    """Events with the same fingerprint are one alert seen again."""
    parts = []
    for name in fields:
        if name == "primary_observable":
            value = draft.primary_observable
        elif name.startswith("observable:"):
            value = next((v for k, v in draft.observables if k == name[11:]), "")
        elif name == "source":
            value = draft.source.lower()
        else:
            value = str(getattr(draft, name, ""))
        parts.append(f"{name}={value}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# --- create and ingest ---------------------------------------------------------------------


@atomic
def create_alert(*, actor: Actor, data: AlertIn | dict) -> Alert:
    """Create one alert from Vigil's own JSON; always a new alert (no deduplication)."""
    authorize(actor, "alert:write")
    draft = _draft_from(_validated(data))
    settings = _locked_settings()
    now = utcnow()
    alert = Alert(number=_allocate_numbers(settings, 1), title=draft.title, description=draft.description,
                  severity=draft.severity, severity_rank=SEVERITY_RANK[draft.severity], status=AlertStatus.NEW,
                  source=draft.source, rule_name=draft.rule_name, techniques=list(draft.techniques),
                  raw_event=draft.raw_event, fingerprint=fingerprint(draft, settings.fingerprint_fields),
                  first_seen=draft.seen_at, last_seen=draft.seen_at, occurrences=1, created_at=now, updated_at=now)
    alert.observables = [AlertObservable(kind=k, value=v) for k, v in draft.observables]
    db.session.add(alert)
    db.session.flush()
    tallies.add(alert.tenant_id, [(alert.status, alert.severity, alert.source)],
                days=[alert.first_seen.astimezone(UTC).date()])
    audit.record("alert.created", actor=actor, target=alert,
                 after={"severity": alert.severity, "source": alert.source, "observables": len(draft.observables)})
    return alert


@dataclass
class IngestResult:
    index: int
    status: str  # created | deduplicated | rejected
    alert_number: int | None = None
    alert_id: str | None = None
    reason: str | None = None


@dataclass
class _Target:
    """An alert events merge into during one batch: an open stored one, or one this batch creates."""

    first_seen: datetime
    last_seen: datetime
    number: int | None = None
    public_id: str | None = None
    id: int | None = None
    added: int = 0
    row: dict | None = None


@atomic
def ingest_ocsf_batch(events: list, *, actor: Actor) -> list[IngestResult]:
    """Turn a batch of OCSF findings into alerts: create, merge duplicates, reject with reasons."""
    authorize(actor, "alert:write")
    if not isinstance(events, list):
        raise ValidationFailed({"events": ["Send a JSON array of OCSF events."]})
    if len(events) > MAX_BATCH:
        raise ValidationFailed({"events": [f"At most {MAX_BATCH} events per batch; got {len(events)}."]})
    results: list[IngestResult | None] = [None] * len(events)
    drafts: list[tuple[int, AlertDraft]] = []
    for i, event in enumerate(events):
        try:
            drafts.append((i, ocsf.to_draft(event)))
        except ocsf.OcsfRejected as exc:
            results[i] = IngestResult(i, "rejected", reason=str(exc))
    settings = _locked_settings()
    fields, window = settings.fingerprint_fields, timedelta(minutes=settings.dedup_window_minutes)
    keyed = [(i, d, fingerprint(d, fields)) for i, d in drafts]
    stored = _open_targets({fp for _i, _d, fp in keyed}) if window else {}
    batch_new: dict[str, _Target] = {}
    created: list[tuple[int, AlertDraft, str, _Target]] = []
    merged: list[tuple[int, _Target]] = []
    for i, draft, fp in keyed:
        target = batch_new.get(fp) or stored.get(fp)
        if target is not None and window and target.first_seen - window <= draft.seen_at <= target.last_seen + window:
            target.added += 1
            target.first_seen = min(target.first_seen, draft.seen_at)
            target.last_seen = max(target.last_seen, draft.seen_at)
            merged.append((i, target))
        else:
            target = batch_new[fp] = _Target(first_seen=draft.seen_at, last_seen=draft.seen_at)
            created.append((i, draft, fp, target))
    if created:
        _insert_new(created, settings, actor)
    _apply_merges([t for t in stored.values() if t.added], actor)
    for i, _draft, _fp, target in created:
        results[i] = IngestResult(i, "created", target.number, target.public_id)
    for i, target in merged:
        results[i] = IngestResult(i, "deduplicated", target.number, target.public_id)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("created", "deduplicated", "rejected")}
    audit.record("alert.batch_ingested", actor=actor, target=("alert_batch", None, f"{len(events)} events"),
                 after={**counts, "events": len(events),
                        "numbers": [created[0][3].number, created[-1][3].number] if created else None})
    return results  # type: ignore[return-value]


def _open_targets(fingerprints: set[str]) -> dict[str, _Target]:
    if not fingerprints:
        return {}
    # Tenant-scoped by core/tenancy.py. No ORDER BY: with one, SQLite walks the tenant's whole
    # last_seen index to skip the sort (every alert of a 200,000-alert tenant read per batch)
    # instead of probing ix_alerts_fingerprint once per fingerprint. The newest open alert wins
    # when several share a fingerprint, picked here.
    rows = db.session.execute(
        sa.select(Alert.id, Alert.public_id, Alert.number, Alert.fingerprint, Alert.first_seen, Alert.last_seen)
        .where(Alert.fingerprint.in_(fingerprints), Alert.status != AlertStatus.CLOSED))
    newest = {}
    for r in sorted(rows, key=lambda r: (r.last_seen, r.id)):
        newest[r.fingerprint] = r
    return {fp: _Target(first_seen=r.first_seen, last_seen=r.last_seen, number=r.number, public_id=r.public_id,
                        id=r.id) for fp, r in newest.items()}


def _insert_new(created: list[tuple[int, AlertDraft, str, _Target]], settings: AlertSettings, actor: Actor) -> None:
    count = len(created)
    first = _allocate_numbers(settings, count)
    now, tenant_id = utcnow(), actor.tenant.id
    numbers = list(range(first, first + count))
    public_ids = new_ordered_public_ids(count)
    drafts = [draft for _i, draft, _fp, _t in created]
    targets = [target for _i, _d, _fp, target in created]
    for target, number, public_id in zip(targets, numbers, public_ids, strict=True):
        target.number, target.public_id = number, public_id
    severities = [draft.severity for draft in drafts]
    sources = [draft.source for draft in drafts]
    first_seen = [t.first_seen for t in targets]
    # One list for both when no event of the batch merged into another: its timestamps are converted once.
    last_seen = first_seen if not any(t.added for t in targets) else [t.last_seen for t in targets]
    table = Alert.__table__
    conn = db.session.connection()
    # Column by column into one executemany (bulk.insert_columns: compiled once, each bind
    # processor run once per distinct value), then the ids by the block of numbers just
    # reserved: RETURNING with a guaranteed row order makes SQLAlchemy insert one row per
    # statement on SQLite (5x slower). Core bypasses the ORM's tenant stamping
    # (core/tenancy.py): tenant_id is set here, from the actor.
    bulk.insert_columns(conn, table, count, {
        "tenant_id": bulk.Same(tenant_id), "public_id": public_ids, "number": numbers,
        "title": [d.title for d in drafts], "description": [d.description for d in drafts],
        "severity": severities, "severity_rank": [SEVERITY_RANK[s] for s in severities],
        "status": bulk.Same(AlertStatus.NEW), "close_reason": bulk.Same(None), "source": sources,
        "rule_name": [d.rule_name for d in drafts], "techniques": bulk.Serialized(_techniques_json(drafts)),
        "raw_event": bulk.Serialized([_raw_json(d.raw_event) for d in drafts]),
        "fingerprint": [fp for _i, _d, fp, _t in created],
        "first_seen": first_seen, "last_seen": last_seen,
        "occurrences": [1 + t.added for t in targets], "assignee_id": bulk.Same(None),
        "acknowledged_at": bulk.Same(None), "closed_at": bulk.Same(None),
        "created_at": bulk.Same(now), "updated_at": bulk.Same(now),
    })
    by_number = dict(conn.execute(sa.select(table.c.number, table.c.id).where(
        table.c.tenant_id == tenant_id, table.c.number.between(first, first + count - 1))).all())
    alert_ids, kinds, values = [], [], []
    for number, draft in zip(numbers, drafts, strict=True):
        alert_id = by_number[number]
        for kind, value in draft.observables:
            alert_ids.append(alert_id)
            kinds.append(kind)
            values.append(value)
    bulk.insert_columns(conn, AlertObservable.__table__, len(values), {
        "tenant_id": bulk.Same(tenant_id), "alert_id": alert_ids, "kind": kinds, "value": values})
    tallies.add(tenant_id, [(AlertStatus.NEW, severity, source) for severity, source in zip(severities, sources,
                                                                                              strict=True)],
                days=[seen.astimezone(UTC).date() for seen in first_seen])


def _techniques_json(drafts: list[AlertDraft]) -> list[str]:
    # A feed's findings share a handful of technique lists: each distinct one is serialised once.
    done: dict[tuple[str, ...], str] = {}
    return [done.get(d.techniques) or done.setdefault(d.techniques, json.dumps(list(d.techniques)))
            for d in drafts]


def _raw_json(event: dict) -> str:
    """The raw event as JSON text, compact (orjson: ~10x json.dumps on a typical finding)."""
    try:
        return orjson.dumps(event).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates: what orjson refuses, json still writes
        return json.dumps(event)


def _apply_merges(targets: list[_Target], actor: Actor) -> None:
    if not targets:
        return
    table = Alert.__table__
    # Relative updates (occurrences + n, the later last_seen) so a merge never overwrites another's.
    stmt = (table.update()
            .where(table.c.id == sa.bindparam("b_id"), table.c.tenant_id == actor.tenant.id)
            .values(occurrences=table.c.occurrences + sa.bindparam("b_added"),
                    first_seen=sa.case((table.c.first_seen > sa.bindparam("b_first", type_=table.c.first_seen.type),
                                        sa.bindparam("b_first")), else_=table.c.first_seen),
                    last_seen=sa.case((table.c.last_seen < sa.bindparam("b_last", type_=table.c.last_seen.type),
                                       sa.bindparam("b_last")), else_=table.c.last_seen),
                    updated_at=utcnow()))
    db.session.connection().execute(stmt, [
        {"b_id": t.id, "b_added": t.added, "b_first": t.first_seen, "b_last": t.last_seen} for t in targets])


# --- triage --------------------------------------------------------------------------------


def _state(alert: Alert) -> dict:
    return {"status": alert.status, "close_reason": alert.close_reason}


def _move(alert: Alert, to: AlertStatus, *, actor: Actor, action: str, reason: CloseReason | None = None) -> Alert:
    if not alert.can_transition(to):
        allowed = sorted(s.value for s in TRANSITIONS[alert.status])
        raise Conflict(f"{alert.reference} is {alert.status.value}; it can move to: {', '.join(allowed)}.",
                       {"status": alert.status.value, "allowed": allowed})
    before, now = _state(alert), utcnow()
    tallies.move(alert.tenant_id, severity=alert.severity, source=alert.source, before=alert.status, after=to)
    alert.status = to
    alert.close_reason = reason if to is AlertStatus.CLOSED else None
    alert.closed_at = now if to is AlertStatus.CLOSED else None
    if to is not AlertStatus.NEW and alert.acknowledged_at is None:  # leaving new, even straight to closed
        alert.acknowledged_at = now
    audit.record(action, actor=actor, target=alert, before=before, after=_state(alert))
    return alert


def _close_reason(reason: str | CloseReason | None) -> CloseReason:
    try:
        return CloseReason(reason)
    except ValueError:
        message = (f"Unknown reason {str(reason)[:40]!r}; use {_REASONS}." if reason
                   else f"Choose a reason: {_REASONS}.")
        raise ValidationFailed({"close_reason": [message]}) from None


@atomic
def acknowledge_alert(alert: Alert, *, actor: Actor) -> Alert:
    """Mark the alert as seen by someone who will look at it."""
    authorize(actor, "alert:write")
    return _move(alert, AlertStatus.ACKNOWLEDGED, actor=actor, action="alert.acknowledged")


@atomic
def start_alert(alert: Alert, *, actor: Actor) -> Alert:
    """Mark the alert as under investigation."""
    authorize(actor, "alert:write")
    return _move(alert, AlertStatus.IN_PROGRESS, actor=actor, action="alert.started")


@atomic
def close_alert(alert: Alert, reason: str | CloseReason | None, *, actor: Actor) -> Alert:
    """Close the alert with a reason (true positive, benign, false positive, duplicate)."""
    authorize(actor, "alert:write")
    return _move(alert, AlertStatus.CLOSED, actor=actor, action="alert.closed", reason=_close_reason(reason))


@atomic
def reopen_alert(alert: Alert, *, actor: Actor) -> Alert:
    """Reopen a closed alert as new."""
    authorize(actor, "alert:write")
    return _move(alert, AlertStatus.NEW, actor=actor, action="alert.reopened")


@atomic
def assign_alert(alert: Alert, assignee: Membership | None, *, actor: Actor) -> Alert:
    """Give the alert to a member who can work alerts, or unassign it (None)."""
    authorize(actor, "alert:write")
    if assignee is not None:
        if assignee.tenant_id != actor.tenant.id or not (assignee.is_active and assignee.user.is_active):
            raise ValidationFailed({"assignee": ["Choose an active member of this tenant."]})
        if "alert:read" not in permissions_for_role(assignee.role):
            raise ValidationFailed({"assignee": [f"A {assignee.role.value} cannot see alerts; choose another member."]})
    new_id = assignee.user_id if assignee is not None else None
    if alert.assignee_id == new_id:
        return alert
    before = {"assignee": alert.assignee.email if alert.assignee else None}
    alert.assignee_id = new_id
    db.session.flush()
    db.session.refresh(alert, ["assignee"])
    audit.record("alert.assigned", actor=actor, target=alert, before=before,
                 after={"assignee": alert.assignee.email if alert.assignee else None})
    return alert


_UNSET = object()


@atomic
def update_alert(alert: Alert, *, actor: Actor, status: str | None = None, close_reason: str | None = None,
                 assignee: Membership | None | object = _UNSET) -> Alert:
    """Apply a partial change (status, close reason, assignee) through the same rules as the single actions."""
    authorize(actor, "alert:write")
    if assignee is not _UNSET:
        assign_alert(alert, assignee, actor=actor)  # type: ignore[arg-type]
    if status is not None:
        try:
            to = AlertStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in AlertStatus)
            raise ValidationFailed({"status": [f"Unknown status; use {allowed}."]}) from None
        if to is AlertStatus.CLOSED:
            close_alert(alert, close_reason, actor=actor)
        elif to is AlertStatus.NEW and alert.status is AlertStatus.CLOSED:
            reopen_alert(alert, actor=actor)
        else:
            _move(alert, to, actor=actor, action="alert.acknowledged" if to is AlertStatus.ACKNOWLEDGED
                  else "alert.started" if to is AlertStatus.IN_PROGRESS else "alert.status_changed")
    elif close_reason is not None:
        raise ValidationFailed({"close_reason": ["A close reason goes with status \"closed\"."]})
    return alert


# --- bulk triage (the queue's bulk actions): alerts that cannot move are skipped ------------


def _bulk(alerts: Iterable[Alert], to: AlertStatus, change, actor: Actor) -> list[Alert]:
    authorize(actor, "alert:write")
    return [change(alert) for alert in alerts if alert.status is not to and alert.can_transition(to)]


@atomic
def bulk_acknowledge(alerts: Iterable[Alert], *, actor: Actor) -> list[Alert]:
    """Acknowledge every alert that can be; return the ones that changed."""
    return _bulk(alerts, AlertStatus.ACKNOWLEDGED, lambda a: acknowledge_alert(a, actor=actor), actor)


@atomic
def bulk_start(alerts: Iterable[Alert], *, actor: Actor) -> list[Alert]:
    """Move every alert that can be to in progress; return the ones that changed."""
    return _bulk(alerts, AlertStatus.IN_PROGRESS, lambda a: start_alert(a, actor=actor), actor)


@atomic
def bulk_close(alerts: Iterable[Alert], reason: str | CloseReason | None, *, actor: Actor) -> list[Alert]:
    """Close every open alert with one reason; return the ones that changed."""
    checked = _close_reason(reason)
    return _bulk(alerts, AlertStatus.CLOSED, lambda a: close_alert(a, checked, actor=actor), actor)


@atomic
def bulk_reopen(alerts: Iterable[Alert], *, actor: Actor) -> list[Alert]:
    """Reopen every closed alert; return the ones that changed."""
    return _bulk(alerts, AlertStatus.NEW, lambda a: reopen_alert(a, actor=actor), actor)


@atomic
def bulk_assign(alerts: Iterable[Alert], assignee: Membership | None, *, actor: Actor) -> list[Alert]:
    """Assign every alert to one member (or unassign); return the ones that changed."""
    authorize(actor, "alert:write")
    new_id = assignee.user_id if assignee is not None else None
    return [assign_alert(a, assignee, actor=actor) for a in alerts if a.assignee_id != new_id]

