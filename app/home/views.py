"""The tenant's home dashboard: real counts, the SOC tiles, recent activity."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from app.core.actors import current_actor
from app.core.permissions import require
from app.core.ui import render
from app.home.charts import bar_chart
from app.home.queries import dashboard_counts, recent_activity, soc_overview

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return redirect(url_for("home.dashboard" if current_actor() else "identity.login"))


@bp.get("/dashboard")
@require("dashboard:view")
def dashboard():
    actor = current_actor()
    soc = soc_overview(with_cases=actor.can("case:read")) if actor.can("alert:read") else None
    volume = bar_chart([(f"{d.day:%d %b}: {d.count:,} alerts", d.count, f"{d.day:%d %b}" if i % 7 == 0 else None)
                        for i, d in enumerate(soc.volume)]) if soc else None
    return render("home/dashboard.html", counts=dashboard_counts(actor.tenant), soc=soc, volume=volume,
                  activity=recent_activity(actor.tenant) if actor.can("audit:read") else None)
