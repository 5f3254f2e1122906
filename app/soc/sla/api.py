"""SLA routes of the API: targets (read; replace per severity), breaches, MTTA/MTTR metrics."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, request
from pydantic import BaseModel, ConfigDict, Field

from app.core.api import documented, ok, page_limit, parse_body
from app.core.permissions import require
from app.soc.sla import queries, targets
from app.soc.sla.models import SlaBreach

api_bp = Blueprint("sla_api", __name__)


class TargetOut(BaseModel):
    severity: str = Field(description="critical, high, medium, low or info")
    ack_minutes: int | None = Field(description="minutes to acknowledge; null: no target")
    resolve_minutes: int | None = Field(description="minutes to resolve; null: no target")
    is_default: bool = Field(description="true until an admin sets this severity's targets")


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: str = Field(description="critical, high, medium, low or info")
    ack_minutes: int | None = Field(default=None, description="whole minutes > 0; null or absent: no target")
    resolve_minutes: int | None = Field(default=None, description="whole minutes ≥ ack_minutes; null: no target")


class TargetsIn(BaseModel):
    """The severities to set; each one listed is replaced whole, the others keep their targets."""

    model_config = ConfigDict(extra="forbid")
    targets: list[TargetIn] = Field(min_length=1, max_length=5)


class BreachOut(BaseModel):
    id: str
    subject_type: str = Field(description="alert or case")
    subject_id: str
    subject_reference: str = Field(examples=["ALR-123", "CASE-42"])
    subject_title: str
    kind: str = Field(description="acknowledge or resolve")
    severity: str = Field(description="the subject's severity when the breach was recorded")
    target_minutes: int
    due_at: datetime
    detected_at: datetime

    @classmethod
    def of(cls, breach: SlaBreach) -> BreachOut:
        subject = breach.alert if breach.alert_id is not None else breach.case
        return cls(id=breach.public_id, subject_type=breach.subject_type.value, subject_id=subject.public_id,
                   subject_reference=subject.reference, subject_title=subject.title, kind=breach.kind.value,
                   severity=breach.severity.value, target_minutes=breach.target_minutes, due_at=breach.due_at,
                   detected_at=breach.detected_at)


class SeverityTimes(BaseModel):
    severity: str = Field(description="a severity, or `all` for every severity together")
    count: int = Field(description="created in the window")
    ack_target_minutes: int | None
    resolve_target_minutes: int | None
    acknowledged: int
    mtta_seconds: int | None = Field(description="mean time to acknowledge; null when none was acknowledged")
    ack_within_target_pct: float | None = Field(description="share acknowledged in time, of those acknowledged or "
                                                            "overdue; null without a target")
    resolved: int
    mttr_seconds: int | None = Field(description="mean time to resolve (close)")
    resolve_within_target_pct: float | None


class MetricsOut(BaseModel):
    window_days: int
    since: datetime
    until: datetime
    alerts: list[SeverityTimes]
    cases: list[SeverityTimes]


def _targets_out() -> list[dict]:
    return [t.as_dict() for t in targets.current_targets().values()]


@api_bp.get("/sla/targets")
@require("alert:read")
@documented(response=TargetOut, tag="sla")
def sla_targets_get():
    """The tenant's SLA targets for every severity, defaults included (`is_default`)."""
    return ok(_targets_out())


@api_bp.put("/sla/targets")
@require("sla:manage")
@documented(body=TargetsIn, response=TargetOut, tag="sla")
def sla_targets_put():
    """Replace the targets of the listed severities (admins); 422 names each bad field as `severity.field`."""
    body = parse_body(TargetsIn)
    changes = {t.severity: {"ack_minutes": t.ack_minutes, "resolve_minutes": t.resolve_minutes}
               for t in body.targets}
    targets.update_targets(changes, actor=g.actor)
    return ok(_targets_out())


@api_bp.get("/sla/breaches")
@require("alert:read")
@documented(response=BreachOut, paged=True, tag="sla")
def sla_breaches_list():
    """Recorded breaches, most recent first: `?window=` 7, 30 (default) or 90 days of due times,
    `?kind=` acknowledge|resolve, `?severity=`, `?subject_type=` alert|case; cursor paging."""
    flt = queries.BreachFilter.from_args(request.args)
    rows, next_cursor = queries.breaches_page(flt, cursor=request.args.get("cursor"), limit=page_limit())
    return ok([BreachOut.of(b).model_dump(mode="json") for b in rows], next_cursor=next_cursor)


@api_bp.get("/sla/metrics")
@require("alert:read")
@documented(response=MetricsOut, tag="sla")
def sla_metrics():
    """MTTA and MTTR per severity for alerts and cases created in the last `?window=` 7, 30 or 90 days."""
    return ok(MetricsOut(**queries.mean_times(queries.parse_window(request.args.get("window")))).model_dump(
        mode="json"))
