"""The breach check: what counts as a breach, idempotence, tenancy, audit, case timeline, job and CLI."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.tenancy import tenant_context
from app.soc.cases.models import TimelineEntry, TimelineKind
from app.soc.sla import check_breaches, update_targets
from app.soc.sla.models import SlaBreach
from tests.soc.sla_helpers import NOW, alert_at, case_at, minutes_ago


def _breaches(tenant) -> list[tuple[str, str, str]]:
    """(subject public id, kind, severity) of the tenant's breaches, as the tenant sees them."""
    with tenant_context(tenant):
        rows = db.session.scalars(sa.select(SlaBreach).options(sa.orm.joinedload(SlaBreach.alert),
                                                               sa.orm.joinedload(SlaBreach.case))
                                  .order_by(SlaBreach.id))
        return [((b.alert or b.case).public_id, b.kind.value, b.severity.value) for b in rows]


def test_overdue_and_late_subjects_breach_and_the_rest_do_not(tenant_a):
    # Critical: 15 min to acknowledge, 4 h to resolve (the defaults).
    unacked = alert_at(tenant_a, created=minutes_ago(20))
    late_ack = alert_at(tenant_a, created=minutes_ago(60), acknowledged=minutes_ago(30))
    on_time = alert_at(tenant_a, created=minutes_ago(60), acknowledged=minutes_ago(50))
    exactly = alert_at(tenant_a, created=minutes_ago(60), acknowledged=minutes_ago(45))  # at the due time: met
    not_due = alert_at(tenant_a, created=minutes_ago(10))
    closed_late = alert_at(tenant_a, created=minutes_ago(600), acknowledged=minutes_ago(595), closed=minutes_ago(100))
    info = alert_at(tenant_a, severity="info", created=minutes_ago(90_000))
    counts = check_breaches(NOW)
    assert counts == {"tenant-a": 3}
    assert sorted(_breaches(tenant_a)) == sorted([
        (unacked.public_id, "acknowledge", "critical"), (late_ack.public_id, "acknowledge", "critical"),
        (closed_late.public_id, "resolve", "critical")])
    assert {on_time.public_id, exactly.public_id, not_due.public_id, info.public_id}.isdisjoint(
        {p for p, _k, _s in _breaches(tenant_a)})


def test_breach_records_its_due_time_and_target(tenant_a):
    alert = alert_at(tenant_a, severity="high", created=minutes_ago(90))
    check_breaches(NOW)
    with tenant_context(tenant_a):
        breach = db.session.scalar(sa.select(SlaBreach))
        assert (breach.alert_id, breach.kind.value, breach.target_minutes) == (alert.id, "acknowledge", 60)
        assert breach.due_at == minutes_ago(30) and breach.detected_at == NOW


def test_running_the_check_again_records_nothing_new(tenant_a):
    alert_at(tenant_a, created=minutes_ago(20))
    case_at(tenant_a, severity="critical", created=minutes_ago(600))
    first = check_breaches(NOW)
    again = check_breaches(NOW + timedelta(minutes=5))
    assert first == {"tenant-a": 3} and again == {"tenant-a": 0}  # alert ack; case ack and resolve
    assert len(_breaches(tenant_a)) == 3
    # A later miss of the same alert (its resolve time) is new, and recorded once.
    assert check_breaches(NOW + timedelta(hours=5)) == {"tenant-a": 1}
    assert check_breaches(NOW + timedelta(hours=6)) == {"tenant-a": 0}


def test_each_tenant_gets_its_own_breaches_and_targets(tenant_a, tenant_b):
    a = alert_at(tenant_a, severity="high", created=minutes_ago(90))
    b = alert_at(tenant_b, severity="high", created=minutes_ago(90))
    with tenant_context(tenant_b):  # tenant B allows high alerts two hours
        update_targets({"high": {"ack_minutes": 120, "resolve_minutes": 600}}, actor=system_actor(tenant_b))
    assert check_breaches(NOW) == {"tenant-a": 1, "tenant-b": 0}
    assert _breaches(tenant_a) == [(a.public_id, "acknowledge", "high")]
    assert _breaches(tenant_b) == []
    assert check_breaches(NOW + timedelta(hours=1)) == {"tenant-a": 0, "tenant-b": 1}
    assert _breaches(tenant_b) == [(b.public_id, "acknowledge", "high")]


def test_every_breach_is_audited_in_its_tenants_chain(tenant_a, tenant_b):
    alert = alert_at(tenant_a, created=minutes_ago(20))
    check_breaches(NOW)
    records = list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "sla.breached")))
    assert [(r.tenant_id, r.target_type, r.target_id, r.actor_label) for r in records] == [
        (tenant_a.id, "alert", alert.public_id, "sla-check")]
    assert records[0].after["kind"] == "acknowledge" and records[0].after["target_minutes"] == 15


def test_case_breach_appears_on_the_case_timeline(tenant_a, login_as):
    case = case_at(tenant_a, severity="critical", created=minutes_ago(30))
    check_breaches(NOW)
    with tenant_context(tenant_a):
        entries = list(db.session.scalars(sa.select(TimelineEntry).where(
            TimelineEntry.case_id == case.id, TimelineEntry.kind == TimelineKind.SLA_BREACH)))
    assert len(entries) == 1
    assert entries[0].occurred_at == minutes_ago(15)
    assert "Missed the time to acknowledge (15 min" in entries[0].body
    page = login_as("analyst").get(f"/soc/cases/{case.public_id}")
    entry = page.pyquery(f"#timeline-entry-{entries[0].public_id}")
    assert "SLA breach" in entry.text() and "Missed the time to acknowledge" in entry.text()
    assert not entry.find(".tl-edit")  # a system record, not editable


def test_changing_targets_does_not_rewrite_recorded_breaches(tenant_a):
    alert_at(tenant_a, created=minutes_ago(20))
    check_breaches(NOW)
    with tenant_context(tenant_a):
        update_targets({"critical": {"ack_minutes": 60, "resolve_minutes": 240}}, actor=system_actor(tenant_a))
    assert check_breaches(NOW) == {"tenant-a": 0}
    assert len(_breaches(tenant_a)) == 1


def test_the_periodic_job_is_registered_and_runs_the_check(app, tenant_a):
    alert_at(tenant_a, created=utcnow() - timedelta(minutes=20))
    task = app.extensions["vigil_sla_check"]
    assert task.name == "sla.check_breaches" and task.huey is app.extensions["huey"]
    # Periodic: due every five minutes.
    assert task.task_class().validate_datetime(NOW.replace(minute=5, tzinfo=None))
    assert not task.task_class().validate_datetime(NOW.replace(minute=7, tzinfo=None))
    task()  # jobs run immediately in tests (huey keeps no result for periodic tasks)
    db.session.expire_all()
    assert len(_breaches(tenant_a)) == 1


def test_vigil_sla_check_command(app, tenant_a):
    alert_at(tenant_a, created=utcnow() - timedelta(minutes=20))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["sla", "check"])
    assert first.exit_code == 0, first.output
    assert "tenant-a: 1 new breach\n" in first.output
    second = runner.invoke(args=["sla", "check"])
    assert "tenant-a: 0 new breaches" in second.output


def test_the_periodic_check_reads_late_finishes_of_the_last_two_days_and_full_reads_all(tenant_a):
    # Low: a day to acknowledge, a week to resolve.
    recent = alert_at(tenant_a, severity="low", created=minutes_ago(3000), acknowledged=minutes_ago(1000))
    old = alert_at(tenant_a, severity="low", created=minutes_ago(9000), acknowledged=minutes_ago(7000))
    assert check_breaches(NOW) == {"tenant-a": 1}
    assert [p for p, _k, _s in _breaches(tenant_a)] == [recent.public_id]
    assert check_breaches(NOW, full=True) == {"tenant-a": 1}
    assert {p for p, _k, _s in _breaches(tenant_a)} == {recent.public_id, old.public_id}


def test_audit_names_the_breach_record(tenant_a):
    alert_at(tenant_a, created=minutes_ago(20))
    check_breaches(NOW)
    record = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "sla.breached"))
    with tenant_context(tenant_a):
        assert record.after["breach"] == db.session.scalar(sa.select(SlaBreach.public_id))


def test_vigil_worker_refuses_when_jobs_run_inline(app):
    res = app.test_cli_runner().invoke(args=["worker"])
    assert res.exit_code != 0 and "Jobs run inline" in res.output
