"""The case state machine: which status may follow which, served as-is to the UI and the API.

The incident-response lifecycle (NIST SP 800-61) runs
new → triage → investigating → contained → eradicated → recovered → closed.
Shortcuts a working SOC needs, and nothing more:

- new → investigating: the case was opened from a confirmed alert, so triage is already done;
- any open status → closed: a false positive found at triage, or a duplicate; closing always
  needs a resolution summary (checked by the service, not here);
- contained / eradicated / recovered → investigating: the attacker came back or the scope grew;
- closed → investigating: reopen (the only way out of closed).
"""

from __future__ import annotations

from enum import StrEnum

from app.core.errors import Conflict


class CaseStatus(StrEnum):
    NEW = "new"
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    ERADICATED = "eradicated"
    RECOVERED = "recovered"
    CLOSED = "closed"


S = CaseStatus
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    S.NEW: (S.TRIAGE, S.INVESTIGATING, S.CLOSED),
    S.TRIAGE: (S.INVESTIGATING, S.CLOSED),
    S.INVESTIGATING: (S.CONTAINED, S.CLOSED),
    S.CONTAINED: (S.INVESTIGATING, S.ERADICATED, S.CLOSED),
    S.ERADICATED: (S.INVESTIGATING, S.RECOVERED, S.CLOSED),
    S.RECOVERED: (S.INVESTIGATING, S.CLOSED),
    S.CLOSED: (S.INVESTIGATING,),
}
OPEN_STATUSES = tuple(s for s in CaseStatus if s is not S.CLOSED)


def allowed_transitions(status: CaseStatus | str) -> list[str]:
    """The statuses a case in `status` may move to, in lifecycle order."""
    return [s.value for s in TRANSITIONS[CaseStatus(status)]]


def state_machine() -> dict[str, list[str]]:
    """Every status with its allowed next statuses (GET /api/v1/cases/transitions)."""
    return {s.value: allowed_transitions(s) for s in CaseStatus}


def parse_status(value: str) -> CaseStatus:
    from app.core.errors import ValidationFailed

    try:
        return CaseStatus(str(value).strip().lower())
    except ValueError:
        raise ValidationFailed({"to": [f"Unknown status {str(value)[:40]!r}; use one of "
                                       f"{', '.join(s.value for s in CaseStatus)}."]}) from None


def check_transition(current: CaseStatus, to: CaseStatus, *, reference: str = "The case") -> None:
    """Raise Conflict naming the allowed statuses unless current → to is in the table."""
    if to not in TRANSITIONS[current]:
        allowed = allowed_transitions(current)
        raise Conflict(f"{reference} is {current.value}; it can move to: {', '.join(allowed)}.",
                       {"status": current.value, "allowed": allowed})
