"""SOC fixtures: OCSF sample events."""

from __future__ import annotations

import copy

import pytest

T0 = 1_764_000_000_000  # epoch ms, 2025-11-24
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def detection_finding(**overrides) -> dict:
    """An OCSF 1.3 Detection Finding (class 2004), as an EDR sends it."""
    event = {
        "class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401,
        "time": T0, "severity_id": 4,
        "message": "PowerShell downloaded and ran a script",
        "metadata": {"version": "1.3.0", "product": {"name": "Falcon", "vendor_name": "CrowdStrike"}},
        "finding_info": {
            "uid": "f-1", "title": "Encoded PowerShell download cradle",
            "desc": "powershell.exe -enc ... fetched a remote script",
            "analytic": {"name": "PS-Download-Cradle", "type_id": 1},
            "attacks": [{"technique": {"uid": "T1059", "name": "Command and Scripting Interpreter"},
                         "sub_technique": {"uid": "T1059.001", "name": "PowerShell"},
                         "tactic": {"uid": "TA0002", "name": "Execution"}}],
        },
        "device": {"hostname": "WS-0042.corp.example", "ip": "10.0.4.42"},
        "actor": {"user": {"name": "jdoe"}},
        "observables": [{"name": "src_endpoint.ip", "type_id": 2, "value": "203.0.113.7"}],
    }
    event.update(overrides)
    return copy.deepcopy(event)


def security_finding(**overrides) -> dict:
    """An OCSF 1.0 Security Finding (class 2001) with the older `finding` object."""
    event = {
        "class_uid": 2001, "category_uid": 2, "activity_id": 1, "type_uid": 200101,
        "time": T0, "severity_id": 3,
        "metadata": {"version": "1.0.0", "product": {"name": "GuardDuty", "vendor_name": "AWS"}},
        "finding": {"uid": "gd-9", "title": "Unusual API call from a Tor exit node",
                    "desc": "ListBuckets from 198.51.100.23", "types": ["Recon:IAMUser/TorIPCaller"]},
        "attacks": [{"technique": {"uid": "t1580", "name": "Cloud Infrastructure Discovery"}}],
        "src_endpoint": {"ip": "198.51.100.23"},
        "actor": {"user": {"name": "ci-deployer", "email_addr": "CI@Example.COM"}},
        "file": {"hashes": [{"algorithm_id": 3, "value": EMPTY_SHA256.upper()}]},
    }
    event.update(overrides)
    return copy.deepcopy(event)


@pytest.fixture
def finding():
    return detection_finding
