"""SCIM demo data for `vigil seed-demo`: acme's Okta has pushed a dozen people and three groups.

Everything goes through the SCIM services as the IdP's token, so the audit log and the roles
are what a real Okta push would leave behind. Safe to run again: it stops if acme has a token.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.tenancy import Tenant, tenant_context
from app.identity import group_roles
from app.scim import groups, tokens, users
from app.scim.models import ScimToken

PEOPLE = [
    ("ines.ferreira", "Inês", "Ferreira", "Vigil SOC Analysts"),
    ("tomasz.nowak", "Tomasz", "Nowak", "Vigil SOC Analysts"),
    ("priya.raman", "Priya", "Raman", "Vigil SOC Analysts"),
    ("kwame.mensah", "Kwame", "Mensah", "Vigil Responders"),
    ("lena.vogel", "Lena", "Vogel", "Vigil Responders"),
    ("sofia.rossi", "Sofia", "Rossi", "Vigil Responders"),
    ("daniel.okafor", "Daniel", "Okafor", "Vigil Auditors"),
    ("mei.chen", "Mei", "Chen", "Vigil Auditors"),
    ("jonas.berg", "Jonas", "Berg", None),
    ("amara.diallo", "Amara", "Diallo", None),
]
MAPPING = {"Vigil SOC Analysts": "analyst", "Vigil Responders": "responder", "Vigil Auditors": "auditor"}


def _user_body(login: str, given: str, family: str, n: int) -> dict:
    email = f"{login}@acme.test"
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
            "externalId": f"00u{n:04d}acme", "name": {"givenName": given, "familyName": family},
            "displayName": f"{given} {family}", "emails": [{"value": email, "type": "work", "primary": True}],
            "active": True}


def seed_scim(tenant: Tenant) -> list[str]:
    with tenant_context(tenant):
        if db.session.scalar(sa.select(ScimToken.id).limit(1)):
            return []
        operator = system_actor(tenant, "seed-demo")
        old, _raw = tokens.create_scim_token(actor=operator, name="Okta (before rotation)")
        tokens.revoke_scim_token(old, actor=operator)
        token, _raw = tokens.create_scim_token(actor=operator, name="Okta — acme.okta.com")
        if not group_roles.list_mappings():
            group_roles.replace_mappings(MAPPING, actor=operator)
        okta = tokens.scim_actor(token, tenant, None)
        members: dict[str, list[str]] = {}
        created = []
        for n, (login, given, family, group) in enumerate(PEOPLE, start=1):
            user = users.create_user(_user_body(login, given, family, n), actor=okta)
            created.append(user)
            if group:
                members.setdefault(group, []).append(user.public_id)
        for name in [*MAPPING, "All Acme Staff"]:
            ids = members.get(name, [u.public_id for u in created] if name == "All Acme Staff" else [])
            groups.create_group({"displayName": name, "members": [{"value": i} for i in ids]}, actor=okta)
        users.patch_user(created[-1], {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                       "Operations": [{"op": "replace", "value": {"active": False}}]}, actor=okta)
        db.session.execute(sa.update(ScimToken).where(ScimToken.id == token.id)
                           .values(last_used_at=utcnow() - timedelta(minutes=7)))
        db.session.commit()
    return [f"SCIM: {len(PEOPLE)} people and {len(MAPPING) + 1} groups provisioned by the demo Okta token."]
