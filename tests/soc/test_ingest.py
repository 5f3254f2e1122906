"""Bulk OCSF ingest: created, deduplicated and rejected per event; one audit record per batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import ValidationFailed
from app.soc.models import Alert, AlertObservable
from app.soc.services import close_alert, ingest_ocsf_batch, update_alert_settings
from tests.soc.conftest import T0, detection_finding, security_finding

HOUR_MS = 3_600_000


@pytest.fixture
def ingest(tenant_a, in_tenant):
    def _ingest(events, tenant=None):
        tenant = tenant or tenant_a
        with in_tenant(tenant):
            return ingest_ocsf_batch(events, actor=system_actor(tenant, "test"))
    return _ingest


def _alerts(tenant, in_tenant) -> list[Alert]:
    with in_tenant(tenant):
        return list(db.session.scalars(sa.select(Alert).order_by(Alert.number)))


def test_valid_events_are_kept_when_others_are_rejected(ingest, tenant_a, in_tenant):
    bad = detection_finding()
    del bad["time"]
    results = ingest([detection_finding(), bad, security_finding()])
    assert [r.status for r in results] == ["created", "rejected", "created"]
    assert results[1].reason == "time: required"
    assert [r.alert_number for r in results] == [1, None, 2]
    alerts = _alerts(tenant_a, in_tenant)
    assert [(a.number, a.source, a.reference) for a in alerts] == [(1, "Falcon", "ALR-1"), (2, "GuardDuty", "ALR-2")]
    with in_tenant(tenant_a):
        stmt = sa.select(AlertObservable.value).where(AlertObservable.alert_id == alerts[0].id)
        values = set(db.session.scalars(stmt))
    assert {"203.0.113.7", "ws-0042.corp.example", "jdoe"} <= values


def test_same_fingerprint_within_the_window_increments_the_open_alert(ingest, tenant_a, in_tenant):
    first = ingest([detection_finding()])
    again = ingest([detection_finding(time=T0 + HOUR_MS), detection_finding(time=T0 + 2 * HOUR_MS)])
    assert [r.status for r in again] == ["deduplicated", "deduplicated"]
    assert {r.alert_number for r in again} == {first[0].alert_number}
    [alert] = _alerts(tenant_a, in_tenant)
    assert alert.occurrences == 3
    assert alert.last_seen - alert.first_seen == timedelta(hours=2)


def test_duplicates_inside_one_batch_merge_into_the_alert_it_creates(ingest, tenant_a, in_tenant):
    results = ingest([detection_finding(), detection_finding(time=T0 + 1000)])
    assert [(r.status, r.alert_number) for r in results] == [("created", 1), ("deduplicated", 1)]
    assert _alerts(tenant_a, in_tenant)[0].occurrences == 2


def test_outside_the_window_creates_a_new_alert(ingest, tenant_a, in_tenant):
    ingest([detection_finding()])
    results = ingest([detection_finding(time=T0 + 25 * HOUR_MS)])
    assert results[0].status == "created"
    assert len(_alerts(tenant_a, in_tenant)) == 2


def test_after_close_the_same_fingerprint_creates_a_new_alert(ingest, tenant_a, in_tenant):
    ingest([detection_finding()])
    with in_tenant(tenant_a):
        close_alert(_alerts(tenant_a, in_tenant)[0], "benign", actor=system_actor(tenant_a))
    assert ingest([detection_finding(time=T0 + 1000)])[0].status == "created"


def test_a_different_primary_observable_is_a_different_alert(ingest):
    other = detection_finding(observables=[{"name": "src_endpoint.ip", "type_id": 2, "value": "192.0.2.1"}])
    assert [r.status for r in ingest([detection_finding(), other])] == ["created", "created"]


def test_fingerprint_fields_and_window_are_configurable(ingest, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        update_alert_settings(actor=system_actor(tenant_a), fingerprint_fields=["source", "rule_name"],
                              dedup_window_minutes=60)
    other_ip = detection_finding(observables=[{"name": "src_endpoint.ip", "type_id": 2, "value": "192.0.2.1"}])
    assert [r.status for r in ingest([detection_finding(), other_ip])] == ["created", "deduplicated"]
    assert ingest([detection_finding(time=T0 + 2 * HOUR_MS)])[0].status == "created"


def test_settings_reject_unknown_fields(tenant_a, in_tenant):
    with in_tenant(tenant_a), pytest.raises(ValidationFailed) as exc:
        update_alert_settings(actor=system_actor(tenant_a), fingerprint_fields=["colour"])
    assert "colour" in exc.value.field_errors["fingerprint_fields"][0]


def test_one_audit_record_per_batch_with_counts(ingest, tenant_a):
    bad = detection_finding(class_uid=1001)
    ingest([detection_finding(), detection_finding(time=T0 + 1), bad])
    records = list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "alert.batch_ingested")))
    assert len(records) == 1
    assert records[0].after == {"created": 1, "deduplicated": 1, "rejected": 1, "events": 3, "numbers": [1, 1]}
    assert records[0].tenant_id == tenant_a.id


def test_numbers_are_per_tenant_and_sequential(ingest, tenant_a, tenant_b, in_tenant):
    events = [detection_finding(observables=[{"name": "ip", "type_id": 2, "value": f"192.0.2.{i}"}]) for i in range(5)]
    ingest(events[:3])
    ingest(events[:2], tenant=tenant_b)
    ingest(events[3:])
    assert [a.number for a in _alerts(tenant_a, in_tenant)] == [1, 2, 3, 4, 5]
    assert [a.number for a in _alerts(tenant_b, in_tenant)] == [1, 2]


def test_dedup_never_crosses_tenants(ingest, tenant_b, in_tenant):
    ingest([detection_finding()])
    assert ingest([detection_finding()], tenant=tenant_b)[0].status == "created"
    assert _alerts(tenant_b, in_tenant)[0].occurrences == 1


def test_more_than_the_batch_limit_is_refused(ingest):
    with pytest.raises(ValidationFailed):
        ingest([detection_finding()] * 1001)


def test_concurrent_batches_get_distinct_numbers(app, tenant_a, in_tenant):
    """Two submitters at once (two gunicorn threads): every event is created, numbers never collide."""
    import threading

    from app.core.tenancy import Tenant

    barrier, errors, rounds = threading.Barrier(2), [], 4
    # Read in this thread: touching tenant_a (bound to this thread's session) from a worker thread
    # would refresh it through a session that is not theirs.
    tenant_id = tenant_a.id

    def submit(salt: int) -> None:
        with app.app_context():
            tenant = db.session.get(Tenant, tenant_id)
            with in_tenant(tenant):
                for r in range(rounds):
                    events = [detection_finding(observables=[{"name": "ip", "type_id": 2,
                                                              "value": f"198.51.{salt * 10 + r}.{i}"}])
                              for i in range(50)]
                    barrier.wait(timeout=30)
                    try:
                        results = ingest_ocsf_batch(events, actor=system_actor(tenant, "test"))
                        assert [x.status for x in results] == ["created"] * 50
                    except Exception as exc:  # noqa: BLE001 — collected and asserted below, in the test thread
                        errors.append(repr(exc))
            db.session.remove()

    threads = [threading.Thread(target=submit, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    numbers = [a.number for a in _alerts(tenant_a, in_tenant)]
    assert numbers == list(range(1, 2 * rounds * 50 + 1))
