"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from app.core.db import db
from app.core.jobs import queue_ready

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """The process is up (no dependencies checked)."""
    return jsonify(status="ok")


@bp.get("/ready")
def ready():
    """The database and the job queue answer; 503 with the failing check otherwise."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True, "detail": db.engine.dialect.name}
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "detail": type(exc).__name__}
    finally:
        db.session.rollback()
    queue_ok, detail = queue_ready(current_app)
    checks["jobs"] = {"ok": queue_ok, "detail": detail}
    settings = current_app.extensions["vigil_settings"]
    if settings.redis_url:
        try:
            import redis

            redis.Redis.from_url(settings.redis_url).ping()
            checks["redis"] = {"ok": True, "detail": "ping"}
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = {"ok": False, "detail": type(exc).__name__}
    all_ok = all(c["ok"] for c in checks.values())
    return jsonify(status="ok" if all_ok else "unavailable", checks=checks), 200 if all_ok else 503
