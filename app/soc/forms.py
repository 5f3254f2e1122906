"""Input of the alert queue and detail pages: choices, the time window, the selected rows.

The rules (which transitions are allowed, who may be assigned, that closing needs a reason) live
in app/soc/services.py; these only read what the browser sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.core.errors import ValidationFailed
from app.soc.cases.forms import TEMPLATE_CHOICES
from app.soc.models import AlertSeverity, AlertStatus, CloseReason

STATUS_LABELS = {AlertStatus.NEW: "New", AlertStatus.ACKNOWLEDGED: "Acknowledged",
                 AlertStatus.IN_PROGRESS: "In progress", AlertStatus.CLOSED: "Closed"}
SEVERITY_LABELS = {s: s.value.capitalize() for s in AlertSeverity}
CLOSE_REASON_LABELS = {CloseReason.TRUE_POSITIVE: "True positive", CloseReason.BENIGN: "Benign",
                       CloseReason.FALSE_POSITIVE: "False positive", CloseReason.DUPLICATE: "Duplicate"}
CLOSE_REASON_CHOICES = [("", "Choose a reason…")] + [(r.value, label) for r, label in CLOSE_REASON_LABELS.items()]
# Relative windows keep a shared link meaning "the last 24 hours" whenever it is opened.
WINDOWS = {"1h": ("Last hour", timedelta(hours=1)), "24h": ("Last 24 hours", timedelta(days=1)),
           "7d": ("Last 7 days", timedelta(days=7)), "30d": ("Last 30 days", timedelta(days=30))}
SORT_LABELS = {"last_seen": "Last seen", "severity": "Severity", "number": "Number"}
MAX_SELECTED = 500


def window_start(raw: str | None, now: datetime) -> datetime | None:
    """The start of a relative time window ("24h"); raise ValidationFailed for an unknown one."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if raw not in WINDOWS:
        raise ValidationFailed({"window": [f"Unknown time window; use {', '.join(WINDOWS)}."]})
    return now - WINDOWS[raw][1]


def selected_alert_ids(form) -> list[str]:
    """The public ids of the rows ticked in the queue (checkboxes named alert_id)."""
    ids = [v.strip() for v in form.getlist("alert_id") if v.strip()]
    if not ids:
        raise ValidationFailed({"alert_id": ["Select at least one alert."]})
    if len(ids) > MAX_SELECTED:
        raise ValidationFailed({"alert_id": [f"Select at most {MAX_SELECTED} alerts at once."]})
    return ids


class CloseForm(FlaskForm):
    close_reason = SelectField("Reason", choices=CLOSE_REASON_CHOICES)


class CaseFromAlertsForm(FlaskForm):
    title = StringField("Case title", validators=[Length(max=300)])
    severity = SelectField("Severity", choices=[(s.value, label) for s, label in SEVERITY_LABELS.items()])
    template = SelectField("Template", choices=TEMPLATE_CHOICES, default="")


def case_number(raw: str | None) -> int:
    """Read "CASE-42" or "42"; raise ValidationFailed naming the field."""
    text = (raw or "").strip().upper().removeprefix("CASE-").strip()
    if not text.isdigit():
        raise ValidationFailed({"case": ["Give the case number, e.g. CASE-42."]})
    return int(text)
