"""The subject registry: domains say what can be approved and what happens when it is decided.

A domain registers a kind once at import (`register(SubjectKind(...))`); the engine then calls:
- `describe(subject_id)` → `Subject` (title and link) or None when no such subject exists in the
  current tenant (the request is refused with a 422);
- `on_approved(subject_id, request, actor)` when the last step approves;
- `on_rejected(subject_id, request, actor, outcome)` when the request is rejected, cancelled or
  expired (outcome says which), so the subject can go back to its previous state.
Callbacks run inside the decision's transaction: if they raise, nothing of the decision is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import ValidationFailed


@dataclass(frozen=True)
class Subject:
    title: str
    link: str = ""


@dataclass(frozen=True)
class SubjectKind:
    name: str
    label: str
    describe: Callable[[str], Subject | None]
    on_approved: Callable[..., None]
    on_rejected: Callable[..., None]
    high_impact: bool = False  # decisions need a fresh passkey step-up (TOTP for users without one)
    request_permission: str = "approval:request"


KINDS: dict[str, SubjectKind] = {}


def register(kind: SubjectKind) -> SubjectKind:
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> SubjectKind:
    kind = KINDS.get(name)
    if kind is None:
        known = ", ".join(sorted(KINDS)) or "none"
        raise ValidationFailed({"subject_type": [f"Unknown subject type “{name[:40]}”; known types: {known}."]})
    return kind
