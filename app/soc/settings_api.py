"""Alert settings in the API: read and change deduplication (fingerprint fields and window)."""

from __future__ import annotations

from flask import Blueprint, g
from pydantic import BaseModel, ConfigDict, Field

from app.core.api import documented, ok, parse_body
from app.core.permissions import require
from app.soc import services

api_bp = Blueprint("soc_settings_api", __name__)


class AlertSettingsOut(BaseModel):
    fingerprint_fields: list[str] = Field(description="events with equal values in these fields are one alert")
    dedup_window_minutes: int = Field(description="how far apart in time they may be; 0 turns merging off")
    available_fields: list[str]
    max_window_minutes: int

    @classmethod
    def of(cls, settings) -> AlertSettingsOut:
        return cls(fingerprint_fields=list(settings.fingerprint_fields),
                   dedup_window_minutes=settings.dedup_window_minutes,
                   available_fields=list(services.FINGERPRINT_FIELDS),
                   max_window_minutes=services.MAX_WINDOW_MINUTES)


class AlertSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fingerprint_fields: list[str] | None = Field(default=None, min_length=1, max_length=20)
    dedup_window_minutes: int | None = Field(default=None, description=f"0 to {services.MAX_WINDOW_MINUTES}")


@api_bp.get("/alerts/settings")
@require("alert:read")
@documented(response=AlertSettingsOut, tag="alerts")
def alert_settings_get():
    """The tenant's deduplication settings: which fields make the fingerprint, and the window."""
    return ok(AlertSettingsOut.of(services.alert_settings()).model_dump(mode="json"))


@api_bp.patch("/alerts/settings")
@require("soc:configure")
@documented(body=AlertSettingsPatch, response=AlertSettingsOut, tag="alerts")
def alert_settings_patch():
    """Change deduplication; applies to events ingested from now on (audited)."""
    body = parse_body(AlertSettingsPatch)
    settings = services.update_alert_settings(actor=g.actor, fingerprint_fields=body.fingerprint_fields,
                                              dedup_window_minutes=body.dedup_window_minutes)
    return ok(AlertSettingsOut.of(settings).model_dump(mode="json"))
