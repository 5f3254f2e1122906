"""A small in-process cache for expensive compliance reads, invalidated by a per-tenant state version.

Any flush that adds, changes or deletes a tenant's controls, mappings, evidence, links or
adoptions bumps that tenant's `StateVersion` in the same transaction. Cached values are keyed
on that version (plus whatever else they depend on, such as the day and the library's content
hash), so a worker never serves a value computed before a change it can see, and workers need
no messages to each other. Entries are evicted least-recently-used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, orm

from app.compliance.models import (
    Adoption,
    Control,
    ControlMapping,
    Evidence,
    EvidenceLink,
    ScoreSnapshot,
    StateVersion,
)
from app.core.db import db

MAX_ENTRIES = 256
_TRACKED = (Adoption, Control, ControlMapping, Evidence, EvidenceLink, ScoreSnapshot)
_entries: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()


_STATE_VERSION = sa.select(StateVersion.version).where(StateVersion.tenant_id == sa.bindparam("tenant_id"))


def state_version(tenant_id: int) -> int:
    return db.session.scalar(_STATE_VERSION, {"tenant_id": tenant_id}) or 0


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            return _entries[key]
    value = compute()
    with _lock:
        _entries[key] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()


@event.listens_for(orm.Session, "after_flush")
def _bump_versions(session: orm.Session, _ctx) -> None:
    changed = {obj.tenant_id for obj in (*session.new, *session.dirty, *session.deleted)
               if isinstance(obj, _TRACKED) and obj.tenant_id is not None}
    if not changed:
        return
    conn = session.connection()
    for tenant_id in sorted(changed):
        updated = conn.execute(sa.update(StateVersion).where(StateVersion.tenant_id == tenant_id)
                               .values(version=StateVersion.version + 1))
        if updated.rowcount == 0:
            conn.execute(sa.insert(StateVersion).values(tenant_id=tenant_id, version=1))
