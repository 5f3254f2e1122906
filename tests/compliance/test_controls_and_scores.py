"""Adoption proposes the shared controls; a control with accepted evidence moves every framework it maps to."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.compliance import evidence, scores, services
from app.compliance.models import Control, ControlMapping, ScoreSnapshot
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import Conflict, ValidationFailed

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _control(key: str) -> Control:
    return db.session.scalar(sa.select(Control).where(Control.key == key))


def _score(key: str) -> scores.Score:
    fw = services.framework_by_key(key)
    return scores.scores([fw.id])[fw.id]


def _implement_with_evidence(officer, key: str, *, valid_until=None, decision="accepted") -> None:
    control = _control(key)
    services.update_control(control, actor=officer, status="implemented")
    ev = evidence.upload_evidence(actor=officer, filename=f"{key}.pdf", stream=PDF + key.encode(),
                                  control_ids=[control.public_id], valid_until=valid_until)
    evidence.review_evidence(ev, actor=officer, decision=decision, comment="checked")


def test_adopting_proposes_the_default_controls_and_maps_them_across_frameworks(library, officer):
    eu = services.framework_by_key("eu-ai-act-2024")
    proposed = {p["template"].key for p in services.proposed_controls(eu)}
    assert proposed == {"VC-01", "VC-02", "VC-03"}
    services.adopt_framework(eu, actor=officer)
    assert {c.key for c in db.session.scalars(sa.select(Control))} == {"VC-01", "VC-02", "VC-03"}
    refs = {m.requirement.ref for m in db.session.scalars(sa.select(ControlMapping))}
    assert refs == {"Art. 9", "Art. 10", "Art. 12", "MAP 1.1", "MEASURE 2.1"}  # AI RMF tied in too
    with pytest.raises(Conflict):
        services.adopt_framework(eu, actor=officer)


def test_one_implemented_control_with_fresh_evidence_moves_both_frameworks(library, officer):
    services.adopt_framework(services.framework_by_key("eu-ai-act-2024"), actor=officer)
    services.adopt_framework(services.framework_by_key("nist-ai-rmf-1.0"), actor=officer)
    assert (_score("eu-ai-act-2024").met, _score("eu-ai-act-2024").applicable) == (0, 4)
    _implement_with_evidence(officer, "VC-01")
    assert _score("eu-ai-act-2024").met == 1
    assert (_score("nist-ai-rmf-1.0").met, _score("nist-ai-rmf-1.0").percent) == (1, 50)


@pytest.mark.parametrize(("valid_until", "decision", "reason"), [
    (date.today() - timedelta(days=1), "accepted", "VC-01: evidence expired"),
    (None, "rejected", "VC-01: evidence rejected"),
])
def test_expired_or_rejected_evidence_does_not_count_and_the_gap_says_why(library, officer, valid_until, decision,
                                                                           reason):
    eu = services.framework_by_key("eu-ai-act-2024")
    services.adopt_framework(eu, actor=officer)
    _implement_with_evidence(officer, "VC-01", valid_until=valid_until, decision=decision)
    assert _score("eu-ai-act-2024").met == 0
    by_ref = {g.ref: g for g in scores.gaps(eu)}
    assert by_ref["Art. 9"].reasons == [reason]
    assert by_ref["Art. 5(1)(a)"].reasons == ["no control mapped"]
    assert by_ref["Art. 10"].reasons == ["VC-02: not started"]


def test_not_applicable_needs_a_justification_and_leaves_the_denominator(library, officer):
    services.adopt_framework(services.framework_by_key("eu-ai-act-2024"), actor=officer)
    control = _control("VC-03")
    with pytest.raises(ValidationFailed) as caught:
        services.update_control(control, actor=officer, status="not_applicable", justification="  ")
    assert "justification" in caught.value.field_errors
    db.session.rollback()
    services.update_control(_control("VC-03"), actor=officer, status="not_applicable",
                            justification="No logging: the system is not deployed.")
    assert _score("eu-ai-act-2024").applicable == 3
    record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "compliance.control_status_changed"))
    assert record.before == {"status": "not_started", "justification": None}
    assert record.after["status"] == "not_applicable"


def test_snapshots_keep_one_row_per_framework_and_day(library, officer, tenant_a):
    services.adopt_framework(services.framework_by_key("eu-ai-act-2024"), actor=officer)
    scores.snapshot_scores(tenant=tenant_a)
    _implement_with_evidence(officer, "VC-01")
    scores.snapshot_scores(tenant=tenant_a)
    rows = list(db.session.scalars(sa.select(ScoreSnapshot)))
    assert [(r.met, r.applicable) for r in rows] == [(1, 4)]


def test_gap_tasks_go_to_control_owners_once(library, officer, tenant_a):
    from tests import factories

    owner = factories.make_member(tenant_a, role="compliance").user
    eu = services.framework_by_key("eu-ai-act-2024")
    services.adopt_framework(eu, actor=officer)
    services.update_control(_control("VC-02"), actor=officer, owner_id=owner.public_id, due_date="2030-01-31")
    tasks = services.create_gap_tasks(eu, scores.gaps(eu), actor=officer)
    assert len(tasks) == 4
    art10 = next(t for t in tasks if "Art. 10" in t.title)
    assert art10.assignee_id == owner.id and art10.due_date == date(2030, 1, 31)
    assert services.create_gap_tasks(eu, scores.gaps(eu), actor=officer) == []
