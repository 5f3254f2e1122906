"""Tenant administration: members and API keys."""

from flask import Blueprint

from app.core.permissions import require
from app.core.ui import render

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/members")
@require("member:read")
def members():
    return render("home/dashboard.html")


@bp.get("/api-keys")
@require("apikey:manage")
def api_keys():
    return render("home/dashboard.html")
