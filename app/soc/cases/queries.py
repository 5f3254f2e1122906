"""Read side of cases: the filtered, keyset-paged list, the detail loader, the timeline page."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from app.core.db import db
from app.core.errors import ValidationFailed
from app.core.tenancy import get_or_404
from app.identity.models import User
from app.soc.cases.models import Case, CaseTask, Severity, TimelineEntry, TimelineKind
from app.soc.cases.timeline import timeline_statement
from app.soc.cases.workflow import OPEN_STATUSES, CaseStatus


@dataclass
class CaseListFilter:
    """What the case list can be narrowed by; `assignee` is a user id, "me" or "unassigned"."""

    statuses: list[str] = field(default_factory=list)  # also "open"
    severities: list[str] = field(default_factory=list)
    assignee: str | None = None
    tag: str | None = None
    text: str | None = None

    @classmethod
    def from_args(cls, args) -> CaseListFilter:
        return cls(statuses=[s for v in args.getlist("status") for s in v.split(",") if s],
                   severities=[s for v in args.getlist("severity") for s in v.split(",") if s],
                   assignee=args.get("assignee") or None, tag=args.get("tag") or None,
                   text=args.get("q") or args.get("text") or None)


def _statuses(values: list[str]) -> list[CaseStatus]:
    out: list[CaseStatus] = []
    for value in values:
        if value == "open":
            out.extend(OPEN_STATUSES)
            continue
        try:
            out.append(CaseStatus(value))
        except ValueError:
            raise ValidationFailed({"status": [f"Use open or any of {', '.join(s.value for s in CaseStatus)}."]}) \
                from None
    return out


def _severities(values: list[str]) -> list[Severity]:
    try:
        return [Severity(v) for v in values]
    except ValueError:
        raise ValidationFailed({"severity": [f"Use any of {', '.join(s.value for s in Severity)}."]}) from None


def case_list_statement(filters: CaseListFilter, *, me: User | None = None) -> sa.Select:
    """The cases matching the filters; page it with core.api.paginate on Case.id (newest first)."""
    stmt = sa.select(Case)
    if filters.statuses:
        stmt = stmt.where(Case.status.in_(_statuses(filters.statuses)))
    if filters.severities:
        stmt = stmt.where(Case.severity.in_(_severities(filters.severities)))
    if filters.assignee == "unassigned":
        stmt = stmt.where(Case.assignee_id.is_(None))
    elif filters.assignee == "me":
        stmt = stmt.where(Case.assignee_id == (me.id if me is not None else -1))
    elif filters.assignee:
        stmt = stmt.join(User, User.id == Case.assignee_id).where(User.public_id == filters.assignee)
    if filters.tag:
        # Tags are a short JSON list; matching the quoted element works on SQLite and PostgreSQL alike.
        needle = filters.tag.strip().lower().replace("\\", "").replace('"', "")
        stmt = stmt.where(sa.cast(Case.tags, sa.String).contains(f'"{needle}"', autoescape=True))
    if filters.text:
        text = filters.text.strip()
        number = text.upper().removeprefix("CASE-")
        clauses = [Case.title.icontains(text, autoescape=True)]
        if number.isdigit():
            clauses.append(Case.number == int(number))
        stmt = stmt.where(sa.or_(*clauses))
    return stmt


def load_case_detail(case_id: str) -> Case:
    """One case with its tasks and watchers loaded up front (the detail page and API need both)."""
    case = get_or_404(Case, case_id)
    db.session.scalars(sa.select(Case).where(Case.id == case.id).options(
        orm.selectinload(Case.tasks).joinedload(CaseTask.assignee),
        orm.selectinload(Case.watchers),
    )).one()
    return case


# Entries per timeline page ("Load more" appends the next). 100 keeps a long case opening fast
# (each entry is an ORM row plus its fragment, core/fragments.py); the exports always hold them all.
TIMELINE_PAGE = 100


def _decode_timeline_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(raw["t"])
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, int(raw["k"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed({"cursor": ["The cursor is not valid; use the next cursor as given."]}) from None


def _encode_timeline_cursor(at: datetime, key: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"t": at.isoformat(), "k": key}).encode()).decode().rstrip("=")


def timeline_page(case: Case, *, kinds: list[TimelineKind] | None = None, order: str = "occurred",
                  cursor: str | None = None, limit: int = TIMELINE_PAGE) -> tuple[list[TimelineEntry], str | None]:
    """One page of timeline entries, oldest first, and the cursor of the next page (None at the end).

    Keyset paging on (time, id), served by the (tenant, case, time) indexes: page 40 costs what
    page 1 does, and an entry is never skipped or shown twice when others are added meanwhile.
    """
    stmt = timeline_statement(case, kinds=kinds, order=order)
    column = TimelineEntry.occurred_at if order == "occurred" else TimelineEntry.recorded_at
    if cursor:
        at, key = _decode_timeline_cursor(cursor)
        stmt = stmt.where(sa.or_(column > at, sa.and_(column == at, TimelineEntry.id > key)))
    rows = list(db.session.scalars(stmt.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode_timeline_cursor(getattr(rows[-1], column.key), rows[-1].id)


def timeline_count(case: Case, *, kinds: list[TimelineKind] | None = None) -> int:
    """How many entries the timeline holds (of these kinds), so a paged view says what it is not showing."""
    stmt = sa.select(sa.func.count()).select_from(TimelineEntry).where(TimelineEntry.case_id == case.id)
    if kinds:
        stmt = stmt.where(TimelineEntry.kind.in_(kinds))
    return db.session.scalar(stmt) or 0


def case_by_number(number: int) -> Case | None:
    return db.session.scalar(sa.select(Case).where(Case.number == number))


# --- pages (app/soc/cases/views.py) --------------------------------------------------------


@dataclass(frozen=True)
class CaseCounts:
    tasks_done: int = 0
    tasks_total: int = 0
    alerts: int = 0


def case_list_counts(cases: list[Case]) -> dict[int, CaseCounts]:
    """Tasks done/total and linked alerts for a page of cases, in two grouped queries (no N+1)."""
    from app.soc.cases.models import CaseAlertLink

    ids = [c.id for c in cases]
    if not ids:
        return {}
    tasks = {row.case_id: row for row in db.session.execute(
        sa.select(CaseTask.case_id, sa.func.count().label("total"),
                  sa.func.count(CaseTask.done_at).label("done"))
        .where(CaseTask.case_id.in_(ids)).group_by(CaseTask.case_id))}
    alerts = dict(db.session.execute(
        sa.select(CaseAlertLink.case_id, sa.func.count()).where(CaseAlertLink.case_id.in_(ids))
        .group_by(CaseAlertLink.case_id)).all())
    return {i: CaseCounts(tasks[i].done if i in tasks else 0, tasks[i].total if i in tasks else 0, alerts.get(i, 0))
            for i in ids}


def case_members() -> list[User]:
    """Active members of the current tenant, for assignee and watcher choices."""
    from app.identity.models import Membership

    return list(db.session.scalars(sa.select(User).join(Membership, Membership.user_id == User.id)
                                   .where(Membership.is_active, User.is_active).order_by(User.email)))


def case_attachments(case: Case) -> list:
    from app.soc.cases.models import Attachment

    return list(db.session.scalars(sa.select(Attachment).where(Attachment.case_id == case.id)
                                   .order_by(Attachment.id)))


def attachment_of_case(case: Case, attachment_id: str):
    """The case's attachment with this public id, or NotFound (another case's is not reachable here)."""
    from app.core.errors import NotFound
    from app.soc.cases.models import Attachment

    row = db.session.scalar(sa.select(Attachment).where(Attachment.public_id == str(attachment_id),
                                                        Attachment.case_id == case.id))
    if row is None:
        raise NotFound("Attachment not found.")
    return row


def entry_of_case(case: Case, entry_id: str) -> TimelineEntry:
    """The case's timeline entry with this public id, or NotFound."""
    from app.core.errors import NotFound

    row = db.session.scalar(sa.select(TimelineEntry).where(TimelineEntry.public_id == str(entry_id),
                                                           TimelineEntry.case_id == case.id))
    if row is None:
        raise NotFound("Timeline entry not found.")
    return row


@dataclass(frozen=True)
class LinkCandidate:
    alert: object
    case_number: int | None  # the case it is already linked to, if any


def link_candidates(text: str, *, limit: int = 10) -> list[LinkCandidate]:
    """Alerts to offer on a case's "link alerts" search: by ALR number, title, or observable value.

    Newest first; alerts already on a case come back with that case's number so the page can
    say where they are instead of offering them.
    """
    from app.soc.cases.models import CaseAlertLink
    from app.soc.models import Alert, AlertObservable

    text = " ".join((text or "").split())[:200]
    if not text:
        return []
    number = text.upper().removeprefix("ALR-").removeprefix("#")
    clauses = [Alert.title.icontains(text, autoescape=True),
               Alert.id.in_(sa.select(AlertObservable.alert_id)
                            .where(AlertObservable.value.startswith(text.lower(), autoescape=True)))]
    if number.isdigit() and len(number) <= 9:
        clauses.append(Alert.number == int(number))
    stmt = (sa.select(Alert, Case.number).outerjoin(CaseAlertLink, CaseAlertLink.alert_id == Alert.id)
            .outerjoin(Case, Case.id == CaseAlertLink.case_id).where(sa.or_(*clauses))
            .order_by(Alert.id.desc()).limit(limit))
    return [LinkCandidate(alert, case_number) for alert, case_number in db.session.execute(stmt)]
