"""Forms of the tenant administration pages; rules (last admin, scopes, expiry) live in the services."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.permissions import PERMISSIONS, ROLE_LABELS, SCOPES, Role

ROLE_CHOICES = [(role.value, role.value.capitalize()) for role in Role]
# What each scope lets a client do, in the words of the permissions it grants.
SCOPE_HELP = {scope: "; ".join(PERMISSIONS[p] for p in sorted(perms)) for scope, perms in SCOPES.items()}


class MemberForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)],
                       render_kw={"autocomplete": "off", "autofocus": True})
    name = StringField("Name", validators=[Optional(), Length(max=200)], render_kw={"autocomplete": "off"})
    role = SelectField("Role", choices=[(r.value, label) for r, label in ROLE_LABELS.items()],
                       default=Role.ANALYST.value)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)],
                       render_kw={"autocomplete": "off"})
    scopes = SelectMultipleField("Scopes", choices=[(s, s) for s in SCOPES],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    expires_at = DateField("Expires on (optional)", validators=[Optional()])

    def expiry(self, timezone: str | None) -> datetime | None:
        """The key stops working as the chosen day begins in the admin's time zone (what the list shows)."""
        if self.expires_at.data is None:
            return None
        try:
            zone = ZoneInfo(timezone or "UTC")
        except ZoneInfoNotFoundError:
            zone = ZoneInfo("UTC")
        return datetime.combine(self.expires_at.data, time.min, tzinfo=zone).astimezone(UTC)
