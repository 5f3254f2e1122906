"""The SOC settings page: how alert deduplication decides that two events are one alert."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app.core.actors import current_actor
from app.core.errors import ValidationFailed
from app.core.permissions import require
from app.core.ui import render, respond_changed
from app.soc import services
from app.soc.models import ObservableKind

bp = Blueprint("soc_settings", __name__, url_prefix="/soc/settings")

PAGE, DEDUP = "soc/settings.html", "soc/_dedup_settings.html"
_OBSERVABLE_LABELS = {"ip": "IP address", "domain": "Domain", "hash": "File hash", "user": "User name",
                      "host": "Host name", "url": "URL", "email": "Email address"}
FIELD_LABELS = {
    "source": ("Source", "the product that raised it (EDR, SIEM, cloud)"),
    "rule_name": ("Rule", "the detection rule or analytic"),
    "title": ("Title", "the alert's title as sent"),
    "severity": ("Severity", "a new severity starts a new alert"),
    "primary_observable": ("Primary observable", "the first indicator found in the event"),
    **{f"observable:{k}": (_OBSERVABLE_LABELS[k.value], f"the event's first {_OBSERVABLE_LABELS[k.value].lower()}")
       for k in ObservableKind},
}


def _form_values(settings) -> dict:
    return {"fields": list(settings.fingerprint_fields), "window": str(settings.dedup_window_minutes)}


def _page(values: dict, *, errors: dict | None = None, status: int = 200, settings=None):
    return render(PAGE, DEDUP, status=status, values=values, errors=errors or {}, labels=FIELD_LABELS,
                  settings=settings or services.alert_settings(), max_window=services.MAX_WINDOW_MINUTES)


@bp.get("")
@require("soc:configure")
def soc_settings():
    settings = services.alert_settings()
    return _page(_form_values(settings), settings=settings)


@bp.post("/dedup")
@require("soc:configure")
def dedup_post():
    values = {"fields": request.form.getlist("fingerprint_fields"), "window": request.form.get("window", "").strip()}
    try:
        if not values["window"].isdigit():
            raise ValidationFailed({"dedup_window_minutes": ["Give the window as a whole number of minutes."]})
        settings = services.update_alert_settings(actor=current_actor(), fingerprint_fields=values["fields"],
                                                  dedup_window_minutes=int(values["window"]))
    except ValidationFailed as exc:
        return _page(values, errors=exc.field_errors, status=422)
    return respond_changed("Deduplication settings saved.", redirect_to=url_for("soc_settings.soc_settings"),
                           fragment=DEDUP, event="settings-updated", values=_form_values(settings), errors={},
                           labels=FIELD_LABELS, settings=settings, max_window=services.MAX_WINDOW_MINUTES)
