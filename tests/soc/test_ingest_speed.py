"""What the fast ingest path relies on: the dedup lookup's plan, ordered public ids, the bulk
column insert writing what a Core insert writes, raw events and bodies that orjson refuses."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, new_ordered_public_ids
from app.soc import bulk
from app.soc.models import Alert, AlertObservable, AlertSeverity, AlertStatus
from app.soc.observables import ObservableError, normalise
from app.soc.services import ingest_ocsf_batch
from tests import factories
from tests.api.conftest import bearer
from tests.soc.conftest import detection_finding


def _statements(app):
    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    return seen, lambda: sa.event.remove(db.engine, "before_cursor_execute", capture)


def test_the_dedup_lookup_probes_the_fingerprint_index(app, tenant_a, in_tenant):
    """With ORDER BY last_seen, SQLite walked every alert of the tenant to skip a sort."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner")
    with in_tenant(tenant_a):
        ingest_ocsf_batch([detection_finding()], actor=system_actor(tenant_a, "test"))
        seen, stop = _statements(app)
        try:
            ingest_ocsf_batch([detection_finding(), detection_finding(time=detection_finding()["time"] + 1)],
                              actor=system_actor(tenant_a, "test"))
        finally:
            stop()
        [(sql, params)] = [(s, p) for s, p in seen if "alerts.fingerprint IN" in s]
        rows = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        plan = " ".join(row[3] for row in rows)
    assert "ix_alerts_fingerprint" in plan, plan
    assert "ix_alerts_queue_last_seen" not in plan, plan


def test_the_newest_open_alert_absorbs_a_duplicate(app, tenant_a, in_tenant):
    """Two open alerts share a fingerprint (a merge window of 0 made the second): the later one is picked."""
    from app.soc.services import update_alert_settings

    actor = system_actor(tenant_a, "test")
    with in_tenant(tenant_a):
        update_alert_settings(actor=actor, dedup_window_minutes=0)
        first = ingest_ocsf_batch([detection_finding()], actor=actor)[0]
        second = ingest_ocsf_batch([detection_finding(time=detection_finding()["time"] + 60_000)], actor=actor)[0]
        update_alert_settings(actor=actor, dedup_window_minutes=60)
        again = ingest_ocsf_batch([detection_finding(time=detection_finding()["time"] + 120_000)], actor=actor)[0]
    assert (first.status, second.status) == ("created", "created")
    assert again.status == "deduplicated"
    assert again.alert_number == second.alert_number


def test_ordered_public_ids_are_uuid7_and_grow_with_time():
    ids = new_ordered_public_ids(3)
    assert len(set(ids)) == 3
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert all(str(uuid.UUID(i)) == i for i in ids)
    later = new_ordered_public_ids(1)[0]
    ms = [uuid.UUID(i).int >> 80 for i in (*ids, later)]
    assert ms == sorted(ms)
    assert abs(ms[-1] - datetime.now(UTC).timestamp() * 1000) < 60_000


def test_ingested_alerts_get_ordered_public_ids(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        results = ingest_ocsf_batch([detection_finding(observables=[{"type_id": 2, "value": f"192.0.2.{i}"}])
                                     for i in range(3)], actor=system_actor(tenant_a, "test"))
    assert [uuid.UUID(r.alert_id).version for r in results] == [7, 7, 7]


def test_insert_columns_writes_what_a_core_insert_writes(app, tenant_a):
    from app.soc.services import _raw_json

    table = Alert.__table__
    seen = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    raw = {"a": [1, True, None, "é"], "big": 2**70}

    def row(number: int, public_id: str) -> dict:
        return {"tenant_id": tenant_a.id, "public_id": public_id, "number": number, "title": "t", "description": "",
                "severity": AlertSeverity.HIGH, "severity_rank": 4, "status": AlertStatus.NEW, "close_reason": None,
                "source": "s", "rule_name": "", "techniques": ["T1059"], "raw_event": raw,
                "fingerprint": "f", "first_seen": seen, "last_seen": seen, "occurrences": 1, "assignee_id": None,
                "acknowledged_at": None, "closed_at": None, "created_at": seen, "updated_at": seen}

    conn = db.session.connection()
    conn.execute(table.insert(), [row(1, "p-1")])
    bulk.insert_rows(conn, table, [row(2, "p-2")])
    columns = {k: [v] for k, v in row(3, "p-3").items()}
    columns.update(tenant_id=bulk.Same(tenant_a.id), status=bulk.Same(AlertStatus.NEW),
                   techniques=bulk.Serialized([json.dumps(["T1059"])]), raw_event=bulk.Serialized([_raw_json(raw)]),
                   first_seen=columns["last_seen"])  # one list for two columns, as ingest passes them
    bulk.insert_columns(conn, table, 1, columns)
    stored = [dict(r) for r in conn.execute(
        sa.text("SELECT * FROM alerts WHERE tenant_id = :t ORDER BY number"), {"t": tenant_a.id}).mappings()]
    db.session.rollback()
    assert len(stored) == 3
    for r in stored:  # the JSON columns hold the objects (SQLite: text; PostgreSQL: parsed by the driver)
        for name in ("raw_event", "techniques"):
            r[name] = json.loads(r[name]) if isinstance(r[name], str) else r[name]
    assert [r["raw_event"] for r in stored] == [raw] * 3
    assert [r["techniques"] for r in stored] == [["T1059"]] * 3
    ignore = ("id", "number", "public_id")
    for other in stored[1:]:
        assert {k: v for k, v in other.items() if k not in ignore} == \
               {k: v for k, v in stored[0].items() if k not in ignore}


def test_insert_columns_refuses_a_short_column(app, tenant_a):
    table = AlertObservable.__table__
    with pytest.raises(ValueError, match="value has 1 values for 2 rows"):
        bulk.insert_columns(db.session.connection(), table, 2, {"tenant_id": bulk.Same(1), "alert_id": [1, 1],
                                                               "kind": bulk.Same("ip"), "value": ["only one"]})
    db.session.rollback()


@pytest.mark.parametrize("text", ["1.2.3.4", "0.0.0.0",  # noqa: S104 - an address to parse, not to bind "255.255.255.255", "10.0.4.42", "::1", "2001:DB8::1",
                                  "::ffff:1.2.3.4"])
def test_ip_normalisation_matches_ipaddress(text):
    assert normalise("ip", text) == ("ip", ipaddress.ip_address(text).compressed)


@pytest.mark.parametrize("text", ["01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", "\u0661.2.3.4", "1.2.3.4 x"])
def test_not_ip_addresses_are_refused(text):
    with pytest.raises(ObservableError):
        normalise("ip", text)


def test_repeated_values_normalise_alike_and_long_ones_still_work():
    assert normalise("host", "WS-1.Corp.") == normalise("host", "WS-1.Corp.") == ("host", "ws-1.corp")
    long_url = "https://example.com/" + "a" * 1000
    assert normalise("url", long_url) == ("url", long_url)
    with pytest.raises(ObservableError):
        normalise("url", "x" * 3000)


def test_a_raw_event_orjson_refuses_is_kept(tenant_a, in_tenant):
    """Integers past 64 bits: orjson will not write them; the event is still stored verbatim."""
    event = detection_finding(unmapped={"counter": 2**70})
    with in_tenant(tenant_a):
        [result] = ingest_ocsf_batch([event], actor=system_actor(tenant_a, "test"))
        alert = db.session.scalar(sa.select(Alert).where(Alert.public_id == result.alert_id))
        assert alert.raw_event == event


def test_submit_takes_a_body_only_python_json_reads(client, tenant_a):
    """NaN is not JSON and orjson refuses it; the endpoint accepted it before and still does."""
    _key, token = factories.make_api_key(tenant_a, scopes=["alerts:write"])
    body = json.dumps({"events": [detection_finding(unmapped={"score": float("nan")})]})
    assert "NaN" in body
    res = client.post("/api/v1/alerts/submit", data=body, content_type="application/json",
                      headers=bearer(token))
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.json["data"]["created"] == 1



def test_malformed_observables_are_skipped_not_fatal():
    """A list as type_id or a number as observables used to raise TypeError (a 500 for the whole batch)."""
    from app.soc import ocsf

    event = detection_finding(observables=[{"type_id": 2.0, "value": "192.0.2.1"}, {"type_id": [2], "value": "x"},
                                           7, {"type_id": 2, "value": "not an ip"}])
    assert ocsf.to_draft(event).observables[0] == ("ip", "192.0.2.1")
    assert ("ip", "10.0.4.42") in ocsf.to_draft(detection_finding(observables=5)).observables
