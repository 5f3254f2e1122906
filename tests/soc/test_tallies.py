"""The alert rollups stay equal to the alerts through every path that adds or moves one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.errors import Conflict
from app.soc import tallies
from app.soc.models import Alert, AlertDailyVolume, AlertObservable
from app.soc.queries import alert_counts, alert_sources
from app.soc.services import (
    acknowledge_alert,
    bulk_close,
    close_alert,
    ingest_ocsf_batch,
    reopen_alert,
    start_alert,
    update_alert,
)
from tests import factories
from tests.soc.conftest import T0, detection_finding, security_finding


def _events(n: int, prefix: str = "192.0.2") -> list[dict]:
    return [detection_finding(observables=[{"name": "ip", "type_id": 2, "value": f"{prefix}.{i}"}]) for i in range(n)]


def test_tallies_follow_create_ingest_and_every_transition(tenant_a, tenant_b, in_tenant):
    actor = system_actor(tenant_a)
    made = [factories.make_alert(tenant_a, severity="high", source="EDR") for _ in range(3)]
    with in_tenant(tenant_a):
        results = ingest_ocsf_batch([*_events(4), {**_events(1)[0], "time": T0 + 1},
                                     security_finding()], actor=actor)
        assert [r.status for r in results].count("created") == 5
        alerts = {a.id: a for a in db.session.scalars(sa.select(Alert))}
        acknowledge_alert(alerts[made[0].id], actor=actor)
        start_alert(alerts[made[0].id], actor=actor)
        close_alert(alerts[made[1].id], "benign", actor=actor)
        reopen_alert(alerts[made[1].id], actor=actor)
        update_alert(alerts[made[2].id], actor=actor, status="closed", close_reason="false_positive")
        bulk_close([a for a in alerts.values() if a.source == "Falcon"][:2], "duplicate", actor=actor)
        assert tallies.drift(tenant_a.id) == {}
        counts = alert_counts()
    factories.make_alert(tenant_b, severity="low", source="Other")
    assert counts["status"] == {"new": 4, "in_progress": 1, "closed": 3}
    assert counts["severity"] == {"high": 7, "medium": 1}
    assert counts["source"] == {"EDR": 3, "Falcon": 4, "GuardDuty": 1}
    with in_tenant(tenant_b):
        assert alert_sources() == ["Other"]
        assert tallies.drift(tenant_b.id) == {}


def test_a_failed_transition_leaves_the_tallies_alone(tenant_a, in_tenant):
    alert = factories.make_alert(tenant_a)
    with in_tenant(tenant_a):
        alert = db.session.get(Alert, alert.id)
        close_alert(alert, "benign", actor=system_actor(tenant_a))
        with pytest.raises(Conflict):
            start_alert(alert, actor=system_actor(tenant_a))  # closed → in progress is not allowed
        assert tallies.drift(tenant_a.id) == {}
        assert alert_counts()["status"] == {"closed": 1}


def test_daily_volume_counts_new_alerts_by_the_day_they_were_first_seen(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        ingest_ocsf_batch(_events(3), actor=system_actor(tenant_a))  # events of 24 Nov 2025
        ingest_ocsf_batch([{**_events(1)[0], "time": T0 + 3_600_000}], actor=system_actor(tenant_a))  # merged
    factories.make_alert(tenant_a, seen_at="2025-11-23T23:30:00-02:00")  # 24 Nov in UTC
    factories.make_alert(tenant_a)
    with in_tenant(tenant_a):
        rows = dict(db.session.execute(sa.select(AlertDailyVolume.day, AlertDailyVolume.count)).all())
    assert rows == {date(2025, 11, 24): 4, utcnow().date(): 1}


def test_rebuild_recomputes_both_rollups_from_the_alerts(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        ingest_ocsf_batch(_events(5), actor=system_actor(tenant_a))
        # A bulk load that bypasses the services (as the benchmark generator does): move two alerts back a week.
        week_ago = utcnow() - timedelta(days=7)
        db.session.execute(sa.update(Alert).where(Alert.number <= 2).values(first_seen=week_ago, status="closed",
                                                                                close_reason="benign"))
        assert tallies.drift(tenant_a.id) != {}
        tallies.rebuild(tenant_a.id)
        assert tallies.drift(tenant_a.id) == {}
        days = dict(db.session.execute(sa.select(AlertDailyVolume.day, AlertDailyVolume.count)).all())
    assert days == {week_ago.date(): 2, date(2025, 11, 24): 3}


def test_bulk_insert_writes_what_the_orm_reads_back(tenant_a, in_tenant):
    """The ingest insert path (app/soc/bulk.py) stores values exactly as the Core statement would."""
    with in_tenant(tenant_a):
        [result] = ingest_ocsf_batch([detection_finding()], actor=system_actor(tenant_a))
        alert = db.session.scalar(sa.select(Alert).where(Alert.public_id == result.alert_id))
        observables = db.session.scalars(sa.select(AlertObservable.value).where(AlertObservable.alert_id == alert.id))
        assert alert.first_seen.tzinfo is not None and alert.first_seen == alert.last_seen
        assert alert.first_seen.isoformat() == "2025-11-24T16:00:00+00:00"
        assert alert.raw_event["finding_info"]["title"] == "Encoded PowerShell download cradle"
        assert alert.techniques == ["T1059", "T1059.001"]
        assert alert.severity.value == "high" and alert.status.value == "new" and alert.severity_rank == 4
        assert {"203.0.113.7", "ws-0042.corp.example"} <= set(observables)
