"""The demo programme: three frameworks at different stages, evidence of every freshness, a trend, idempotent."""

from __future__ import annotations

import sqlalchemy as sa

from app.compliance import evidence, scores, services
from app.compliance.demo import seed_compliance
from app.compliance.models import Evidence, ReviewStatus, ScoreSnapshot
from app.core.db import db, utcnow
from app.core.tenancy import tenant_context
from tests import factories


def test_demo_programme_shows_a_realistic_picture(tenant_a):
    factories.make_member(tenant_a, role="compliance")
    lines = seed_compliance(tenant_a)
    assert lines[0] == "Compliance programme seeded:" and len(lines) == 4
    with tenant_context(tenant_a):
        percents = {key: scores.scores([services.framework_by_key(key).id]).popitem()[1].percent
                    for key in ("eu-ai-act-2024", "nist-ai-rmf-1.0", "soc2-2017")}
        assert len(set(percents.values())) == 3 and all(0 < p < 100 for p in percents.values()), percents
        today = utcnow().date()
        rows = list(db.session.scalars(sa.select(Evidence)))
        assert any(e.is_expired(today) for e in rows)
        assert {e.review_status for e in rows} == set(ReviewStatus)
        assert list(db.session.scalars(evidence.renewals_due()))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoreSnapshot)) >= 3 * 30
    assert "demo programme exists" in seed_compliance(tenant_a)[0]
