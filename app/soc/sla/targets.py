"""Per-tenant, per-severity SLA targets: read with defaults, and changed by an admin (audited)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db
from app.core.errors import ValidationFailed
from app.core.permissions import authorize
from app.soc.models import AlertSeverity
from app.soc.sla.models import DEFAULT_TARGETS, SlaTarget

MAX_MINUTES = 365 * 24 * 60  # a year: anything longer is not a service level
# Most urgent first: the order of every table and form.
SEVERITIES = (AlertSeverity.CRITICAL, AlertSeverity.HIGH, AlertSeverity.MEDIUM, AlertSeverity.LOW,
              AlertSeverity.INFO)


@dataclass(frozen=True, slots=True)
class Target:
    severity: AlertSeverity
    ack_minutes: int | None
    resolve_minutes: int | None
    is_default: bool = False

    def as_dict(self) -> dict:
        return {"severity": self.severity.value, "ack_minutes": self.ack_minutes,
                "resolve_minutes": self.resolve_minutes, "is_default": self.is_default}


# Built once: every queue and case page reads the targets for its SLA chips.
_TARGETS = sa.select(SlaTarget.severity, SlaTarget.ack_minutes, SlaTarget.resolve_minutes)


def current_targets() -> dict[AlertSeverity, Target]:
    """The tenant's targets for every severity, defaults filled in where none was set."""
    rows = {t.severity: t for t in db.session.execute(_TARGETS)}
    out = {}
    for severity in SEVERITIES:
        row = rows.get(severity)
        if row is None:
            ack, resolve = DEFAULT_TARGETS[severity]
            out[severity] = Target(severity, ack, resolve, is_default=True)
        else:
            out[severity] = Target(severity, row.ack_minutes, row.resolve_minutes)
    return out


def _checked_minutes(value, field: str, errors: dict) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        errors.setdefault(field, []).append("Use a whole number of minutes greater than 0, or leave it empty.")
        return None
    if value > MAX_MINUTES:
        errors.setdefault(field, []).append("Use at most 365 days.")
        return None
    return value


def validate_targets(changes: dict[str, dict]) -> dict[AlertSeverity, tuple[int | None, int | None]]:
    """Check {severity: {ack_minutes, resolve_minutes}}; errors are keyed `severity.field`."""
    errors: dict[str, list[str]] = {}
    checked = {}
    for name, values in changes.items():
        try:
            severity = AlertSeverity(str(name).lower())
        except ValueError:
            errors.setdefault(str(name)[:40], []).append(
                f"Unknown severity; use {', '.join(s.value for s in SEVERITIES)}.")
            continue
        ack = _checked_minutes(values.get("ack_minutes"), f"{severity.value}.ack_minutes", errors)
        resolve = _checked_minutes(values.get("resolve_minutes"), f"{severity.value}.resolve_minutes", errors)
        if ack is not None and resolve is not None and ack > resolve:
            errors.setdefault(f"{severity.value}.resolve_minutes", []).append(
                "Time to resolve cannot be shorter than time to acknowledge.")
        checked[severity] = (ack, resolve)
    if errors:
        raise ValidationFailed(errors)
    return checked


@atomic
def update_targets(changes: dict[str, dict], *, actor: Actor) -> dict[AlertSeverity, Target]:
    """Set the targets of the named severities (minutes; None for no target); others keep theirs."""
    authorize(actor, "sla:manage")
    checked = validate_targets(changes)
    before = current_targets()
    rows = {t.severity: t for t in db.session.scalars(sa.select(SlaTarget).with_for_update())}
    for severity, (ack, resolve) in checked.items():
        row = rows.get(severity) or SlaTarget(severity=severity)
        row.ack_minutes, row.resolve_minutes = ack, resolve
        db.session.add(row)
    db.session.flush()
    after = current_targets()
    changed = [s for s in SEVERITIES if (before[s].ack_minutes, before[s].resolve_minutes)
               != (after[s].ack_minutes, after[s].resolve_minutes)]
    if changed:
        audit.record("sla.targets_changed", actor=actor, target=("sla_targets", None, "SLA targets"),
                     before={s.value: _pair(before[s]) for s in changed},
                     after={s.value: _pair(after[s]) for s in changed})
    return after


def _pair(target: Target) -> dict:
    return {"ack_minutes": target.ack_minutes, "resolve_minutes": target.resolve_minutes}
