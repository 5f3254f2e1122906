"""Roles mapped to named permissions, and the one check used by HTML views and API routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum

from app.core.errors import Forbidden, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    RESPONDER = "responder"
    COMPLIANCE = "compliance"
    AUDITOR = "auditor"


ROLE_LABELS = {
    Role.ADMIN: "Admin — members, SSO, API keys, everything",
    Role.ANALYST: "Analyst — alerts, cases, playbooks",
    Role.RESPONDER: "Responder — on-call: acknowledge, escalate, approve",
    Role.COMPLIANCE: "Compliance — frameworks, controls, evidence, AI governance",
    Role.AUDITOR: "Auditor — read-only everywhere, plus the audit log",
}

# Every permission the console knows. Domains add theirs here so the role table stays one page.
PERMISSIONS = {
    "dashboard:view": "See the tenant's home dashboard",
    "member:read": "List members and their roles",
    "member:write": "Add members, change roles, deactivate, reset MFA, issue password links",
    "apikey:manage": "Create and revoke API keys",
    "audit:read": "Read, export and verify the audit log",
    "alert:read": "Read alerts",
    "alert:write": "Ingest, triage and close alerts",
    "case:read": "Read cases and timelines",
    "case:write": "Open, edit and close cases",
    "oncall:respond": "Acknowledge and escalate pages",
    "approval:decide": "Approve or reject requests",
    "compliance:read": "Read frameworks, controls and evidence",
    "compliance:write": "Edit controls, evidence, risks and policies",
    "report:read": "Download reports",
    "scim:manage": "Create and revoke SCIM provisioning tokens",
    "sla:manage": "Set the SLA targets for alerts and cases",
    "sso:manage": "Configure single sign-on (OIDC, SAML), enforcement and group → role mapping",
    "soc:configure": "Change SOC settings: alert deduplication",
    "approval:read": "See approval requests, the approvals inbox and re-verify decisions",
    "approval:request": "Ask for approval (each subject type may also need its own permission)",
    "policy:read": "Read policies and acknowledge (attest to) the published version",
    "risk:read": "Read the risk register and its heatmap",
}

_READ = {p for p in PERMISSIONS if p.endswith(":read") or p == "dashboard:view"}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(PERMISSIONS),
    Role.ANALYST: frozenset(
        {"dashboard:view", "alert:read", "alert:write", "case:read", "case:write", "report:read",
         "oncall:respond", "approval:read", "approval:request", "policy:read", "risk:read"}
    ),
    Role.RESPONDER: frozenset(
        {"dashboard:view", "alert:read", "case:read", "oncall:respond", "approval:decide",
         "approval:read", "approval:request", "policy:read"}
    ),
    Role.COMPLIANCE: frozenset(
        {"dashboard:view", "compliance:read", "compliance:write", "approval:decide", "report:read",
         "approval:read", "approval:request", "policy:read", "risk:read"}
    ),
    # Auditors read everything, members and the audit log included, and change nothing.
    Role.AUDITOR: frozenset(_READ),
}

# API key scopes are coarse, client-facing names; each grants a set of permissions.
SCOPES: dict[str, frozenset[str]] = {
    "users:read": frozenset({"member:read"}),
    "audit:read": frozenset({"audit:read"}),
    "alerts:read": frozenset({"alert:read"}),
    "alerts:write": frozenset({"alert:read", "alert:write"}),
    "cases:read": frozenset({"case:read"}),
    "cases:write": frozenset({"case:read", "case:write"}),
    "compliance:read": frozenset({"compliance:read"}),
    "compliance:write": frozenset({"compliance:read", "compliance:write"}),
    "approvals:read": frozenset({"approval:read"}),
    # Keys may call the routes, but the engine refuses a key as requester or approver (no person behind it).
    "approvals:write": frozenset({"approval:read", "approval:request", "approval:decide"}),
    "policies:read": frozenset({"policy:read"}),
    "risks:read": frozenset({"risk:read"}),
}


def permissions_for_role(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS[Role(role)]


def permissions_for_scopes(scopes: list[str]) -> frozenset[str]:
    granted: set[str] = set()
    for scope in scopes:
        granted |= SCOPES.get(scope, frozenset())
    return frozenset(granted)


def authorize(actor, permission: str) -> None:
    """Raise Forbidden unless the actor (user membership or API key) holds the permission."""
    if actor is None:
        raise Unauthorized("Sign in to continue.")
    if permission not in actor.permissions:
        raise Forbidden(f"This needs the “{permission}” permission.")


def require(permission: str) -> Callable:
    """Route decorator: the current actor (HTML session or API credential) must hold permission."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            from app.core.actors import current_actor

            authorize(current_actor(), permission)
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator


def required_permission(view: Callable) -> str | None:
    """The permission a route declared with @require, looking through other decorators' wrappers."""
    while view is not None:
        if hasattr(view, "required_permission"):
            return view.required_permission
        view = getattr(view, "__wrapped__", None)
    return None
