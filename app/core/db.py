"""Database conventions: naming, UTC times, public ids, and the one transaction helper."""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic batch migrations on SQLite can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite forgets the zone, so it is put back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Vigil stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_public_id() -> str:
    return str(uuid.uuid4())


def new_ordered_public_ids(count: int) -> list[str]:
    """`count` UUIDv7s (RFC 9562): the millisecond time, then 74 random bits.

    For tables written in bulk (alerts): each new id lands at the right-hand end of the public_id
    index instead of on a random page, so a batch dirties a few index pages rather than one per
    row — in a large table that is much of what a commit writes. Still unguessable."""
    head = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80 | 0x7 << 76 | 0b10 << 62
    rand = os.urandom(10 * count)
    out = []
    for i in range(0, 10 * count, 10):
        r = int.from_bytes(rand[i:i + 10], "big")
        h = f"{head | (r >> 62 & 0xFFF) << 64 | r & (1 << 62) - 1:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def public_id_column() -> Mapped[str]:
    return mapped_column(sa.String(36), unique=True, index=True, default=new_public_id, nullable=False)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def install_sqlite_pragmas(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """WAL for concurrent readers, foreign keys enforced, and a wait instead of 'database is locked'."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # pysqlite's own transaction handling would defer BEGIN past our pragmas.
        cursor = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


db = SQLAlchemy(model_class=Base)

P = ParamSpec("P")
R = TypeVar("R")
_AFTER_COMMIT_KEY = "vigil_after_commit"
_DEPTH_KEY = "vigil_atomic_depth"


def atomic(fn: Callable[P, R]) -> Callable[P, R]:
    """The outermost call commits, nested calls join, and any error rolls the whole thing back."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        info = db.session.info
        depth = info.get(_DEPTH_KEY, 0)
        info[_DEPTH_KEY] = depth + 1
        try:
            result = fn(*args, **kwargs)
            if depth == 0:
                db.session.commit()
            return result
        except BaseException:
            if depth == 0:
                db.session.rollback()
                info.pop(_AFTER_COMMIT_KEY, None)
            raise
        finally:
            info[_DEPTH_KEY] = depth

    return wrapper


def after_commit(callback: Callable[[], None]) -> None:
    """Run callback once the current transaction commits (push, webhooks); dropped on rollback."""
    db.session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


def _run_after_commit(session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT_KEY, []):
        callback()


def _drop_after_commit(session) -> None:
    session.info.pop(_AFTER_COMMIT_KEY, None)


sa.event.listen(sa.orm.Session, "after_commit", _run_after_commit)
sa.event.listen(sa.orm.Session, "after_soft_rollback", lambda session, _tx: _drop_after_commit(session))
