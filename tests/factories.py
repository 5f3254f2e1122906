"""Builders that set up state through the real services (rules are tested by calling services)."""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db
from app.core.tenancy import Tenant, tenant_context
from app.identity.api_keys import create_api_key
from app.identity.models import Membership
from app.identity.services import add_member, create_tenant

PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def make_tenant(slug: str | None = None, name: str | None = None) -> Tenant:
    n = next(_counter)
    return create_tenant(slug or f"tenant-{n}", name or f"Tenant {n}", actor_label="test")


def make_member(tenant: Tenant, *, role: str = "analyst", email: str | None = None,
                password: str | None = PASSWORD, name: str = "") -> Membership:
    email = email or f"{role}{next(_counter)}@{tenant.slug}.test"
    with tenant_context(tenant):
        membership = add_member(actor=system_actor(tenant, "test"), email=email, name=name, role=role,
                                password=password)
        return db.session.scalar(sa.select(Membership).where(Membership.id == membership.id))


def make_api_key(tenant: Tenant, *, scopes: list[str], name: str = "test key", expires_at=None):
    with tenant_context(tenant):
        return create_api_key(actor=system_actor(tenant, "test"), name=name, scopes=scopes, expires_at=expires_at)


def make_alert(tenant: Tenant, **overrides):
    """An alert created through the service, in our own JSON (title, severity, source, observables...)."""
    from app.soc.services import create_alert

    data = {"title": f"Suspicious activity {next(_counter)}", "severity": "medium", "source": "EDR", **overrides}
    with tenant_context(tenant):
        return create_alert(actor=system_actor(tenant, "test"), data=data)


def make_case(tenant: Tenant, **overrides):
    """A case opened through the service (title, severity, template, tags, ...)."""
    from app.soc.cases.services import create_case

    data = {"title": f"Investigation {next(_counter)}", "severity": "high", **overrides}
    with tenant_context(tenant):
        return create_case(actor=system_actor(tenant, "test"), **data)


def make_scim_token(tenant: Tenant, name: str = "test IdP"):
    from app.scim.tokens import create_scim_token

    with tenant_context(tenant):
        return create_scim_token(actor=system_actor(tenant, "test"), name=name)[0]


def make_attachment(tenant: Tenant, case, *, filename: str = "notes.txt", content: bytes = b"evidence\n",
                    content_type: str = "text/plain"):
    """An evidence file stored on the case through the service."""
    import io

    from app.soc.cases.services import add_attachment

    with tenant_context(tenant):
        return add_attachment(case, actor=system_actor(tenant, "test"), filename=filename,
                              content_type=content_type, stream=io.BytesIO(content))


def link_alerts(tenant: Tenant, case, alerts) -> None:
    """Link alerts to a case through the service."""
    from app.soc.cases.services import link_alerts as link

    with tenant_context(tenant):
        link(case, [a.public_id for a in alerts], actor=system_actor(tenant, "test"))


def make_policy_in_review(tenant: Tenant, **overrides):
    """A policy whose first version awaits approval by the tenant's admins (makes a compliance officer
    and an admin); returns (policy, approval request)."""
    from app.governance import policies_services
    from app.identity.auth import member_actor

    officer = make_member(tenant, role="compliance")
    make_member(tenant, role="admin")
    data = {"title": f"Policy {next(_counter)}", "body": "# Policy\n\nText.", **overrides}
    with tenant_context(tenant):
        actor = member_actor(officer)
        policy = policies_services.create_policy(actor=actor, **data)
        approval = policies_services.request_review(policy.versions[0], actor=actor)
        return policy, approval


def make_ai_system(tenant: Tenant, **overrides):
    """A classified AI system (CV screening, high-risk) with its classification; made by a new compliance officer."""
    from app.governance import ai_services
    from app.identity.auth import member_actor

    officer = make_member(tenant, role="compliance")
    data = {"name": f"AI system {next(_counter)}", "purpose": "Ranks job applications.", **overrides}
    answers = {"roles": ["provider"], "gpai": "no", "annex1": "no", "annex3": "yes", "annex3_area": "employment",
               "annex3_profiling": "yes", "annex3_derogation": "no"}
    answers |= {f"art5_{p}": "no" for p in "abcdefgh"}
    answers |= {k: "no" for k in ("art50_interacts", "art50_synthetic", "art50_emotion")}
    with tenant_context(tenant):
        system = ai_services.create_system(actor=member_actor(officer), **data)
        ai_services.complete_classification(system, actor=member_actor(officer), answers=answers)
        return system


def make_risk(tenant: Tenant, *, actor_role: str = "compliance", **overrides):
    """A risk recorded by a new member of the given role (residual 2×2 unless overridden)."""
    from app.governance import risks_services
    from app.identity.auth import member_actor

    member = make_member(tenant, role=actor_role)
    data = {"title": f"Risk {next(_counter)}", "category": "security", "inherent_likelihood": 4,
            "inherent_impact": 4, "residual_likelihood": 2, "residual_impact": 2, **overrides}
    with tenant_context(tenant):
        return risks_services.create_risk(actor=member_actor(member), **data)
