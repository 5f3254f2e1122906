"""`vigil seed-demo`: tenant `acme` with one user per role and SOC data, safe to run again."""

from __future__ import annotations

import sqlalchemy as sa

from app.compliance.demo import seed_compliance
from app.core.actors import system_actor
from app.core.db import db
from app.core.permissions import Role
from app.core.tenancy import Tenant, tenant_context
from app.governance.ai_demo import seed_ai_systems
from app.governance.policies_demo import seed_policies
from app.governance.risks_demo import seed_risks
from app.identity.models import Membership, User
from app.identity.services import add_member, create_tenant
from app.scim.demo import seed_scim
from app.soc.demo import seed_soc
from app.soc.sla.demo import seed_sla

DEMO_PASSWORD = "vigil-demo-2026"  # noqa: S105 — printed on purpose: demo data only, never a real tenant
DEMO_TENANTS = [("acme", "Acme Corp"), ("globex", "Globex Labs")]
DEMO_USERS = [
    ("admin@acme.test", "Ada Admin", Role.ADMIN),
    ("analyst@acme.test", "Ana Lyst", Role.ANALYST),
    ("responder@acme.test", "Rey Sponder", Role.RESPONDER),
    ("compliance@acme.test", "Cora Compliance", Role.COMPLIANCE),
    ("auditor@acme.test", "Audrey Auditor", Role.AUDITOR),
]


def _tenant(slug: str, name: str) -> Tenant:
    return db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug)) or create_tenant(slug, name,
                                                                                            actor_label="seed-demo")


def _ensure_member(tenant: Tenant, email: str, name: str, role: Role) -> None:
    with tenant_context(tenant):
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user and db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id)):
            return
        add_member(actor=system_actor(tenant, "seed-demo"), email=email, name=name, role=role,
                   password=None if user else DEMO_PASSWORD)


def seed() -> list[str]:
    acme = _tenant(*DEMO_TENANTS[0])
    globex = _tenant(*DEMO_TENANTS[1])
    for email, name, role in DEMO_USERS:
        _ensure_member(acme, email, name, role)
    # The admin also belongs to a second tenant, to show the tenant switcher.
    _ensure_member(globex, "admin@acme.test", "Ada Admin", Role.ADMIN)
    soc_lines = seed_soc(acme)
    soc_lines += seed_sla(acme)
    lines = [f"Demo tenant '{acme.slug}' ready. Sign in at the console with (password {DEMO_PASSWORD}):"]
    lines += [f"  {role.value:<11} {email}" for email, _name, role in DEMO_USERS]
    return (lines + soc_lines + seed_scim(acme) + seed_compliance(acme) + seed_policies(acme) + seed_ai_systems(acme)
            # After the AI system inventory's demo, so risks can link to its systems by name.
            + seed_risks(acme))
