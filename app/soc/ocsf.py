"""OCSF 1.x findings (class 2xxx, e.g. Detection Finding 2004, Security Finding 2001) → alert drafts.

Only what an alert needs is read; the event itself is kept verbatim as the alert's raw event.
Every rejection names the field it is about, in OCSF's dotted path (`finding_info.title: required`).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from app.soc.models import TECHNIQUE_ID, AlertDraft, AlertSeverity, ObservableKind
from app.soc.observables import ObservableError, normalise_known, unique

FINDING_CLASSES = range(2000, 3000)
MAX_TITLE = 500
# OCSF severity_id: 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal, 99 Other.
SEVERITY_FROM_ID = {
    0: AlertSeverity.INFO, 1: AlertSeverity.INFO, 2: AlertSeverity.LOW, 3: AlertSeverity.MEDIUM,
    4: AlertSeverity.HIGH, 5: AlertSeverity.CRITICAL, 6: AlertSeverity.CRITICAL, 99: AlertSeverity.INFO,
}
SEVERITY_TO_ID = {AlertSeverity.INFO: 1, AlertSeverity.LOW: 2, AlertSeverity.MEDIUM: 3, AlertSeverity.HIGH: 4,
                  AlertSeverity.CRITICAL: 5}
# observable.type_id → our kind (1 Hostname, 2 IP Address, 4 User Name, 5 Email Address, 6 URL String,
# 8 Hash, 20 Endpoint, 21 User, 22 Email, 23 Uniform Resource Locator).
OBSERVABLE_TYPES = {
    1: ObservableKind.HOST, 2: ObservableKind.IP, 4: ObservableKind.USER, 5: ObservableKind.EMAIL,
    6: ObservableKind.URL, 8: ObservableKind.HASH, 20: ObservableKind.HOST, 21: ObservableKind.USER,
    22: ObservableKind.EMAIL, 23: ObservableKind.URL,
}
# Well-known fields that name indicators, in the order that picks the primary observable after observables[].
WELL_KNOWN = (
    (("src_endpoint", "ip"), ObservableKind.IP),
    (("src_endpoint", "hostname"), ObservableKind.HOST),
    (("device", "hostname"), ObservableKind.HOST),
    (("device", "ip"), ObservableKind.IP),
    (("actor", "user", "name"), ObservableKind.USER),
    (("actor", "user", "email_addr"), ObservableKind.EMAIL),
    (("dst_endpoint", "ip"), ObservableKind.IP),
    (("dst_endpoint", "hostname"), ObservableKind.HOST),
    (("dst_endpoint", "domain"), ObservableKind.DOMAIN),
    (("url", "url_string"), ObservableKind.URL),
    (("url", "hostname"), ObservableKind.DOMAIN),
)
_MIN_MS, _MAX_MS = 0, 32503680000000  # up to the year 3000


class OcsfRejected(ValueError):
    """An event that cannot become an alert; the message names the field."""


def _get(obj, *path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(event: dict, field: str) -> int:
    value = event.get(field)
    if value is None:
        raise OcsfRejected(f"{field}: required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise OcsfRejected(f"{field}: must be an integer, got {type(value).__name__}")
    return value


def to_draft(event: object) -> AlertDraft:
    """Map one OCSF finding to an alert draft, or raise OcsfRejected naming the field."""
    if not isinstance(event, dict):
        raise OcsfRejected(f"event: must be a JSON object, got {type(event).__name__}")
    class_uid = _int(event, "class_uid")
    if class_uid not in FINDING_CLASSES:
        raise OcsfRejected(f"class_uid: {class_uid} is not a finding class (2xxx, e.g. 2004 Detection Finding)")
    time_ms = _int(event, "time")
    if not _MIN_MS <= time_ms <= _MAX_MS:
        raise OcsfRejected("time: must be epoch milliseconds")
    severity_id = _int(event, "severity_id")
    if severity_id not in SEVERITY_FROM_ID:
        raise OcsfRejected("severity_id: must be 0–6 or 99")
    # finding_info is OCSF 1.1+; 1.0 Security Findings carry a `finding` object instead.
    info = event.get("finding_info") if isinstance(event.get("finding_info"), dict) else event.get("finding")
    info = info if isinstance(info, dict) else {}
    title = _text(info.get("title")) or _text(event.get("message"))
    if not title:
        raise OcsfRejected("finding_info.title: required (or message)")
    product = _get(event, "metadata", "product") or {}
    source = _text(_get(product, "name")) or _text(_get(product, "vendor_name")) or "unknown"
    rule = (_text(_get(info, "analytic", "name")) or _text(_get(event, "analytic", "name"))
            or _text(_get(event, "rule", "name")) or _text(_get(info, "analytic", "uid")))
    description = _text(info.get("desc")) or (_text(event.get("message")) if info.get("title") else "")
    return AlertDraft(
        title=title[:MAX_TITLE],
        severity=SEVERITY_FROM_ID[severity_id],
        source=source[:200],
        seen_at=datetime.fromtimestamp(time_ms / 1000, tz=UTC),
        description=description,
        rule_name=rule[:300],
        techniques=_techniques(info.get("attacks"), event.get("attacks")),
        observables=tuple(_observables(event)),
        raw_event=event,
    )


def _techniques(*attack_lists) -> tuple[str, ...]:
    found: list[str] = []
    for attacks in attack_lists:
        for attack in attacks if isinstance(attacks, list) else ():
            if not isinstance(attack, dict):
                continue
            for key in ("technique", "sub_technique"):
                uid = _technique_id(_get(attack, key, "uid"))
                if uid and uid not in found:
                    found.append(uid)
    return tuple(found)


@functools.lru_cache(maxsize=4096)
def _known_technique(uid: str) -> str:
    upper = uid.strip().upper()
    return upper if TECHNIQUE_ID.match(upper) else ""


def _technique_id(uid) -> str:
    # A feed names the same few techniques over and over; only short strings are worth caching.
    if not isinstance(uid, str):
        return ""
    return _known_technique(uid) if len(uid) <= 40 else _known_technique.__wrapped__(uid)


def _parents(table):
    # WELL_KNOWN grouped by the object holding the fields (consecutive entries share it), so
    # mapping looks each parent up once; the order, which picks the primary observable, is kept.
    groups: list[tuple[tuple[str, ...], list[tuple[str, ObservableKind]]]] = []
    for path, kind in table:
        if not groups or groups[-1][0] != path[:-1]:
            groups.append((path[:-1], []))
        groups[-1][1].append((path[-1], kind))
    return tuple((parent, tuple(fields)) for parent, fields in groups)


_WELL_KNOWN_BY_PARENT = _parents(WELL_KNOWN)


def _observables(event: dict) -> list[tuple[ObservableKind, str]]:
    # Unusable values (an "IP" that is not one) are skipped: one bad indicator must not lose the finding.
    pairs: list[tuple[ObservableKind, str]] = []
    listed = event.get("observables")
    for obs in listed if isinstance(listed, list) else ():
        if not isinstance(obs, dict):
            continue
        try:
            kind = OBSERVABLE_TYPES.get(obs.get("type_id"))
        except TypeError:  # an unhashable type_id (a list, an object) names no type
            kind = None
        if kind is ObservableKind.HOST and str(obs.get("name") or "").endswith("domain"):
            kind = ObservableKind.DOMAIN
        if kind is not None:
            _add(pairs, kind, obs.get("value"))
    for parent, fields in _WELL_KNOWN_BY_PARENT:
        obj = _get(event, *parent)
        if isinstance(obj, dict):
            for key, kind in fields:
                _add(pairs, kind, obj.get(key))
    url = event.get("url")
    if isinstance(url, str):
        _add(pairs, ObservableKind.URL, url)
    for hashes in (_get(event, "file", "hashes"), *(_get(f, "hashes") for f in event.get("files") or ()
                                                   if isinstance(f, dict))):
        for entry in hashes if isinstance(hashes, list) else ():
            _add(pairs, ObservableKind.HASH, _get(entry, "value"))
    return unique(pairs)


def _add(pairs: list, kind: ObservableKind, value) -> None:
    if value is None or value == "":
        return
    try:
        pairs.append(normalise_known(kind, value))
    except ObservableError:  # noqa: SIM105 - try/except is cheaper than suppress() on this per-indicator path
        return


def severity_id_of(severity: AlertSeverity) -> int:
    return SEVERITY_TO_ID[severity]
