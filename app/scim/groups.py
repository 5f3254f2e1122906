"""Groups pushed by the IdP, and the roles their membership gives (identity.group_roles).

A member's role follows their groups whenever those change: the broadest role any of their
groups maps to, or `users.DEFAULT_ROLE` when none is mapped. A tenant with no group → role
mappings at all does not use groups for roles, so a group push never touches roles there.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.permissions import authorize
from app.identity import group_roles
from app.identity import services as members
from app.scim.errors import invalid_value, not_found, uniqueness
from app.scim.models import ScimGroup, ScimGroupMember, ScimUser
from app.scim.patch import apply_operations
from app.scim.resources import read_group
from app.scim.users import DEFAULT_ROLE


def get_group(public_id: str) -> ScimGroup:
    group = db.session.scalar(sa.select(ScimGroup).where(ScimGroup.public_id == str(public_id)))
    if group is None:
        raise not_found(f"No Group with id “{public_id}”.")
    return group


def list_groups(*, display_name: str | None = None) -> list[ScimGroup]:
    stmt = sa.select(ScimGroup).order_by(ScimGroup.id)
    if display_name is not None:
        stmt = stmt.where(sa.func.lower(ScimGroup.display_name) == display_name.lower())
    return list(db.session.scalars(stmt))


def group_members(group: ScimGroup) -> list[ScimUser]:
    return list(db.session.scalars(
        sa.select(ScimUser).join(ScimGroupMember, ScimGroupMember.scim_user_id == ScimUser.id)
        .where(ScimGroupMember.group_id == group.id).order_by(ScimUser.id)))


def member_refs(group: ScimGroup) -> list[sa.Row]:
    """(id, public_id, user_name) of each member: enough to render or diff a large group cheaply."""
    return list(db.session.execute(
        sa.select(ScimUser.id, ScimUser.public_id, ScimUser.user_name)
        .join(ScimGroupMember, ScimGroupMember.scim_user_id == ScimUser.id)
        .where(ScimGroupMember.group_id == group.id).order_by(ScimUser.id)))


def groups_by_user(user_ids: list[int]) -> dict[int, list[ScimGroup]]:
    """Each user's groups in one query, for a page of Users."""
    found: dict[int, list[ScimGroup]] = {uid: [] for uid in user_ids}
    for user_id, group in db.session.execute(
        sa.select(ScimGroupMember.scim_user_id, ScimGroup)
        .join(ScimGroup, ScimGroupMember.group_id == ScimGroup.id)
        .where(ScimGroupMember.scim_user_id.in_(user_ids)).order_by(ScimGroup.display_name)):
        found[user_id].append(group)
    return found


def groups_of(user: ScimUser) -> list[ScimGroup]:
    return list(db.session.scalars(
        sa.select(ScimGroup).join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
        .where(ScimGroupMember.scim_user_id == user.id).order_by(ScimGroup.display_name)))


def recompute_roles(users: list[ScimUser], *, actor: Actor) -> None:
    """Give each member the role their groups map to (audited as member.role_changed)."""
    if not users or not group_roles.list_mappings():
        return
    for user in users:
        role = group_roles.role_for_groups([g.display_name for g in groups_of(user)]) or DEFAULT_ROLE
        if role != user.membership.role:
            members.change_role(user.membership, role.value, actor=actor)


def _name_taken(name: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(ScimGroup.id).where(sa.func.lower(ScimGroup.display_name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(ScimGroup.id != exclude_id)
    return db.session.scalar(stmt) is not None


def _resolve_members(ids: list[str]) -> list[ScimUser]:
    # The membership (and its user and tenant) loads only for members whose role is recomputed.
    stmt = sa.select(ScimUser).where(ScimUser.public_id.in_(ids)).options(orm.lazyload(ScimUser.membership))
    found = {u.public_id: u for u in db.session.scalars(stmt)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise invalid_value(f"No User with id {', '.join(missing[:5])} in this tenant; provision the user first.")
    return [found[i] for i in ids]


def _set_members(group: ScimGroup, wanted: list[ScimUser]) -> tuple[list[ScimUser], list[ScimUser]]:
    current = {row.id for row in member_refs(group)}
    wanted_by_id = {u.id: u for u in wanted}
    added = [u for uid, u in wanted_by_id.items() if uid not in current]
    gone = [uid for uid in current if uid not in wanted_by_id]
    removed = list(db.session.scalars(sa.select(ScimUser).where(ScimUser.id.in_(gone)))) if gone else []
    if removed:
        db.session.execute(sa.delete(ScimGroupMember).where(
            ScimGroupMember.group_id == group.id, ScimGroupMember.scim_user_id.in_([u.id for u in removed])))
    db.session.add_all(ScimGroupMember(group_id=group.id, scim_user_id=u.id) for u in added)
    db.session.flush()
    return added, removed


@atomic
def create_group(payload: object, *, actor: Actor) -> ScimGroup:
    """Create a group with its members; their roles follow the tenant's group → role mapping."""
    authorize(actor, "member:write")
    data = read_group(payload)
    if _name_taken(data.display_name):
        raise uniqueness(f"A Group named “{data.display_name}” already exists.")
    now = utcnow()
    group = ScimGroup(display_name=data.display_name, external_id=data.external_id, created_at=now, updated_at=now)
    db.session.add(group)
    db.session.flush()
    added, _ = _set_members(group, _resolve_members(data.member_ids))
    audit.record("scim.group_created", actor=actor, target=group,
                 after={"displayName": group.display_name, "members_added": [u.user_name for u in added]})
    recompute_roles(added, actor=actor)
    return group


@atomic
def replace_group(group: ScimGroup, payload: object, *, actor: Actor) -> ScimGroup:
    """PUT (and the end of a PATCH): name, externalId and the exact member list."""
    authorize(actor, "member:write")
    data = read_group(payload)
    if _name_taken(data.display_name, exclude_id=group.id):
        raise uniqueness(f"A Group named “{data.display_name}” already exists.")
    before = {"displayName": group.display_name, "externalId": group.external_id}
    renamed = data.display_name != group.display_name
    group.display_name, group.external_id = data.display_name, data.external_id
    added, removed = _set_members(group, _resolve_members(data.member_ids))
    after = {"displayName": group.display_name, "externalId": group.external_id}
    if before != after or added or removed:
        group.updated_at = utcnow()
        audit.record("scim.group_updated", actor=actor, target=group, before=before,
                     after=after | {"members_added": [u.user_name for u in added],
                                    "members_removed": [u.user_name for u in removed]})
    recompute_roles(group_members(group) + removed if renamed else added + removed, actor=actor)
    return group


def editable_view(group: ScimGroup) -> dict:
    view = {"displayName": group.display_name, "members": [{"value": u.public_id} for u in member_refs(group)]}
    if group.external_id:
        view["externalId"] = group.external_id
    return view


@atomic
def patch_group(group: ScimGroup, body: object, *, actor: Actor) -> ScimGroup:
    """PATCH: Okta's and Entra's member add/remove shapes, then saved as a PUT would."""
    return replace_group(group, apply_operations(editable_view(group), body, extension_urns=[]), actor=actor)


@atomic
def delete_group(group: ScimGroup, *, actor: Actor) -> None:
    """Delete the group; its former members' roles are worked out again without it."""
    authorize(actor, "member:write")
    former = group_members(group)
    db.session.execute(sa.delete(ScimGroupMember).where(ScimGroupMember.group_id == group.id))
    audit.record("scim.group_deleted", actor=actor, target=group,
                 before={"displayName": group.display_name, "members": [u.user_name for u in former]})
    db.session.delete(group)
    db.session.flush()
    recompute_roles(former, actor=actor)
