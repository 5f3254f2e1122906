"""The tenant's home dashboard: real counts, recent activity."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from app.core.actors import current_actor
from app.core.permissions import require
from app.core.ui import render
from app.home.queries import dashboard_counts, recent_activity

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return redirect(url_for("home.dashboard" if current_actor() else "identity.login"))


@bp.get("/dashboard")
@require("dashboard:view")
def dashboard():
    actor = current_actor()
    return render("home/dashboard.html", counts=dashboard_counts(actor.tenant),
                  activity=recent_activity(actor.tenant) if actor.can("audit:read") else None)
