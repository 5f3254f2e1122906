"""Template globals and filters shared by every page."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, g
from jinja2 import StrictUndefined

from app.core.actors import current_actor


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a stored UTC time in the signed-in user's time zone."""
    if value is None:
        return "—"
    actor = current_actor()
    local = value.astimezone(actor.zone if actor else UTC)
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
