"""`vigil seed-demo`'s SOC month: made once, through the real services, with a chain that verifies."""

from __future__ import annotations

import ipaddress
import random
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.core import audit
from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.tenancy import Tenant, tenant_context
from app.identity.models import User
from app.soc import demo, ocsf
from app.soc.cases.models import Attachment, Case, CaseAlertLink, CaseTask, TimelineEntry, TimelineKind
from app.soc.models import Alert, AlertObservable, AlertStatus, ObservableKind

DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
COUNTED = {"alerts": Alert, "observables": AlertObservable, "cases": Case, "entries": TimelineEntry,
           "tasks": CaseTask, "links": CaseAlertLink, "attachments": Attachment}


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _snapshot(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        counts = {name: _count(model) for name, model in COUNTED.items()}
    return counts | {"audit": _count(AuditRecord, AuditRecord.tenant_id == tenant.id)}


def _grouped(column) -> dict:
    return dict(db.session.execute(sa.select(column, sa.func.count()).group_by(column)).all())


def _seed_twice(app) -> Tenant:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "SOC demo:" in first.output and "admin@acme.test" in first.output
    acme = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "acme"))
    before = _snapshot(acme)
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "admin@acme.test" in second.output and "SOC demo:" not in second.output
    assert _snapshot(acme) == before
    return acme


def test_seed_demo_makes_one_month_of_soc_work_with_a_verifiable_audit_chain(app):
    acme = _seed_twice(app)

    result = audit.verify(acme)
    assert result.ok, result.reason
    actions = set(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.tenant_id == acme.id)))
    assert {"alert.batch_ingested", "alert.acknowledged", "alert.started", "alert.closed", "alert.assigned",
            "case.created", "case.alerts_linked", "case.timeline_event_added", "case.commented",
            "case.task_completed", "case.attachment_added", "case.merged", "case.closed"} <= actions

    with tenant_context(acme):
        alerts = _count(Alert)
        assert 2_500 <= alerts <= 3_500
        occurrences, most = db.session.execute(sa.select(sa.func.sum(Alert.occurrences),
                                                         sa.func.max(Alert.occurrences))).one()
        assert occurrences > 2 * alerts and most >= 20  # duplicates were merged by the real deduplication
        assert len(_grouped(Alert.source)) == 6

        severities = _grouped(Alert.severity)
        assert (severities["low"] + severities["medium"]) / alerts > 0.6
        assert 0 < severities["critical"] / alerts < 0.05

        statuses = _grouped(Alert.status)
        assert statuses[AlertStatus.CLOSED] / alerts > 0.7
        assert all(statuses[s] >= 50 for s in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS))
        assert len(_grouped(Alert.close_reason)) == 5  # four reasons, and None for the open ones
        assignees = {email: n for email, n in db.session.execute(
            sa.select(User.email, sa.func.count()).join(Alert, Alert.assignee_id == User.id).group_by(User.email))}
        assert assignees[demo.ANALYST] > 50 and assignees[demo.RESPONDER] > 20

        now = utcnow()
        first, last = db.session.execute(sa.select(sa.func.min(Alert.first_seen), sa.func.max(Alert.last_seen))).one()
        assert now - timedelta(days=31) < first and last < now
        assert now - last < timedelta(hours=2)  # the demo always looks current
        closed_late = _count(Alert, Alert.closed_at.is_not(None), Alert.closed_at < Alert.last_seen)
        assert closed_late == 0
        ips = db.session.scalars(sa.select(AlertObservable.value).where(AlertObservable.kind == ObservableKind.IP))
        assert all(any(ipaddress.ip_address(ip) in net for net in DOC_NETS) for ip in ips)

        cases = list(db.session.scalars(sa.select(Case).order_by(Case.number)))
        assert len(cases) == 12
        assert len({c.status for c in cases}) >= 6
        merged = [c for c in cases if c.merged_into_id is not None]
        assert len(merged) == 1 and merged[0].status == "closed"
        assert all(c.resolution for c in cases if c.status == "closed")
        ransomware = next(c for c in cases if c.template == "ransomware" and c.status == "recovered")
        kinds = _grouped_for(ransomware)
        assert kinds[TimelineKind.EVENT] >= 10 and kinds[TimelineKind.COMMENT] >= 3
        assert {TimelineKind.STATUS_CHANGE, TimelineKind.ALERT_LINK, TimelineKind.ATTACHMENT,
                TimelineKind.TASK_DONE} <= set(kinds)
        earliest = db.session.scalar(sa.select(sa.func.min(TimelineEntry.occurred_at))
                                     .where(TimelineEntry.case_id == ransomware.id))
        assert earliest < ransomware.created_at  # manual events carry the time things happened
        attachment = db.session.scalar(sa.select(Attachment))
        assert attachment.content_type == "text/plain" and attachment.filename.endswith(".txt")


def _grouped_for(case: Case) -> dict:
    return dict(db.session.execute(sa.select(TimelineEntry.kind, sa.func.count())
                                   .where(TimelineEntry.case_id == case.id).group_by(TimelineEntry.kind)).all())


def test_demo_events_are_repeatable_valid_ocsf_with_documentation_indicators():
    now = utcnow()
    events = demo.noise_events(random.Random(demo.SEED), now) + [(at, e) for at, e, _k in demo.story_events(now)]
    assert events[:200] == demo.noise_events(random.Random(demo.SEED), now)[:200]
    for _at, event in events:
        draft = ocsf.to_draft(event)  # raises naming the field if an event is not a finding
        assert draft.observables and draft.techniques
        for kind, value in draft.observables:
            if kind is ObservableKind.IP:
                assert any(ipaddress.ip_address(value) in net for net in DOC_NETS), value
            elif kind in (ObservableKind.DOMAIN, ObservableKind.URL, ObservableKind.EMAIL):
                host = urlsplit(value).hostname if kind is ObservableKind.URL else value.rsplit("@", 1)[-1]
                assert host.endswith((".example", ".test")), value
