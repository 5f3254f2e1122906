"""SCIM representations: rows → resource JSON, and request JSON → the values services take.

Requests are read leniently, because identity providers differ (Entra sends a manager without
`$ref`, extension schemas of its own, booleans as strings); responses are complete and strict.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.scim.errors import invalid_value
from app.scim.models import ScimGroup, ScimUser

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
EXTENSION_URNS = [ENTERPRISE_SCHEMA]

# Never stored: server-assigned, derived, or (password) never accepted from a tenant's IdP,
# because the account is global and another tenant may rely on its password.
_NOT_STORED = {"schemas", "id", "meta", "password", "groups", "username", "externalid", "active"}


def as_bool(value: object, name: str) -> bool:
    """SCIM booleans, plus the strings "True"/"False" Entra ID sends in PATCH values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise invalid_value(f"“{name}” must be true or false.")


def _text(value: object, name: str, *, required: bool = False, limit: int = 320) -> str | None:
    if value is None or value == "":
        if required:
            raise invalid_value(f"“{name}” is required.")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid_value(f"“{name}” must be a string of at most {limit} characters.")
    return value.strip()


def _get(payload: dict, name: str):
    return next((v for k, v in payload.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class UserInput:
    user_name: str
    external_id: str | None
    active: bool
    attributes: dict

    @property
    def email(self) -> str | None:
        """The address Vigil signs the person in with: userName when it is one, else the primary email."""
        if "@" in self.user_name:
            return self.user_name
        emails = [e for e in self.attributes.get("emails") or [] if isinstance(e, dict) and e.get("value")]
        primary = next((e for e in emails if e.get("primary") in (True, "true", "True")), None)
        return (primary or (emails[0] if emails else {})).get("value")

    @property
    def full_name(self) -> str:
        name = self.attributes.get("name") or {}
        if isinstance(name, dict):
            formatted = name.get("formatted") or " ".join(
                p for p in (name.get("givenName"), name.get("familyName")) if isinstance(p, str) and p)
            if formatted:
                return str(formatted)[:200]
        return str(self.attributes.get("displayName") or "")[:200]


def read_user(payload: object) -> UserInput:
    """Validate a User body (POST, PUT, or the result of a PATCH)."""
    if not isinstance(payload, dict):
        raise invalid_value("The body must be a User object.")
    attributes = {k: v for k, v in payload.items() if k.lower() not in _NOT_STORED}
    for key in ("name", ENTERPRISE_SCHEMA):
        value = _get(attributes, key)
        if value is not None and not isinstance(value, dict):
            raise invalid_value(f"“{key}” must be an object.")
    for key in ("emails", "phoneNumbers", "addresses"):
        value = _get(attributes, key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise invalid_value(f"“{key}” must be a list of objects.")
    # Entra sends the enterprise manager as a bare id in PATCH; keep the SCIM shape.
    enterprise = _get(attributes, ENTERPRISE_SCHEMA)
    if isinstance(enterprise, dict) and isinstance(enterprise.get("manager"), str):
        enterprise["manager"] = {"value": enterprise["manager"]}
    active = _get(payload, "active")
    return UserInput(
        user_name=_text(_get(payload, "userName"), "userName", required=True),
        external_id=_text(_get(payload, "externalId"), "externalId", limit=255),
        active=True if active is None else as_bool(active, "active"),
        attributes=attributes,
    )


@dataclass(frozen=True)
class GroupInput:
    display_name: str
    external_id: str | None
    member_ids: list[str]


def read_group(payload: object) -> GroupInput:
    if not isinstance(payload, dict):
        raise invalid_value("The body must be a Group object.")
    members = _get(payload, "members") or []
    if not isinstance(members, list) or not all(isinstance(m, dict) and isinstance(m.get("value"), str)
                                                for m in members):
        raise invalid_value("“members” must be a list of objects with a “value” (a User id).")
    return GroupInput(
        display_name=_text(_get(payload, "displayName"), "displayName", required=True, limit=200),
        external_id=_text(_get(payload, "externalId"), "externalId", limit=255),
        member_ids=list(dict.fromkeys(m["value"] for m in members)),
    )


def _meta(kind: str, row, location: str) -> dict:
    return {"resourceType": kind, "created": row.created_at.isoformat(),
            "lastModified": row.updated_at.isoformat(), "location": location}


def render_user(user: ScimUser, base: str, groups: list[ScimGroup] | None = None) -> dict:
    """The full User resource; `groups` (read-only) when the caller loaded them."""
    attributes = dict(user.attributes or {})
    schemas = [USER_SCHEMA] + [urn for urn in EXTENSION_URNS if urn in attributes]
    resource = {"schemas": schemas, "id": user.public_id}
    if user.external_id:
        resource["externalId"] = user.external_id
    resource |= {"userName": user.user_name, **attributes, "active": user.membership.is_active}
    if groups is not None:
        resource["groups"] = [{"value": g.public_id, "display": g.display_name,
                               "$ref": f"{base}/Groups/{g.public_id}", "type": "direct"} for g in groups]
    resource["meta"] = _meta("User", user, f"{base}/Users/{user.public_id}")
    return resource


def render_group(group: ScimGroup, base: str, members: list[ScimUser] | None) -> dict:
    resource = {"schemas": [GROUP_SCHEMA], "id": group.public_id, "displayName": group.display_name}
    if group.external_id:
        resource["externalId"] = group.external_id
    if members is not None:
        resource["members"] = [{"value": u.public_id, "display": u.user_name, "type": "User",
                                "$ref": f"{base}/Users/{u.public_id}"} for u in members]
    resource["meta"] = _meta("Group", group, f"{base}/Groups/{group.public_id}")
    return resource


def list_response(resources: list[dict], *, total: int, start_index: int) -> dict:
    return {"schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start_index,
            "itemsPerPage": len(resources), "Resources": resources}
