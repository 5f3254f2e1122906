"""Evidence: sniffed types, size limit, links, many controls, review, renewals job, promotion from a case."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.compliance import evidence, jobs, services
from app.compliance.models import Control, Evidence, EvidenceLink, ReviewStatus
from app.core import storage
from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.errors import Conflict, ValidationFailed
from tests import factories
from tests.compliance.builders import PDF


def _controls(officer):
    services.adopt_framework(services.framework_by_key("eu-ai-act-2024"), actor=officer)
    return list(db.session.scalars(sa.select(Control).order_by(Control.key)))


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("policy.pdf", PDF, "application/pdf"),
    ("results.csv", b"check,result\nmfa,pass\nbackup,pass\n", "text/csv"),
    ("export.json", b'{"mfa": true}', "application/json"),
    ("notes.txt", "Überprüfung abgeschlossen\n".encode(), "text/plain"),
    ("procedure.docx", _docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_the_type_comes_from_the_bytes(library, officer, name, data, kind):
    ev = evidence.upload_evidence(actor=officer, filename=name, stream=data)
    assert ev.content_type == kind and ev.sha256 == __import__("hashlib").sha256(data).hexdigest()
    assert storage.path_for(ev.storage_key).read_bytes() == data


def test_an_oversized_file_is_a_field_error_and_nothing_is_kept(library, officer, app):
    app.config["VIGIL_ATTACHMENT_MAX_BYTES"] = 100
    try:
        with pytest.raises(ValidationFailed, match="larger than the limit of 100 bytes"):
            evidence.upload_evidence(actor=officer, filename="big.pdf", stream=PDF + b"x" * 200)
    finally:
        app.config["VIGIL_ATTACHMENT_MAX_BYTES"] = 25 * 1024 * 1024
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0


def test_one_link_supports_several_controls_and_review_is_audited(library, officer):
    first, second = _controls(officer)[:2]
    ev = evidence.link_evidence(actor=officer, url="https://jira.example.com/browse/SEC-12", title="Ticket",
                                control_ids=[first.public_id, second.public_id])
    assert {c.key for c in evidence.controls_of(ev)} == {first.key, second.key}
    with pytest.raises(ValidationFailed, match="Say why"):
        evidence.review_evidence(ev, actor=officer, decision="rejected", comment=" ")
    evidence.review_evidence(ev, actor=officer, decision="rejected", comment="Ticket still open")
    assert ev.review_status == ReviewStatus.REJECTED
    actions = set(db.session.scalars(sa.select(AuditRecord.action)))
    assert {"compliance.evidence_linked", "compliance.evidence_rejected"} <= actions
    with pytest.raises(ValidationFailed, match="full http"):
        evidence.link_evidence(actor=officer, url="javascript:alert(1)", title="x")


def test_the_daily_job_flags_renewals_once_and_snapshots_scores(library, officer, tenant_a):
    control = _controls(officer)[0]
    today = utcnow().date()
    soon = evidence.upload_evidence(actor=officer, filename="a.pdf", stream=PDF + b"a",
                                    valid_until=today + timedelta(days=20), control_ids=[control.public_id])
    later = evidence.upload_evidence(actor=officer, filename="b.pdf", stream=PDF + b"b",
                                     valid_until=today + timedelta(days=90), control_ids=[control.public_id])
    for ev in (soon, later):
        evidence.review_evidence(ev, actor=officer, decision="accepted")
    assert jobs.run_daily() == [f"{tenant_a.slug}: 1 evidence flagged for renewal, 1 scores recorded"]
    assert soon.renewal_flagged_at is not None and later.renewal_flagged_at is None
    assert jobs.run_daily()[0].startswith(f"{tenant_a.slug}: 0 evidence flagged")
    assert db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "compliance.evidence_renewal_due"))
    assert [e.public_id for e in db.session.scalars(evidence.renewals_due())] == [soon.public_id]


def test_renewals_page_lists_what_is_due(library, login_as, tenant_a):
    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context

    with tenant_context(tenant_a):
        actor = system_actor(tenant_a)
        ev = evidence.upload_evidence(actor=actor, filename="a.pdf", stream=PDF, title="Pen test report",
                                      valid_until=utcnow().date() + timedelta(days=5))
        evidence.review_evidence(ev, actor=actor, decision="accepted")
    page = login_as("compliance").get("/compliance/renewals")
    assert "Pen test report" in page.text and "in 5 days" in page.text


def test_a_case_attachment_is_promoted_to_evidence(library, login_as, tenant_a):
    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context
    from app.soc.cases.services import add_attachment

    case = factories.make_case(tenant_a)
    with tenant_context(tenant_a):
        attachment = add_attachment(case, actor=system_actor(tenant_a), filename="forensics.pdf",
                                    content_type="application/pdf", stream=io.BytesIO(PDF))
    client = login_as("admin")
    page = client.get(f"/soc/cases/{case.public_id}")
    form = next(f for f in page.forms.values() if "from-attachment" in (f.action or ""))
    detail = form.submit().follow()
    assert "forensics.pdf" in detail.text and attachment.sha256 in detail.text
    with tenant_context(tenant_a):
        ev = db.session.scalar(sa.select(Evidence))
        assert ev.source_attachment_id == attachment.id
        with pytest.raises(Conflict):
            evidence.promote_attachment(attachment, actor=system_actor(tenant_a))


def test_detach_keeps_the_evidence(library, officer):
    control = _controls(officer)[0]
    ev = evidence.upload_evidence(actor=officer, filename="a.pdf", stream=PDF, control_ids=[control.public_id])
    evidence.detach_evidence(ev, control, actor=officer)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvidenceLink)) == 0
    assert db.session.get(Evidence, ev.id) is not None
