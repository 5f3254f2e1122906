"""SLA pages: breaches and MTTA/MTTR (/soc/sla), the targets admin page, the badge's clock, `vigil sla check`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import click
from flask import Blueprint, g, request, url_for

from app.core.actors import current_actor
from app.core.db import utcnow
from app.core.errors import ValidationFailed
from app.core.jinja import localtime
from app.core.permissions import require
from app.core.ui import render, respond_changed
from app.soc.sla import forms, jobs, queries, targets
from app.soc.sla.clock import Clock, human_minutes, human_seconds, subject_clock

bp = Blueprint("sla", __name__, url_prefix="/soc/sla", cli_group="sla")
bp.record_once(lambda state: jobs.register(state.app))

PAGE, RESULTS, ROWS = "soc/sla/sla.html", "soc/sla/_breaches.html", "soc/sla/_breach_rows.html"
TARGETS_PAGE, TARGETS_FORM = "soc/sla/targets.html", "soc/sla/_targets_form.html"
PAGE_SIZE = 50


def sla_targets_now() -> tuple[dict, datetime]:
    """The tenant's targets and "now", read once per request, not once per row."""
    cached = g.get("sla_targets_now")
    if cached is None:
        cached = g.sla_targets_now = (targets.current_targets(), utcnow())
    return cached


def sla_clock(subject) -> Clock:
    """The badge's clock."""
    return subject_clock(subject, *sla_targets_now())


@dataclass(frozen=True, slots=True)
class Badge:
    """What an SLA chip shows, as plain strings: a fragment key (core/fragments.py) can hold it."""

    state: str
    kind_label: str
    label: str  # minutes resolution above a minute, so a cached row changes once a minute, not per request
    due: str | None  # in the viewer's time zone


def sla_badge_of(subject) -> Badge | None:
    clock = sla_clock(subject)
    if not clock.has_target:
        return None
    return Badge(clock.state, clock.kind_label, clock.label,
                 localtime(clock.due_at, "%d %b %Y %H:%M") if clock.due_at else None)


@bp.app_context_processor
def _sla_globals():
    return {"sla_clock": sla_clock, "sla_badge_of": sla_badge_of, "human_minutes": human_minutes,
            "human_seconds": human_seconds}


# --- breaches and mean times ---------------------------------------------------------------


def _page_context(args) -> tuple[dict, int]:
    ctx = {"errors": {}, "breaches": [], "next_cursor": None, "args": {}, "windows": queries.WINDOWS,
           "window": queries.DEFAULT_WINDOW, "raw": {k: args.get(k, "") for k in ("kind", "severity", "subject_type")}}
    try:
        flt = queries.BreachFilter.from_args(args)
        ctx["breaches"], ctx["next_cursor"] = queries.breaches_page(flt, cursor=args.get("cursor") or None,
                                                                    limit=PAGE_SIZE)
    except ValidationFailed as exc:
        ctx["errors"] = exc.field_errors
        flt = queries.BreachFilter(window=ctx["window"])
        status = 422
    else:
        status = 200
    ctx |= {"filter": flt, "window": flt.window, "args": flt.args(), "window_links": [
        (w, url_for("sla.sla_page", **replace(flt, window=w).args())) for w in queries.WINDOWS]}
    return ctx, status


@bp.get("")
@require("alert:read")
def sla_page():
    ctx, status = _page_context(request.args)
    metrics = queries.mean_times(ctx["window"])
    return render(PAGE, RESULTS, status=status, metrics=metrics, counts=queries.breach_counts(ctx["window"]), **ctx)


@bp.get("/breaches")
@require("alert:read")
def breach_rows():
    """The next page of breaches for "Load more"; opened directly, the SLA page at that cursor."""
    ctx, status = _page_context(request.args)
    if status != 200:
        return sla_page()
    return render(PAGE, ROWS, metrics=queries.mean_times(ctx["window"]),
                  counts=queries.breach_counts(ctx["window"]), **ctx)


# --- targets -------------------------------------------------------------------------------


def _targets_context(fields, *, errors=None, error=None) -> dict:
    return {"fields": fields, "field_errors": errors or {}, "error": error, "units": forms.UNIT_LABELS,
            "current": targets.current_targets(), "severities": targets.SEVERITIES}


@bp.get("/targets")
@require("sla:manage")
def targets_page():
    return render(TARGETS_PAGE, **_targets_context(forms.fields_from_targets(targets.current_targets())))


@bp.post("/targets")
@require("sla:manage")
def targets_post():
    fields = forms.fields_from_form(request.form)
    changes, errors = forms.parse_fields(fields)
    try:
        if errors:  # report the service's checks on the fields that parsed too, all at once
            targets.validate_targets(changes)
            raise ValidationFailed(errors)
        targets.update_targets(changes, actor=current_actor())
    except ValidationFailed as exc:
        errors = {**exc.field_errors, **errors}
        return render(TARGETS_PAGE, TARGETS_FORM, status=422, **_targets_context(
            fields, errors=errors, error="Check the targets marked below; nothing was saved."))
    return respond_changed("SLA targets saved.", redirect_to=url_for("sla.targets_page"), fragment=TARGETS_FORM,
                           event="sla-targets-updated",
                           **_targets_context(forms.fields_from_targets(targets.current_targets())))


# --- command line --------------------------------------------------------------------------


@bp.cli.command("check")
@click.option("--full", is_flag=True, help="Also re-read alerts and cases finished more than two days ago.")
def check_command(full: bool) -> None:
    """Record SLA breaches in every tenant now (what the background job does every few minutes)."""
    from app.soc.sla.breaches import check_breaches

    counts = check_breaches(utcnow(), full=full)
    for slug, count in counts.items():
        click.echo(f"{slug}: {count} new breach{'' if count == 1 else 'es'}")
    click.echo(f"{sum(counts.values())} new in {len(counts)} tenant{'' if len(counts) == 1 else 's'}")
