"""The AI systems demo: twelve systems across the tiers, classified, one waiting for the admin's go-live approval."""

from __future__ import annotations

import sqlalchemy as sa

from app.approvals.models import ApprovalRequest, RequestStatus
from app.core.db import db
from app.core.tenancy import tenant_context
from app.governance.ai_demo import AWAITING, seed_ai_systems
from app.governance.ai_models import AISystem, DeploymentStatus, RiskTier
from tests import factories


def test_demo_systems_cover_the_tiers_and_one_awaits_the_admin(tenant_a):
    admin = factories.make_member(tenant_a, role="admin", email="admin@acme.test")
    factories.make_member(tenant_a, role="compliance", email="compliance@acme.test")
    assert seed_ai_systems(tenant_a)
    with tenant_context(tenant_a):
        systems = {s.name: s for s in db.session.scalars(sa.select(AISystem))}
        assert len(systems) == 12
        assert {s.risk_tier for s in systems.values()} == set(RiskTier)
        assert systems["CV screening assistant"].risk_tier == RiskTier.HIGH
        assert systems["Customer support chatbot"].risk_tier == RiskTier.TRANSPARENCY
        assert systems["Mail spam filter"].risk_tier == RiskTier.MINIMAL
        assert systems["Acme Assist foundation model"].risk_tier == RiskTier.GPAI
        assert systems[AWAITING].deployment_status == DeploymentStatus.AWAITING_GO_LIVE
        request = db.session.scalar(sa.select(ApprovalRequest).where(ApprovalRequest.subject_kind == "ai_go_live"))
        assert request.status == RequestStatus.PENDING and request.current_step.can_decide(admin.user_id)
    assert seed_ai_systems(tenant_a) == []  # once per tenant
