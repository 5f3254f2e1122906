"""Evidence: files (content-addressed, type sniffed from the bytes) and links, review, expiry, renewals."""

from __future__ import annotations

import json
import zipfile
from datetime import date, timedelta
from io import BytesIO
from urllib.parse import urlparse

import sqlalchemy as sa
from flask import current_app

from app.compliance.models import (
    Control,
    Evidence,
    EvidenceKind,
    EvidenceLink,
    ReviewStatus,
)
from app.core import audit, storage
from app.core.actors import Actor
from app.core.db import atomic, db, utcnow
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import authorize

RENEWAL_WINDOW_DAYS = 30
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
SNIFF_BYTES = 8192

# What a compliance officer files as evidence, by what the bytes are (never by the name alone).
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "text/plain": "plain text",
    "text/csv": "CSV",
    "application/json": "JSON",
    "application/zip": "ZIP archive",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel workbook",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint deck",
}
# The extensions each sniffed type may carry: a PNG named report.pdf is refused as a mismatch.
EXTENSIONS = {
    "application/pdf": {".pdf"}, "image/png": {".png"}, "image/jpeg": {".jpg", ".jpeg"},
    "text/plain": {".txt", ".log", ".md", ".yaml", ".yml", ".conf", ".ini", ""}, "text/csv": {".csv", ".txt"},
    "application/json": {".json", ".txt"}, "application/zip": {".zip"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {".xlsx"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
}
_OOXML = {"word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
          "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


def _sniff_zip(data: bytes) -> str:
    try:
        names = zipfile.ZipFile(BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return "application/zip"
    for prefix, kind in _OOXML.items():
        if any(n.startswith(prefix) for n in names):
            return kind
    return "application/zip"


def _sniff_text(head: bytes, whole: bytes | None) -> str:
    try:
        text = (whole if whole is not None else head).decode("utf-8")
    except UnicodeDecodeError:
        if whole is None:  # the cut may split a character; judge the head without its last bytes
            try:
                text = head[:-4].decode("utf-8")
            except UnicodeDecodeError:
                return "application/octet-stream"
        else:
            return "application/octet-stream"
    if "\x00" in text:
        return "application/octet-stream"
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html", "<script", "<svg", "<?xml")):
        return "text/html"  # markup that a browser would run: never accepted as evidence
    if whole is not None and start[:1] in "{[":
        try:
            json.loads(text)
            return "application/json"
        except ValueError:
            pass
    lines = [line for line in text.splitlines()[:5] if line.strip()]
    if len(lines) >= 2 and all(line.count(",") >= 1 for line in lines) and \
            len({line.count(",") for line in lines}) == 1:
        return "text/csv"
    return "text/plain"


def sniff(data: bytes, *, complete: bool) -> str:
    """The content type the bytes really are (magic numbers first, then text heuristics)."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data) if complete else "application/zip"
    if data.startswith((b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")):
        return "application/x-executable"
    return _sniff_text(data[:SNIFF_BYTES], data if complete else None)


def _filename(name: str | None) -> str:
    from app.soc.cases.services import safe_filename

    return safe_filename(name)


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _check_file(name: str, data: bytes) -> str:
    kind = sniff(data, complete=True)
    if kind not in ALLOWED_TYPES:
        raise ValidationFailed({"file": [f"This file's content is {kind}, which is not accepted as evidence. "
                                         f"Upload a PDF, image, text, CSV, JSON, ZIP or Office document."]})
    if _extension(name) not in EXTENSIONS[kind]:
        raise ValidationFailed({"file": [f"The file is named {name!r} but its content is {ALLOWED_TYPES[kind]}; "
                                         "rename it or upload the right file."]})
    return kind


def _dates(valid_from, valid_until) -> tuple[date, date | None]:
    def parse(value, name):
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ValidationFailed({name: ["Use a date as YYYY-MM-DD."]})

    end = parse(valid_until, "valid_until")
    start = parse(valid_from, "valid_from") or min(utcnow().date(), end or utcnow().date())
    if end is not None and end < start:
        raise ValidationFailed({"valid_until": ["The evidence cannot expire before it becomes valid."]})
    return start, end


def _controls(control_ids: list[str]) -> list[Control]:
    ids = [str(c) for c in control_ids if c]
    if not ids:
        return []
    controls = list(db.session.scalars(sa.select(Control).where(Control.public_id.in_(ids))))
    if len(controls) != len(set(ids)):
        raise ValidationFailed({"controls": ["One of the controls does not exist in this workspace."]})
    return controls


def _link(evidence: Evidence, controls: list[Control]) -> None:
    have = set(db.session.scalars(sa.select(EvidenceLink.control_id).where(EvidenceLink.evidence_id == evidence.id)))
    for control in controls:
        if control.id not in have:
            db.session.add(EvidenceLink(evidence_id=evidence.id, control_id=control.id))


def _snapshot(evidence: Evidence, controls: list[Control]) -> dict:
    return {"evidence": evidence.public_id, "title": evidence.title, "kind": evidence.kind.value,
            "sha256": evidence.sha256, "size": evidence.size, "content_type": evidence.content_type,
            "url": evidence.url, "valid_until": evidence.valid_until, "controls": [c.key for c in controls]}


def _title(title: str | None, fallback: str) -> str:
    return ((title or "").strip() or fallback)[:300]


@atomic
def upload_evidence(*, actor: Actor, filename: str, stream, title: str = "", description: str = "",
                    control_ids: list[str] = (), valid_from=None, valid_until=None,
                    source_attachment_id: int | None = None) -> Evidence:
    """Store a file as evidence after checking what its bytes are and how big it is."""
    authorize(actor, "compliance:write")
    name = _filename(filename)
    max_bytes = int(current_app.config.get("VIGIL_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))
    data = stream if isinstance(stream, bytes) else stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationFailed({"file": [f"The file is larger than the limit of {max_bytes:,} bytes."]})
    if not data:
        raise ValidationFailed({"file": ["Choose a file to upload; this one is empty."]})
    kind = _check_file(name, data)
    controls = _controls(list(control_ids))
    start, end = _dates(valid_from, valid_until)
    stored = storage.store(actor.tenant.public_id, data, content_type=kind, allowed_types=ALLOWED_TYPES,
                           max_bytes=max_bytes)
    evidence = Evidence(title=_title(title, name), kind=EvidenceKind.FILE, description=description or "",
                        filename=name, content_type=kind, size=stored.size, sha256=stored.sha256,
                        storage_key=stored.key, valid_from=start, valid_until=end,
                        source_attachment_id=source_attachment_id, uploaded_by_label=actor.label[:320])
    db.session.add(evidence)
    try:
        db.session.flush()
    except Exception:
        if stored.created:
            storage.discard(stored.key)
        raise
    _link(evidence, controls)
    audit.record("compliance.evidence_uploaded", actor=actor, target=evidence, after=_snapshot(evidence, controls))
    return evidence


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.netloc or len(url) > 2000:
        raise ValidationFailed({"url": ["Give a full http(s) link, e.g. https://jira.example.com/browse/SEC-12."]})
    return url


@atomic
def link_evidence(*, actor: Actor, url: str, title: str, description: str = "", control_ids: list[str] = (),
                  valid_from=None, valid_until=None) -> Evidence:
    """Record a link (document, ticket, dashboard) as evidence."""
    authorize(actor, "compliance:write")
    url = _check_url(url)
    if not (title or "").strip():
        raise ValidationFailed({"title": ["Say what the link shows."]})
    controls = _controls(list(control_ids))
    start, end = _dates(valid_from, valid_until)
    evidence = Evidence(title=_title(title, url), kind=EvidenceKind.LINK, url=url, description=description or "",
                        valid_from=start, valid_until=end, uploaded_by_label=actor.label[:320])
    db.session.add(evidence)
    db.session.flush()
    _link(evidence, controls)
    audit.record("compliance.evidence_linked", actor=actor, target=evidence, after=_snapshot(evidence, controls))
    return evidence


@atomic
def attach_evidence(evidence: Evidence, controls: list[Control], *, actor: Actor) -> None:
    """Attach the same evidence to more controls."""
    authorize(actor, "compliance:write")
    _link(evidence, controls)
    audit.record("compliance.evidence_attached", actor=actor, target=evidence,
                 after={"controls": [c.key for c in controls]})


@atomic
def detach_evidence(evidence: Evidence, control: Control, *, actor: Actor) -> None:
    authorize(actor, "compliance:write")
    link = db.session.scalar(sa.select(EvidenceLink).where(EvidenceLink.evidence_id == evidence.id,
                                                           EvidenceLink.control_id == control.id))
    if link is not None:
        db.session.delete(link)
        audit.record("compliance.evidence_detached", actor=actor, target=evidence, before={"control": control.key})


@atomic
def review_evidence(evidence: Evidence, *, actor: Actor, decision: str, comment: str = "") -> Evidence:
    """Accept or reject evidence (compliance role); a rejection needs a comment."""
    authorize(actor, "compliance:write")
    if decision not in (ReviewStatus.ACCEPTED, ReviewStatus.REJECTED):
        raise ValidationFailed({"decision": ["Choose accept or reject."]})
    comment = (comment or "").strip()
    if decision == ReviewStatus.REJECTED and not comment:
        raise ValidationFailed({"comment": ["Say why the evidence is rejected, so it can be fixed."]})
    before = {"review_status": evidence.review_status.value, "comment": evidence.review_comment or None}
    evidence.review_status = ReviewStatus(decision)
    evidence.review_comment = comment
    evidence.reviewed_by_label = actor.label[:320]
    evidence.reviewed_at = utcnow()
    audit.record(f"compliance.evidence_{decision}", actor=actor, target=evidence, before=before,
                 after={"review_status": evidence.review_status.value, "comment": comment or None})
    return evidence


@atomic
def set_validity(evidence: Evidence, *, actor: Actor, valid_from=None, valid_until=None) -> Evidence:
    """Change the validity period (a renewed document keeps its file but gets a new window)."""
    authorize(actor, "compliance:write")
    before = {"valid_from": evidence.valid_from, "valid_until": evidence.valid_until}
    evidence.valid_from, evidence.valid_until = _dates(valid_from or evidence.valid_from, valid_until)
    evidence.renewal_flagged_at = None
    audit.record("compliance.evidence_validity_changed", actor=actor, target=evidence, before=before,
                 after={"valid_from": evidence.valid_from, "valid_until": evidence.valid_until})
    return evidence


def controls_of(evidence: Evidence) -> list[Control]:
    return list(db.session.scalars(sa.select(Control).join(EvidenceLink, EvidenceLink.control_id == Control.id)
                                   .where(EvidenceLink.evidence_id == evidence.id).order_by(Control.key)))


# --- renewals ------------------------------------------------------------------------------


def renewals_due(on: date | None = None) -> sa.Select:
    """Accepted evidence expiring within the renewal window, or already expired, soonest first."""
    on = on or utcnow().date()
    return (sa.select(Evidence).where(Evidence.valid_until.isnot(None),
                                      Evidence.valid_until <= on + timedelta(days=RENEWAL_WINDOW_DAYS),
                                      Evidence.review_status == ReviewStatus.ACCEPTED)
            .order_by(Evidence.valid_until, Evidence.id))


@atomic
def flag_renewals(*, tenant, on: date | None = None) -> list[Evidence]:
    """Mark evidence due within 30 days (the daily job); each newly flagged or expired item is audited."""
    on = on or utcnow().date()
    flagged = []
    for evidence in db.session.scalars(renewals_due(on).where(Evidence.renewal_flagged_at.is_(None))):
        evidence.renewal_flagged_at = utcnow()
        flagged.append(evidence)
        action = "compliance.evidence_expired" if evidence.is_expired(on) else "compliance.evidence_renewal_due"
        audit.record(action, actor=None, tenant=tenant, actor_label="scheduler", target=evidence,
                     after={"valid_until": evidence.valid_until})
    return flagged


# --- from a SOC case -----------------------------------------------------------------------


@atomic
def promote_attachment(attachment, *, actor: Actor, control_ids: list[str] = (), title: str = "",
                       valid_until=None) -> Evidence:
    """Turn a case attachment into compliance evidence (same stored bytes, checked again as evidence)."""
    authorize(actor, "compliance:write")
    authorize(actor, "case:read")
    if db.session.scalar(sa.select(Evidence.id).where(Evidence.source_attachment_id == attachment.id)):
        raise Conflict("That attachment is already evidence.")
    with open(storage.path_for(attachment.storage_key), "rb") as handle:
        data = handle.read()
    return upload_evidence(actor=actor, filename=attachment.filename, stream=data,
                           title=title or attachment.filename, control_ids=control_ids, valid_until=valid_until,
                           description=f"Promoted from a case attachment (sha256 {attachment.sha256}).",
                           source_attachment_id=attachment.id)
