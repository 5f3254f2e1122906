"""The audit log page: filter, page through, export as CSV, and verify the hash chain."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context

from app.audit import queries, services
from app.core.actors import current_actor
from app.core.api import paginate
from app.core.audit import AuditRecord
from app.core.db import utcnow
from app.core.errors import ValidationFailed
from app.core.permissions import require
from app.core.ui import render

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE = "audit/audit_log.html"


@bp.app_template_filter("audit_json")
def _audit_json(value) -> str:
    return queries.compact_json(value)


def _log_context(args) -> tuple[dict, int]:
    """Parse the filter and load one page; a bad filter is a 422 with the messages by field."""
    actor = current_actor()
    actions = queries.tenant_actions(actor.tenant)
    ctx = {"actions": queries.action_families(actions), "rows": [],
           "action_choices": set(actions) | {a.split(".", 1)[0] for a in actions},
           "next_cursor": None, "errors": {}, "cursor": args.get("cursor") or None,
           "raw": {name: (args.get(name) or "").strip() for name in queries.FILTER_FIELDS}, "args": {}}
    try:
        flt = queries.parse_filter(args, zone=actor.zone)
        ctx["rows"], ctx["next_cursor"] = paginate(queries.filtered_records(actor.tenant, flt), AuditRecord.seq,
                                                   limit=queries.PAGE_SIZE, cursor=ctx["cursor"])
    except ValidationFailed as exc:
        ctx["errors"] = exc.field_errors
        return ctx, 422
    ctx["args"] = flt.args
    return ctx, 200


@bp.get("/")
@require("audit:read")
def audit_log():
    ctx, status = _log_context(request.args)
    return render(PAGE, "audit/_results.html", status=status, verify=None, **ctx)


@bp.get("/rows")
@require("audit:read")
def audit_rows():
    """The next page of rows, appended by "Load more"; opened directly, the page at that cursor."""
    ctx, status = _log_context(request.args)
    return render(PAGE, "audit/_rows.html", status=status, verify=None, **ctx)


@bp.get("/export.csv")
@require("audit:read")
def export_csv():
    actor = current_actor()
    try:
        flt = queries.parse_filter(request.args, zone=actor.zone)
    except ValidationFailed:
        return audit_log()  # the page with the messages, 422
    upto = services.record_export(actor=actor, filters=flt.args)
    stmt = queries.filtered_records(actor.tenant, flt).where(AuditRecord.seq < upto)
    filename = f"audit-{actor.tenant.slug}-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(queries.iter_csv(stmt)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/verify")
@require("audit:read")
def verify_post():
    result = services.verify_chain(actor=current_actor())
    ctx, status = _log_context(request.args)
    return render(PAGE, "audit/_verify_result.html", status=status, verify=result, **ctx)
