"""Forms of the case pages; every rule (workflow, sizes, types, members) lives in the services."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateTimeLocalField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.soc.cases.models import EventCategory, Severity
from app.soc.cases.templates_catalog import TEMPLATES

SEVERITY_CHOICES = [(s.value, s.value.capitalize()) for s in Severity]
CATEGORY_LABELS = {c.value: c.value.replace("_", " ").capitalize() for c in EventCategory}
CATEGORY_CHOICES = list(CATEGORY_LABELS.items())
TEMPLATE_CHOICES = [("", "No template"), *((t.key, f"{t.name} — {len(t.tasks)} tasks") for t in TEMPLATES.values())]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def split_list(value: str | None) -> list[str]:
    """Tags or technique ids typed as "a, b c" → ["a", "b", "c"]."""
    return [v for v in (value or "").replace(",", " ").split() if v]


def in_zone(value: datetime | None, zone: tzinfo) -> datetime | None:
    """A datetime-local value means the user's own zone; the services want it aware."""
    if value is None:
        return None
    return value.replace(tzinfo=zone).astimezone(UTC)


def local_input(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""


def member_choices(members) -> list[tuple[str, str]]:
    return [("", "Unassigned"), *((u.public_id, u.name or u.email) for u in members)]


class CaseForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=300)], render_kw={"autocomplete": "off"})
    severity = SelectField("Severity", choices=SEVERITY_CHOICES, default="medium")
    template = SelectField("Template", choices=TEMPLATE_CHOICES, default="")
    assignee = SelectField("Assignee", choices=[], validate_choice=False)
    tags = StringField("Tags", validators=[Length(max=2000)], render_kw={"placeholder": "phishing, finance"})
    techniques = StringField("MITRE ATT&CK techniques", validators=[Length(max=2000)],
                             render_kw={"placeholder": "T1566, T1059.001"})
    description = TextAreaField("Description (Markdown)", validators=[Length(max=100_000)], render_kw={"rows": 6})


class CaseEditForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=300)], render_kw={"autocomplete": "off"})
    severity = SelectField("Severity", choices=SEVERITY_CHOICES)
    assignee = SelectField("Assignee", choices=[], validate_choice=False)
    tags = StringField("Tags", validators=[Length(max=2000)])
    techniques = StringField("MITRE ATT&CK techniques", validators=[Length(max=2000)])
    watchers = SelectMultipleField("Watchers", choices=[], validate_choice=False,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    description = TextAreaField("Description (Markdown)", validators=[Length(max=100_000)], render_kw={"rows": 10})


ALERT_CLOSE_CHOICES = [("true_positive", "True positive: confirmed by the case"),
                       ("benign", "Benign: real activity, but harmless"),
                       ("false_positive", "False positive: the detection was wrong")]


class TransitionForm(FlaskForm):
    to = StringField("To", validators=[DataRequired()])
    resolution = TextAreaField("Resolution summary", validators=[Optional(), Length(max=20_000)],
                               render_kw={"rows": 6})
    # Not validated here: the service names the allowed reasons in its own message.
    alert_close_reason = SelectField("Close its open alerts as", choices=ALERT_CLOSE_CHOICES, default="true_positive",
                                     validate_choice=False)


class EventForm(FlaskForm):
    occurred_at = DateTimeLocalField("When it happened", format=DATETIME_FORMATS, validators=[Optional()])
    category = SelectField("Category", choices=CATEGORY_CHOICES, default="other")
    asset = StringField("Asset or observable", validators=[Length(max=500)],
                        render_kw={"placeholder": "host, account, IP, hash…", "autocomplete": "off"})
    body = TextAreaField("What happened", validators=[Length(max=20_000)], render_kw={"rows": 3})


class CommentForm(FlaskForm):
    body = TextAreaField("Comment (Markdown)", validators=[Length(max=20_000)], render_kw={"rows": 3})


class TaskForm(FlaskForm):
    title = StringField("New task", validators=[Length(max=300)], render_kw={"autocomplete": "off"})
    assignee = SelectField("Assignee", choices=[], validate_choice=False)
    due_at = DateTimeLocalField("Due", format=DATETIME_FORMATS, validators=[Optional()])


class AttachmentForm(FlaskForm):
    file = FileField("Evidence file")


class MergeForm(FlaskForm):
    into = StringField("Survivor case", validators=[DataRequired(), Length(max=20)],
                       render_kw={"placeholder": "CASE-42", "autocomplete": "off"})
