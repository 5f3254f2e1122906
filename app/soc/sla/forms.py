"""The targets form: a number and a unit per field, turned into minutes for the service.

The rules (positive, at most a year, acknowledge no later than resolve) live in targets.py;
this only reads what the browser sent and keeps it for a re-render when something is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.soc.sla.targets import SEVERITIES, Target

UNITS = {"min": 1, "h": 60, "d": 24 * 60}
UNIT_LABELS = {"min": "minutes", "h": "hours", "d": "days"}
FIELDS = ("ack", "resolve")
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass
class TargetField:
    """One input as shown: the typed value and unit (kept as typed when it was wrong)."""

    name: str  # critical.ack_minutes: the service's error key
    value: str
    unit: str
    sent: bool = True  # False when the request did not carry the field at all


def split_minutes(minutes: int | None) -> tuple[str, str]:
    """Show a stored target in the largest unit that divides it: 240 → ("4", "h")."""
    if minutes is None:
        return "", "h"
    for unit in ("d", "h"):
        if minutes % UNITS[unit] == 0:
            return str(minutes // UNITS[unit]), unit
    return str(minutes), "min"


def fields_from_targets(targets: dict[object, Target]) -> dict[str, dict[str, TargetField]]:
    out = {}
    for severity in SEVERITIES:
        target = targets[severity]
        out[severity.value] = {
            kind: TargetField(f"{severity.value}.{kind}_minutes", *split_minutes(getattr(target, f"{kind}_minutes")))
            for kind in FIELDS}
    return out


def fields_from_form(form) -> dict[str, dict[str, TargetField]]:
    out = {}
    for severity in SEVERITIES:
        out[severity.value] = {
            kind: TargetField(f"{severity.value}.{kind}_minutes", (form.get(f"{severity.value}-{kind}") or "").strip(),
                              form.get(f"{severity.value}-{kind}-unit") or "h", sent=f"{severity.value}-{kind}" in form)
            for kind in FIELDS}
    return out


def parse_fields(fields: dict[str, dict[str, TargetField]]) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Minutes per severity for the service, and the inputs that are not whole numbers in a known unit."""
    changes: dict[str, dict] = {}
    errors: dict[str, list[str]] = {}
    for severity, by_kind in fields.items():
        if not any(field.sent for field in by_kind.values()):
            continue  # a severity the request left out keeps its targets; an emptied field means none
        values = {}
        for kind, field in by_kind.items():
            if field.unit not in UNITS:
                errors[field.name] = ["Choose minutes, hours or days."]
            elif not field.value:
                values[f"{kind}_minutes"] = None
            elif not WHOLE_NUMBER.fullmatch(field.value) or int(field.value) <= 0:
                errors[field.name] = ["Use a whole number greater than 0, or leave it empty for no target."]
            else:
                values[f"{kind}_minutes"] = int(field.value) * UNITS[field.unit]
        if len(values) == len(FIELDS):
            changes[severity] = values
    return changes, errors
