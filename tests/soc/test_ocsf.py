"""OCSF findings mapped to alert drafts, and rejections that name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.soc.models import AlertSeverity, ObservableKind
from app.soc.ocsf import OcsfRejected, severity_id_of, to_draft
from tests.soc.conftest import EMPTY_SHA256, T0, detection_finding, security_finding


def test_detection_finding_2004_maps_every_field():
    draft = to_draft(detection_finding())
    assert draft.title == "Encoded PowerShell download cradle"
    assert draft.description.startswith("powershell.exe -enc")
    assert draft.severity is AlertSeverity.HIGH
    assert draft.source == "Falcon"
    assert draft.rule_name == "PS-Download-Cradle"
    assert draft.techniques == ("T1059", "T1059.001")
    assert draft.seen_at == datetime.fromtimestamp(T0 / 1000, tz=UTC)
    assert draft.observables[0] == (ObservableKind.IP, "203.0.113.7")  # observables[] first: the primary
    assert (ObservableKind.HOST, "ws-0042.corp.example") in draft.observables
    assert (ObservableKind.IP, "10.0.4.42") in draft.observables
    assert (ObservableKind.USER, "jdoe") in draft.observables
    assert draft.raw_event == detection_finding()


def test_security_finding_2001_with_the_1_0_finding_object():
    draft = to_draft(security_finding())
    assert draft.title == "Unusual API call from a Tor exit node"
    assert draft.severity is AlertSeverity.MEDIUM
    assert draft.source == "GuardDuty"
    assert draft.techniques == ("T1580",)
    assert draft.observables[0] == (ObservableKind.IP, "198.51.100.23")
    assert (ObservableKind.EMAIL, "ci@example.com") in draft.observables
    assert (ObservableKind.HASH, EMPTY_SHA256) in draft.observables


def test_any_finding_class_with_the_common_fields_and_message_as_title():
    event = {"class_uid": 2003, "time": T0, "severity_id": 2, "message": "Control failed: MFA not enforced",
             "metadata": {"product": {"vendor_name": "Prowler"}}}
    draft = to_draft(event)
    assert (draft.title, draft.source, draft.severity) == ("Control failed: MFA not enforced", "Prowler",
                                                            AlertSeverity.LOW)


@pytest.mark.parametrize(("severity_id", "severity"), [
    (0, "info"), (1, "info"), (2, "low"), (3, "medium"), (4, "high"), (5, "critical"), (6, "critical"), (99, "info"),
])
def test_severity_id_maps_to_severity(severity_id, severity):
    assert to_draft(detection_finding(severity_id=severity_id)).severity == severity


def test_severity_maps_back_to_severity_id():
    assert [severity_id_of(s) for s in AlertSeverity] == [1, 2, 3, 4, 5]


def _without(event: dict, *path: str) -> dict:
    obj = event
    for key in path[:-1]:
        obj = obj[key]
    del obj[path[-1]]
    return event


@pytest.mark.parametrize(("event", "reason"), [
    (_without(detection_finding(), "class_uid"), "class_uid: required"),
    (detection_finding(class_uid=3002), "class_uid: 3002 is not a finding class"),
    (detection_finding(class_uid="2004"), "class_uid: must be an integer"),
    (_without(detection_finding(), "time"), "time: required"),
    (detection_finding(time=-5), "time: must be epoch milliseconds"),
    (_without(detection_finding(), "severity_id"), "severity_id: required"),
    (detection_finding(severity_id=7), "severity_id: must be 0–6 or 99"),
    (_without(_without(detection_finding(), "finding_info", "title"), "message"), "finding_info.title: required"),
    ("not an object", "event: must be a JSON object"),
])
def test_rejections_name_the_field(event, reason):
    with pytest.raises(OcsfRejected) as exc:
        to_draft(event)
    assert str(exc.value).startswith(reason)


def test_bad_indicators_are_skipped_not_fatal():
    event = detection_finding(observables=[{"name": "x", "type_id": 2, "value": "not-an-ip"},
                                           {"name": "y", "type_id": 8, "value": "ABCDEF"}])
    event["finding_info"]["attacks"] = [{"technique": {"uid": "bogus"}}]
    draft = to_draft(event)
    assert draft.observables[0] == (ObservableKind.HASH, "abcdef")
    assert draft.techniques == ()
