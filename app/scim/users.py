"""Provisioning members from a tenant's identity provider: create or link, update, deactivate, delete.

The person (`User`) is global; SCIM in tenant T creates or links their membership in T and
keeps T's view of them in `ScimUser`. It never sets a password, and it changes the global
email or name only for someone who belongs to T alone, so one tenant's IdP cannot alter what
another tenant relies on.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import ValidationFailed
from app.core.permissions import Role, authorize
from app.identity import services as members
from app.identity.auth import normalise_email
from app.identity.models import Membership, User
from app.scim.errors import invalid_value, not_found, uniqueness
from app.scim.models import ScimGroupMember, ScimUser
from app.scim.resources import EXTENSION_URNS, UserInput, read_user

# A SCIM-created member starts read-only, and keeps this role when group → role mappings
# exist but none of their groups is mapped: least privilege until the directory says more.
DEFAULT_ROLE = Role.AUDITOR


def get_user(public_id: str) -> ScimUser:
    user = db.session.scalar(sa.select(ScimUser).where(ScimUser.public_id == str(public_id)))
    if user is None:
        raise not_found(f"No User with id “{public_id}”.")
    return user


def list_users() -> list[ScimUser]:
    return list(db.session.scalars(sa.select(ScimUser).order_by(ScimUser.id)))


def users_page(*, offset: int, limit: int) -> list[ScimUser]:
    return list(db.session.scalars(sa.select(ScimUser).order_by(ScimUser.id).offset(offset).limit(limit)))


def count_users() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ScimUser))


def find_users(*, user_name: str | None = None, external_id: str | None = None) -> list[ScimUser]:
    """The narrowing the IdPs' lookups need, in SQL; further conditions are applied by the caller."""
    stmt = sa.select(ScimUser).order_by(ScimUser.id)
    if user_name is not None:
        stmt = stmt.where(sa.func.lower(ScimUser.user_name) == user_name.lower())
    if external_id is not None:
        stmt = stmt.where(ScimUser.external_id == external_id)
    return list(db.session.scalars(stmt))


def _summary(user: ScimUser) -> dict:
    return {"scim_id": user.public_id, "userName": user.user_name, "externalId": user.external_id,
            "active": user.membership.is_active}


def _clean_email(value: str | None) -> str:
    if not value:
        raise invalid_value("Vigil signs people in by email: send userName as an email address, "
                            "or an “emails” value.")
    try:
        return members._clean_email(value)
    except ValidationFailed as exc:
        raise invalid_value(f"“{value}” is not a usable email address: {exc.message}")


def _user_name_taken(user_name: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(ScimUser.id).where(sa.func.lower(ScimUser.user_name) == user_name.lower())
    if exclude_id is not None:
        stmt = stmt.where(ScimUser.id != exclude_id)
    return db.session.scalar(stmt) is not None


def _other_tenant_memberships(user: User, tenant_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Membership)
        .where(Membership.user_id == user.id, Membership.tenant_id != tenant_id)
        .execution_options(all_tenants=True)  # only counted, to decide who owns the global account
    )


def _membership_for(email: str, data: UserInput, actor: Actor) -> tuple[Membership, bool]:
    """The member in this tenant with that email, added if needed; True when it already existed."""
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    membership = user and db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id))
    if membership is not None:
        if db.session.scalar(sa.select(ScimUser.id).where(ScimUser.membership_id == membership.id)):
            raise uniqueness(f"{email} is already provisioned in this tenant under another userName.")
        return membership, True
    return members.add_member(actor=actor, email=email, name=data.full_name, role=DEFAULT_ROLE.value), False


@atomic
def create_user(payload: object, *, actor: Actor) -> ScimUser:
    """Provision a member: a new person, or link someone who already has an account or a membership."""
    authorize(actor, "member:write")
    data = read_user(payload)
    if _user_name_taken(data.user_name):
        raise uniqueness(f"A User with userName “{data.user_name}” already exists.")
    membership, linked = _membership_for(_clean_email(data.email), data, actor)
    now = utcnow()
    scim_user = ScimUser(membership=membership, user_name=data.user_name, external_id=data.external_id,
                         attributes=data.attributes, created_at=now, updated_at=now)
    db.session.add(scim_user)
    db.session.flush()
    audit.record("scim.user_linked" if linked else "scim.user_created", actor=actor, target=membership,
                 after=_summary(scim_user) | {"role": membership.role.value})
    _set_active(scim_user, data.active, actor=actor)
    return scim_user


def _set_active(user: ScimUser, active: bool, *, actor: Actor) -> None:
    """Deactivation ends access to this tenant at once (see identity.services.set_member_active)."""
    if user.membership.is_active != active:
        members.set_member_active(user.membership, active, actor=actor)


def _update_global_identity(user: ScimUser, data: UserInput, actor: Actor) -> dict:
    """Change the global email and name only for someone who belongs to this tenant alone."""
    person = user.membership.user
    if _other_tenant_memberships(person, user.tenant_id):
        return {}
    changes = {}
    email = _clean_email(data.email)
    if email != person.email:
        if db.session.scalar(sa.select(User.id).where(User.email == email, User.id != person.id)):
            raise uniqueness(f"Another account already uses {email}.")
        changes["email"] = [person.email, email]
        person.email = email
    if data.full_name and data.full_name != person.name:
        changes["name"] = [person.name, data.full_name]
        person.name = data.full_name
    return changes


@atomic
def replace_user(user: ScimUser, payload: object, *, actor: Actor) -> ScimUser:
    """PUT: the resource becomes exactly the body (id, password and groups aside)."""
    authorize(actor, "member:write")
    data = read_user(payload)
    if _user_name_taken(data.user_name, exclude_id=user.id):
        raise uniqueness(f"A User with userName “{data.user_name}” already exists.")
    before = _summary(user)
    account = _update_global_identity(user, data, actor)
    changed = (data.user_name, data.external_id, data.attributes) != (user.user_name, user.external_id,
                                                                      user.attributes)
    user.user_name, user.external_id, user.attributes = data.user_name, data.external_id, data.attributes
    if changed or account:
        user.updated_at = utcnow()
        audit.record("scim.user_updated", actor=actor, target=user.membership, before=before,
                     after=_summary(user) | ({"account": account} if account else {}))
    _set_active(user, data.active, actor=actor)
    if user.membership.is_active != before["active"]:
        user.updated_at = utcnow()
    return user


def editable_view(user: ScimUser) -> dict:
    """What a PATCH operates on: the stored resource without server-assigned parts."""
    view = {"userName": user.user_name, **(user.attributes or {}), "active": user.membership.is_active}
    if user.external_id:
        view["externalId"] = user.external_id
    return view


@atomic
def patch_user(user: ScimUser, body: object, *, actor: Actor) -> ScimUser:
    """PATCH: apply the operations to the current resource, then save it as a PUT would."""
    from app.scim.patch import apply_operations

    return replace_user(user, apply_operations(editable_view(user), body, extension_urns=EXTENSION_URNS),
                        actor=actor)


@atomic
def delete_user(user: ScimUser, *, actor: Actor) -> None:
    """DELETE: deactivate the membership (history stays) and forget this tenant's SCIM record."""
    authorize(actor, "member:write")
    membership, summary = user.membership, _summary(user)
    _set_active(user, False, actor=actor)
    db.session.execute(sa.delete(ScimGroupMember).where(ScimGroupMember.scim_user_id == user.id))
    db.session.delete(user)
    audit.record("scim.user_deleted", actor=actor, target=membership, before=summary)
