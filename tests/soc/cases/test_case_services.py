"""Case services: numbering, templates, timeline entries for every change, audit, merge, alerts, export."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import Conflict, ValidationFailed
from app.core.tenancy import Tenant, tenant_context
from app.core.text import render_markdown
from app.soc.cases import services, timeline
from app.soc.cases.models import Case, TimelineKind
from app.soc.cases.templates_catalog import TEMPLATES
from app.soc.models import AlertStatus
from tests import factories


def _actions(case) -> list[str]:
    return list(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.target_id == case.public_id)
                                   .order_by(AuditRecord.seq)))


def test_numbers_are_sequential_per_tenant(analyst, tenant_b):
    first = services.create_case(actor=analyst, title="One")
    second = services.create_case(actor=analyst, title="Two")
    other = factories.make_case(tenant_b)
    assert (first.reference, second.reference) == ("CASE-1", "CASE-2")
    assert other.number == 1


def test_concurrent_creates_get_distinct_sequential_numbers(app, tenant_a):
    errors, threads = [], []
    tenant_id = tenant_a.id  # each thread loads its own copy: ORM objects never cross sessions

    def create(n):
        try:
            with app.app_context():
                tenant = db.session.get(Tenant, tenant_id)
                with tenant_context(tenant):
                    services.create_case(actor=system_actor(tenant, "t"), title=f"Parallel {n}")
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    for n in range(8):
        threads.append(threading.Thread(target=create, args=(n,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with tenant_context(tenant_a):
        numbers = sorted(db.session.scalars(sa.select(Case.number)))
    assert numbers == list(range(1, 9))


def test_template_prefills_tasks_tags_severity_and_prefix(analyst):
    case = services.create_case(actor=analyst, title="Invoice lure to finance", template="ransomware")
    tpl = TEMPLATES["ransomware"]
    assert case.title == "Ransomware: Invoice lure to finance"
    assert case.severity == "critical"
    assert set(tpl.tags) <= set(case.tags)
    assert [t.title for t in case.tasks] == list(tpl.tasks)
    assert 5 <= len(tpl.tasks) <= 8
    assert all(5 <= len(t.tasks) <= 8 for t in TEMPLATES.values())
    assert {"phishing", "ransomware", "ai_model_abuse"} <= set(TEMPLATES)


def test_unknown_template_and_bad_technique_are_validation_errors(analyst):
    with pytest.raises(ValidationFailed) as err:
        services.create_case(actor=analyst, title="x", template="nope")
    assert "template" in err.value.field_errors
    with pytest.raises(ValidationFailed) as err:
        services.create_case(actor=analyst, title="x", techniques=["T1059.001", "X99"])
    assert "techniques" in err.value.field_errors
    case = services.create_case(actor=analyst, title="x", techniques=["t1059.001", "T1566"])
    assert case.techniques == ["T1059.001", "T1566"]


def test_every_change_writes_its_timeline_entry_and_audit(analyst, case, tenant_a):
    other = factories.make_member(tenant_a, role="analyst")
    alert = factories.make_alert(tenant_a)
    with tenant_context(tenant_a):
        services.assign_case(case, other.user, actor=analyst)
        services.transition_case(case, "triage", actor=analyst)
        services.link_alerts(case, [alert.public_id], actor=analyst)
        task = services.add_task(case, actor=analyst, title="Pull EDR triage package")
        services.complete_task(task, actor=analyst)
        services.add_attachment(case, actor=analyst, filename="notes.txt", content_type="text/plain",
                                stream=b"hello")
        timeline.add_comment(case, actor=analyst, body="Looks **bad**")
        timeline.add_event(case, actor=analyst, occurred_at=datetime.now(UTC) - timedelta(days=2),
                           body="Phish opened", category="initial_access", asset="WS-0042")
        kinds = {e.kind for e in timeline.list_timeline(case)}
    assert kinds == set(TimelineKind) - {TimelineKind.SLA_BREACH}  # that one: the SLA check (test_sla_breaches.py)
    assert {"case.created", "case.assigned", "case.status_changed", "case.alerts_linked", "case.task_added",
            "case.task_completed", "case.attachment_added", "case.commented",
            "case.timeline_event_added"} <= set(_actions(case))


def test_event_time_and_recorded_time_orderings_differ(analyst, case):
    timeline.add_comment(case, actor=analyst, body="first recorded")
    old = timeline.add_event(case, actor=analyst, occurred_at=datetime.now(UTC) - timedelta(hours=5),
                             body="Lateral movement to DC01", category="lateral_movement")
    by_event = timeline.list_timeline(case, order="occurred")
    by_recorded = timeline.list_timeline(case, order="recorded")
    assert by_event[0].id == old.id
    assert by_recorded[-1].id == old.id
    assert old.occurred_at < old.recorded_at
    only = timeline.list_timeline(case, kinds=[TimelineKind.COMMENT])
    assert [e.kind for e in only] == [TimelineKind.COMMENT]


def test_future_or_naive_event_time_is_refused(analyst, case):
    with pytest.raises(ValidationFailed):
        timeline.add_event(case, actor=analyst, occurred_at=datetime.now(UTC) + timedelta(hours=1), body="x")
    with pytest.raises(ValidationFailed):
        timeline.add_event(case, actor=analyst, occurred_at=datetime(2025, 1, 1), body="x")  # noqa: DTZ001


def test_editing_a_manual_entry_is_audited_with_before_and_after(analyst, case):
    entry = timeline.add_event(case, actor=analyst, occurred_at=datetime.now(UTC) - timedelta(hours=1),
                               body="Host isolated", category="containment_action")
    timeline.edit_entry(entry, actor=analyst, body="Host WS-0042 isolated by EDR", asset="WS-0042")
    rec = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "case.timeline_entry_edited"))
    assert rec.before["body"] == "Host isolated"
    assert rec.after["body"] == "Host WS-0042 isolated by EDR"
    assert rec.after["asset"] == "WS-0042"
    assert entry.edited_at is not None


def test_system_entries_cannot_be_edited(analyst, case):
    services.transition_case(case, "triage", actor=analyst)
    entry = timeline.list_timeline(case, kinds=[TimelineKind.STATUS_CHANGE])[0]
    with pytest.raises(Conflict):
        timeline.edit_entry(entry, actor=analyst, body="rewritten history")


def test_csv_export_neutralises_formulas_and_json_export_keeps_text(analyst, case):
    timeline.add_comment(case, actor=analyst, body='=HYPERLINK("http://evil.example","click")')
    timeline.add_event(case, actor=analyst, occurred_at=datetime.now(UTC) - timedelta(minutes=5),
                       body="@SUM(1+1)", asset="+cmd|' /C calc'!A0")
    rows = list(csv.DictReader(io.StringIO(timeline.export_csv(case))))
    bodies = {r["body"] for r in rows}
    assert "'=HYPERLINK(\"http://evil.example\",\"click\")" in bodies
    assert "'@SUM(1+1)" in bodies
    assert any(r["asset"] == "'+cmd|' /C calc'!A0" for r in rows)
    assert not any(v.startswith(("=", "+", "@", "-")) for r in rows for v in r.values() if v)
    data = json.loads(timeline.export_json(case))
    assert data["case"] == case.reference
    assert '=HYPERLINK("http://evil.example","click")' in [e["body"] for e in data["entries"]]


def test_markdown_is_sanitised():
    html = str(render_markdown("<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
                               "<img src=x onerror=alert(1)> **bold** [ok](https://example.org)"))
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html  # the link is refused and left as text
    assert "&lt;script&gt;" in html  # typed HTML is shown as text
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html


def test_linking_alerts_moves_them_to_in_progress_once(analyst, case, tenant_a):
    alert = factories.make_alert(tenant_a)
    with tenant_context(tenant_a):
        linked = services.link_alerts(case, [alert.public_id], actor=analyst)
        again = services.link_alerts(case, [alert.public_id], actor=analyst)
        other = services.create_case(actor=analyst, title="Other")
        with pytest.raises(Conflict):
            services.link_alerts(other, [alert.public_id], actor=analyst)
        assert [a.id for a in linked] == [alert.id]
        assert again == []
        assert db.session.get(type(alert), alert.id).status is AlertStatus.IN_PROGRESS


def test_merge_moves_alerts_timeline_tasks_and_audits_both(analyst, case, tenant_a):
    alert = factories.make_alert(tenant_a)
    with tenant_context(tenant_a):
        survivor = services.create_case(actor=analyst, title="Main incident", template="phishing")
        services.link_alerts(case, [alert.public_id], actor=analyst)
        services.add_task(case, actor=analyst, title="Extra task")
        comment = timeline.add_comment(case, actor=analyst, body="From the duplicate")
        services.merge_cases(case, survivor, actor=analyst)
        db.session.expire_all()
        assert case.status == "closed" and case.merged_into_id == survivor.id
        assert [a.id for a in services.linked_alerts(survivor)] == [alert.id]
        assert services.linked_alerts(case) == []
        assert survivor.tasks[-1].title == "Extra task"
        assert len(survivor.tasks) == len(TEMPLATES["phishing"].tasks) + 1
        assert comment.id in {e.id for e in timeline.list_timeline(survivor)}
        assert [e.kind for e in timeline.list_timeline(case)] == [TimelineKind.STATUS_CHANGE]
        assert "case.merged_into" in _actions(case)
        assert "case.merged" in _actions(survivor)
        with pytest.raises(Conflict):
            services.merge_cases(case, survivor, actor=analyst)


def test_assignee_must_be_a_member_of_the_tenant(analyst, case, tenant_b):
    outsider = factories.make_member(tenant_b)
    with pytest.raises(ValidationFailed):
        services.assign_case(case, outsider.user, actor=analyst)
