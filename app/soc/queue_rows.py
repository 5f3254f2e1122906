"""The alert queue's rows: plain values read from the queue query, each rendered once per content.

`QueueRow` is everything a row shows, already in the viewer's terms (labels, local time, the SLA
chip); it is the row macro's only input and, with the page's few flags, the fragment cache's key
(core/fragments.py): the same alert seen again unchanged costs a dict lookup instead of a Jinja
render, and an alert that changed in any shown way has another key.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import url_for
from markupsafe import Markup

from app.core.actors import current_actor
from app.core.fragments import fragments, macro
from app.core.jinja import localtime
from app.soc.forms import SEVERITY_LABELS, STATUS_LABELS
from app.soc.models import AlertStatus
from app.soc.sla.views import Badge, sla_badge_of, sla_targets_now

ROW_TEMPLATE = "soc/_alert_row.html"
CHIPS = 3  # observables shown as chips; the rest is a "+N"


@dataclass(frozen=True, slots=True)
class QueueRow:
    public_id: str
    reference: str
    is_open: bool
    severity: str
    severity_label: str
    title: str
    rule_name: str
    source: str
    observables: tuple[tuple[str, str], ...]  # (kind, value) of the first CHIPS
    more_observables: int
    occurrences: int
    status: str
    status_label: str
    sla: Badge | None
    assignee: str | None
    last_seen: str  # ISO 8601, for <time datetime>
    last_seen_text: str  # in the viewer's time zone


def queue_row(row: sa.Row, observables: list) -> QueueRow:
    """A row of queries.QUEUE_COLUMNS and its observables, as the page shows it."""
    return QueueRow(
        public_id=row.public_id, reference=f"ALR-{row.number}", is_open=row.status != AlertStatus.CLOSED,
        severity=row.severity.value, severity_label=SEVERITY_LABELS[row.severity], title=row.title,
        rule_name=row.rule_name or "", source=row.source,
        observables=tuple((o.kind.value, o.value) for o in observables[:CHIPS]),
        more_observables=max(0, len(observables) - CHIPS), occurrences=row.occurrences,
        status=row.status.value, status_label=STATUS_LABELS[row.status], sla=sla_badge_of(row),
        assignee=row.assignee_name or row.assignee_email, last_seen=row.last_seen.isoformat(),
        last_seen_text=localtime(row.last_seen, "%d %b %H:%M"))


def render_alert_rows(rows: list[sa.Row], observables: dict[int, list], selected=frozenset()) -> Markup:
    """The <tr> of each row of queries.QUEUE_COLUMNS, from the fragment cache when seen before.

    The key is the row's raw values, so a hit costs no formatting at all; beside them, what else
    the row depends on: the viewer's zone, may they edit, is it ticked, the tenant's SLA targets
    and the minute (the SLA chip counts down in minutes, so rows are rendered again once a minute).
    """
    actor = current_actor()
    writable = actor is not None and actor.can("alert:write")
    zone = str(actor.zone) if actor is not None else "UTC"
    detail_base, queue_base = url_for("soc.alert_detail", alert_id="-")[:-1], url_for("soc.alerts")
    targets, now = sla_targets_now()
    page_key = (ROW_TEMPLATE, writable, zone, detail_base, queue_base, int(now.timestamp() // 60),
                tuple((t.ack_minutes, t.resolve_minutes) for t in targets.values()))
    cache, row_macro = fragments(), macro(ROW_TEMPLATE, "alert_row")

    def make(row, obs, checked):
        return lambda: row_macro(queue_row(row, obs), writable, checked, detail_base, queue_base)

    out = []
    for row in rows:
        obs, checked = observables.get(row.id, ()), row.public_id in selected
        out.append(cache.render((page_key, tuple(row), tuple(map(tuple, obs)), checked), make(row, obs, checked)))
    return Markup("").join(out)
