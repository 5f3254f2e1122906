from flask import Blueprint

from app.core.permissions import require
from app.core.ui import render

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@require("audit:read")
def audit_log():
    return render("home/dashboard.html")
