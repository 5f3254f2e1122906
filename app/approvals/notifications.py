"""In-app notifications: recorded with the change that causes them, read in the bell and the list page."""

from __future__ import annotations

import sqlalchemy as sa

from app.approvals.models import Notification
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import NotFound


def notify(user_ids: list[int], *, kind: str, title: str, link: str = "", body: str = "") -> None:
    """Queue a notice for each member in the caller's transaction (no audit: the cause is audited)."""
    for user_id in dict.fromkeys(user_ids):
        db.session.add(Notification(user_id=user_id, kind=kind, title=title[:300], link=link[:500], body=body[:1000]))


# Built once: the bell asks on every page, and building a statement costs more than running this one.
_UNREAD = sa.select(sa.func.count()).select_from(Notification).where(
    Notification.user_id == sa.bindparam("user_id"), Notification.read_at.is_(None))


def unread_count(user) -> int:
    return db.session.scalar(_UNREAD, {"user_id": user.id}) or 0


def list_for(user, *, limit: int = 100) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id.desc()).limit(limit)))


def own_notification(user, public_id: str) -> Notification:
    """One of the member's own notices; anyone else's is a 404."""
    notice = db.session.scalar(sa.select(Notification).where(Notification.public_id == public_id,
                                                             Notification.user_id == user.id))
    if notice is None:
        raise NotFound("No such notification.")
    return notice


@atomic
def mark_read(notice: Notification, *, actor: Actor) -> Notification:
    """Mark one notice read."""
    if notice.read_at is None:
        notice.read_at = utcnow()
        audit.record("notification.read", actor=actor, target=notice)
    return notice


@atomic
def mark_all_read(*, actor: Actor) -> int:
    """Mark every unread notice of the member read; returns how many."""
    count = db.session.execute(sa.update(Notification).where(
        Notification.user_id == actor.user.id, Notification.read_at.is_(None)).values(read_at=utcnow())).rowcount
    if count:
        audit.record("notification.read_all", actor=actor, after={"count": count})
    return count


def settle(user_id: int, link: str) -> None:
    """Mark the member's notices about one thing read once they have acted on it (in the caller's transaction)."""
    db.session.execute(sa.update(Notification).where(
        Notification.user_id == user_id, Notification.link == link, Notification.read_at.is_(None))
        .values(read_at=utcnow()).execution_options(synchronize_session=False))
