"""Template globals and filters shared by every page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g
from jinja2 import StrictUndefined

from app.core.actors import current_actor


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a stored UTC time in the signed-in user's time zone."""
    if value is None:
        return "—"
    actor = current_actor()
    zone_name = getattr(getattr(actor, "user", None), "timezone", None) or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except ZoneInfoNotFoundError:
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def init_app(app: Flask) -> None:
    app.jinja_env.autoescape = True  # every template, whatever its extension
    if app.config.get("TESTING"):
        app.jinja_env.undefined = StrictUndefined
    app.jinja_env.filters["localtime"] = localtime

    @app.context_processor
    def _globals():
        actor = current_actor()
        return {
            "actor": actor,
            "can": (lambda perm: actor is not None and actor.can(perm)),
            "my_memberships": g.get("my_memberships", []),
        }
