"""The SLA clock of one alert or case: what is due next, by when, and how it is going.

Pure computation over columns already loaded with the row (created, acknowledged and closed
times, severity) and the tenant's targets, so a page of 50 rows costs no extra query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.soc.sla.targets import Target

# Below this share of its target left, a running clock is shown as due soon.
DUE_SOON_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class Clock:
    """What the badge shows. state: running, due_soon, breached, met, missed or none (no target)."""

    state: str
    kind: str | None = None  # acknowledge | resolve: the target this clock is about
    due_at: datetime | None = None
    seconds: float = 0  # left (running) or past due (breached); 0 otherwise

    @property
    def label(self) -> str:
        if self.state in ("running", "due_soon"):
            return f"{human_seconds(self.seconds)} left"
        if self.state == "breached":
            return f"breached {human_seconds(self.seconds)} ago"
        return {"met": "met", "missed": "missed", "none": "no target"}[self.state]

    @property
    def kind_label(self) -> str:
        if self.state in ("met", "missed", "none"):
            return "SLA"
        return {"acknowledge": "Ack", "resolve": "Resolve"}[self.kind]

    @property
    def has_target(self) -> bool:
        return self.state != "none"


def human_seconds(seconds: float) -> str:
    """A duration as people say it on a badge: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours and days < 10 else f"{days} d"


def human_minutes(minutes: int | None) -> str:
    """A target in the largest whole units: 15 min, 4 h, 3 d, 1 h 30 min; — when unset."""
    if minutes is None:
        return "—"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p)


def clock(target: Target, *, created_at: datetime, acknowledged_at: datetime | None, closed_at: datetime | None,
          now: datetime) -> Clock:
    """The clock of a subject with these times, against one severity's target."""
    ack_due = created_at + timedelta(minutes=target.ack_minutes) if target.ack_minutes else None
    resolve_due = created_at + timedelta(minutes=target.resolve_minutes) if target.resolve_minutes else None
    if ack_due is None and resolve_due is None:
        return Clock("none")
    acked = acknowledged_at or closed_at
    if closed_at is not None:
        missed = (ack_due is not None and acked > ack_due) or (resolve_due is not None and closed_at > resolve_due)
        kind = "resolve" if resolve_due is not None else "acknowledge"
        return Clock("missed" if missed else "met", kind, resolve_due or ack_due)
    if acked is None and ack_due is not None:
        return _running("acknowledge", ack_due, target.ack_minutes, now)
    if resolve_due is not None:
        return _running("resolve", resolve_due, target.resolve_minutes, now)
    return Clock("missed" if acked > ack_due else "met", "acknowledge", ack_due)


def _running(kind: str, due: datetime, target_minutes: int, now: datetime) -> Clock:
    left = (due - now).total_seconds()
    if left < 0:
        return Clock("breached", kind, due, -left)
    return Clock("due_soon" if left < target_minutes * 60 * DUE_SOON_SHARE else "running", kind, due, left)


def subject_clock(subject, targets: dict, now: datetime) -> Clock:
    """The clock of an alert or a case (both carry severity, created, acknowledged and closed times)."""
    return clock(targets[subject.severity], created_at=subject.created_at, acknowledged_at=subject.acknowledged_at,
                 closed_at=subject.closed_at, now=now)
