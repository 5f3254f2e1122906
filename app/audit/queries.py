"""Read side of the audit log: the filter, the filtered statement, and the CSV rows of an export.

`AuditRecord` is deliberately not `TenantScoped` (failed sign-ins for unknown emails go to the
"system" chain, whose rows have no tenant), so core/tenancy.py adds no tenant criterion to these
queries. Every statement here therefore names the tenant itself, and no other module should
select audit records for a page or the API.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa

from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import ValidationFailed

PAGE_SIZE = 50
FILTER_FIELDS = ("actor", "action", "target", "from", "to")
MAX_TEXT = 320
_MINUTE_PRECISION = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}$")
_WHEN_HINT = "Use one such as 2026-03-01 14:30."


@dataclass(frozen=True)
class AuditFilter:
    """What the reader asked for: raw values (to show back and link with) and the parsed bounds."""

    raw: dict[str, str] = field(default_factory=dict)
    actor: str = ""
    action: str = ""
    target: str = ""
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC

    @property
    def args(self) -> dict[str, str]:
        """The non-empty filter values, for links (next page, CSV export) and the export's audit record."""
        return {k: v for k, v in self.raw.items() if v}


def parse_filter(args: Mapping[str, str], *, zone: tzinfo = UTC) -> AuditFilter:
    """Read the filter from query arguments; a bad value raises ValidationFailed naming the field."""
    raw = {name: (args.get(name) or "").strip() for name in FILTER_FIELDS}
    errors: dict[str, list[str]] = {}
    for name in ("actor", "action", "target"):
        if len(raw[name]) > MAX_TEXT:
            errors[name] = [f"Use at most {MAX_TEXT} characters."]
    since = _parse_when(raw["from"], zone, end=False, errors=errors, name="from")
    until = _parse_when(raw["to"], zone, end=True, errors=errors, name="to")
    if since and until and until <= since:
        errors.setdefault("to", []).append("The “to” time must be after the “from” time.")
    if errors:
        raise ValidationFailed(errors)
    return AuditFilter(raw=raw, actor=raw["actor"], action=raw["action"].rstrip("."), target=raw["target"],
                       since=since, until=until)


def _parse_when(raw: str, zone: tzinfo, *, end: bool, errors: dict, name: str) -> datetime | None:
    # A bound is as precise as it was typed: "to 14:30" takes in the whole of that minute and
    # "to 2026-03-01" the whole day, so the upper bound becomes the exclusive start of the next unit.
    if not raw:
        return None
    try:
        if len(raw) == 10:
            value, step = datetime.combine(date.fromisoformat(raw), time()), timedelta(days=1)
        else:
            value = datetime.fromisoformat(raw)
            step = timedelta(minutes=1) if _MINUTE_PRECISION.match(raw) else timedelta(microseconds=1)
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        value = value.astimezone(UTC)
        return value + step if end else value
    except (ValueError, OverflowError):
        label = "“from”" if name == "from" else "“to”"
        errors[name] = [f"The {label} time is not a valid date and time. {_WHEN_HINT}"]
        return None


def tenant_records(tenant) -> sa.Select:
    """Every record of the tenant's own chain.

    Filtered explicitly because AuditRecord is not TenantScoped (see the module docstring). The
    chain condition matches the chain `verify()` walks, and the (chain, seq) unique index serves
    the newest-first keyset paging.
    """
    return sa.select(AuditRecord).where(AuditRecord.tenant_id == tenant.id, AuditRecord.chain == str(tenant.id))


def filtered_records(tenant, flt: AuditFilter) -> sa.Select:
    """The tenant's records matching the filter (unordered: the caller pages or streams them)."""
    stmt = tenant_records(tenant)
    if flt.actor:
        stmt = stmt.where(sa.or_(AuditRecord.actor_label.icontains(flt.actor, autoescape=True),
                                 AuditRecord.actor_id == flt.actor))
    if flt.action:
        # An action ("auth.login") or a whole family ("auth" or "auth."), never "auth.login_failed"
        # for "auth.login": families are whole dotted segments.
        stmt = stmt.where(sa.or_(AuditRecord.action == flt.action,
                                 AuditRecord.action.startswith(flt.action + ".", autoescape=True)))
    if flt.target:
        stmt = stmt.where(sa.or_(AuditRecord.target_label.icontains(flt.target, autoescape=True),
                                 AuditRecord.target_id == flt.target,
                                 AuditRecord.target_type == flt.target.lower()))
    if flt.since:
        stmt = stmt.where(AuditRecord.at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditRecord.at < flt.until)
    return stmt


def tenant_actions(tenant) -> list[str]:
    """The actions that occur in the tenant's log, for the filter's choices."""
    stmt = (sa.select(AuditRecord.action).distinct()
            .where(AuditRecord.tenant_id == tenant.id, AuditRecord.chain == str(tenant.id))
            .order_by(AuditRecord.action))
    return list(db.session.scalars(stmt))


def action_families(actions: list[str]) -> list[tuple[str, list[str]]]:
    """Group actions by their first segment: [("auth", ["auth.login", ...]), ...]."""
    families: dict[str, list[str]] = {}
    for action in actions:
        families.setdefault(action.split(".", 1)[0], []).append(action)
    return sorted(families.items())


def compact_json(value) -> str:
    """A before/after summary on one line, keys sorted (escaped by the template, not here)."""
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# --- CSV export ----------------------------------------------------------------------------

CSV_COLUMNS = ("seq", "time_utc", "actor_kind", "actor_id", "actor_label", "action", "target_type",
               "target_id", "target_label", "ip", "request_id", "before", "after", "prev_hash", "hash")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int:
    """Neutralise spreadsheet formulas: text starting with = + - @ (or tab, CR) gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(r: AuditRecord) -> list:
    values = [r.seq, r.at.astimezone(UTC).isoformat(timespec="microseconds"), r.actor_kind, r.actor_id,
              r.actor_label, r.action, r.target_type, r.target_id, r.target_label, r.ip, r.request_id,
              compact_json(r.before), compact_json(r.after), r.prev_hash, r.hash]
    return [safe_cell(v) for v in values]


def iter_csv(stmt: sa.Select, *, chunk_rows: int = 500) -> Iterator[str]:
    """Stream the statement's records as CSV text, oldest first, a chunk at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    ordered = stmt.order_by(AuditRecord.seq).execution_options(yield_per=chunk_rows)
    for n, rec in enumerate(db.session.scalars(ordered), start=1):
        writer.writerow(_csv_row(rec))
        if n % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
