"""Background jobs on huey: SQLite storage in instance/ by default, Redis when configured."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from huey import MemoryHuey, RedisHuey, SqliteHuey

huey = MemoryHuey("vigil", immediate=True)  # replaced by init_app; importable before the app exists


def init_app(app: Flask, settings) -> None:
    global huey
    if settings.jobs_immediate or settings.testing:
        huey = MemoryHuey("vigil", immediate=True)
    elif settings.redis_url:
        huey = RedisHuey("vigil", url=settings.redis_url)
    else:
        huey = SqliteHuey("vigil", filename=str(Path(settings.instance_path) / "jobs.db"))
    app.extensions["huey"] = huey


def queue_ready(app: Flask) -> tuple[bool, str]:
    """True when the queue's storage answers (used by GET /ready)."""
    queue = app.extensions["huey"]
    try:
        pending = queue.pending_count()
    except Exception as exc:  # noqa: BLE001 — any storage failure means not ready
        return False, f"{type(exc).__name__}: {exc}"
    return True, f"{type(queue).__name__}, {pending} pending"
