"""Builders for compliance state, through the real services (used by the cross-tenant sweep too)."""

from __future__ import annotations

from pathlib import Path

from app.compliance import evidence, oscal, scores, services
from app.core.actors import system_actor
from app.core.tenancy import tenant_context

MINI_CATALOG = Path(__file__).parent / "fixtures" / "oscal-catalog-mini.json"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def make_compliance_objects(tenant) -> list[str]:
    """A tenant's own framework (OSCAL import), adopted, with a control, file evidence and a gap task.

    Returns the ids and keys a URL can carry: framework key, a group and a leaf requirement, the
    control, the evidence and the task.
    """
    with tenant_context(tenant):
        actor = system_actor(tenant, "test")
        fw = oscal.import_catalog(MINI_CATALOG.read_bytes(), actor=actor)
        services.adopt_framework(fw, actor=actor)
        control = services.create_control(actor=actor, key="T-1", name="Account reviews")
        leaf = next(r for r in _requirements(fw) if r.ref == "AC-2")
        group = next(r for r in _requirements(fw) if r.ref == "AC")
        services.map_control(control, leaf, actor=actor)
        ev = evidence.upload_evidence(actor=actor, filename="review.pdf", stream=PDF,
                                      control_ids=[control.public_id])
        task = services.create_gap_tasks(fw, scores.gaps(fw), actor=actor)[0]
        return [fw.key, group.public_id, leaf.public_id, control.public_id, ev.public_id, task.public_id]


def _requirements(fw):
    import sqlalchemy as sa

    from app.compliance.models import Requirement
    from app.core.db import db

    return list(db.session.scalars(sa.select(Requirement).where(Requirement.framework_id == fw.id)))
