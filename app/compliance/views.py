"""Compliance pages: frameworks and their trees, requirements, controls, evidence, renewals, gaps, tasks."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, render_template, request, send_file, url_for
from markupsafe import Markup

from app.compliance import cache, oscal, queries, scores, services
from app.compliance import evidence as evidence_service
from app.compliance.models import Control, ControlStatus, Evidence, ReviewStatus
from app.core.actors import current_actor
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.permissions import require
from app.core.tenancy import get_or_404
from app.core.ui import render, respond_changed, respond_refused
from app.governance.policies_services import policies_covering

bp = Blueprint("compliance", __name__, url_prefix="/compliance")


@bp.record_once
def _schedule(state) -> None:
    from app.compliance.jobs import register_tasks

    register_tasks(state.app.extensions["huey"])


@bp.app_context_processor
def _labels():
    return {"control_status_labels": services.STATUS_LABELS, "cadences": services.CADENCES}


# --- frameworks ----------------------------------------------------------------------------


@bp.get("/")
@require("compliance:read")
def frameworks():
    return render("compliance/frameworks.html", rows=queries.framework_rows())


def _framework_ctx(fw, flt, *, status=200, error=None, open_refs=frozenset()):
    open_refs = frozenset(request.args.getlist("open")) | frozenset(open_refs)
    expand_all = request.args.get("expand") == "all"
    tenant = current_actor().tenant
    adoption = services.adoption_of(fw)
    # The tree, score and trend of a big catalog cost tens of milliseconds to compute and render;
    # they change only with the tenant's compliance state, the library file and the day.
    key = ("framework-page", tenant.public_id, fw.public_id, fw.content_hash, cache.state_version(tenant.id),
           scores.today(), tuple(sorted(flt.args().items())), open_refs, expand_all, error)

    def compute():
        tree = queries.framework_tree(fw, flt, open_refs=open_refs, expand_all=expand_all)
        html = Markup(render_template("compliance/_tree.html", framework=fw, tree=tree, flt=flt, adoption=adoption,  # noqa: S704 — our autoescaped template
                                      error=error))
        return tree, html, scores.scores([fw.id])[fw.id], scores.trend(fw)

    tree, tree_html, score, trend = cache.cached(key, compute)
    return {"framework": fw, "tree": tree, "tree_html": tree_html, "flt": flt, "adoption": adoption, "score": score,
            "members": queries.members(), "trend": trend, "error": error}, status


@bp.get("/frameworks/<key>")
@require("compliance:read")
def framework(key: str):
    fw = services.framework_by_key(key)
    try:
        ctx, status = _framework_ctx(fw, queries.parse_tree_filter(request.args))
    except ValidationFailed as exc:
        ctx, status = _framework_ctx(fw, queries.TreeFilter(), status=422, error=exc.message)
    return render("compliance/framework.html", "compliance/_tree_cached.html", status=status, **ctx)


@bp.get("/requirements/<req_id>/children")
@require("compliance:read")
def framework_node(req_id: str):
    """A group's children, loaded when it is expanded; opened directly, the framework page with it open."""
    node = services.requirement_by_id(req_id)
    ctx, _status = _framework_ctx(node.framework, queries.TreeFilter(), open_refs={node.ref})
    tree_node = ctx["tree"].by_public_id.get(node.public_id)
    if tree_node is None or tree_node.is_leaf:
        raise NotFound("That is not a group of requirements.")
    return render("compliance/framework.html", "compliance/_tree_children.html", node=tree_node, **ctx)


@bp.get("/frameworks/<key>/adopt")
@require("compliance:write")
def adopt(key: str):
    fw = services.framework_by_key(key)
    return render("compliance/adopt.html", framework=fw, proposals=services.proposed_controls(fw),
                  adoption=services.adoption_of(fw), short_names=queries.short_names())


@bp.post("/frameworks/<key>/adopt")
@require("compliance:write")
def adopt_post(key: str):
    fw = services.framework_by_key(key)
    chosen = request.form.getlist("control")
    try:
        services.adopt_framework(fw, actor=current_actor(), template_keys=chosen)
    except DomainError as exc:
        return respond_refused(exc, "compliance/adopt.html", framework=fw, short_names=queries.short_names(),
                               proposals=services.proposed_controls(fw), adoption=services.adoption_of(fw))
    return respond_changed(f"{fw.short_name} adopted with {len(chosen)} proposed controls.",
                           redirect_to=url_for(".framework", key=fw.key))


# --- gaps ----------------------------------------------------------------------------------


@bp.get("/frameworks/<key>/gaps")
@require("compliance:read")
def gaps(key: str):
    fw = services.framework_by_key(key)
    return render("compliance/gaps.html", framework=fw, gaps=scores.gaps(fw), score=scores.scores([fw.id])[fw.id])


@bp.get("/frameworks/<key>/gaps.csv")
@require("compliance:read")
def gaps_csv(key: str):
    fw = services.framework_by_key(key)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["framework", "requirement", "title", "why", "owner", "due date"])
    for gap in scores.gaps(fw):
        writer.writerow([fw.key, _csv_safe(gap.ref), _csv_safe(gap.title), "; ".join(gap.reasons),
                         gap.owner_label or "", gap.due_date.isoformat() if gap.due_date else ""])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{fw.key}-gaps.csv"'})


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets; quote it as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@bp.post("/frameworks/<key>/gaps/tasks")
@require("compliance:write")
def gap_tasks_post(key: str):
    fw = services.framework_by_key(key)
    tasks = services.create_gap_tasks(fw, scores.gaps(fw), actor=current_actor())
    return respond_changed(f"{len(tasks)} tasks created for the gaps of {fw.short_name}.",
                           redirect_to=url_for(".tasks"))


@bp.get("/frameworks/<key>/assessment-results.json")
@require("compliance:read")
def oscal_results(key: str):
    fw = services.framework_by_key(key)
    document = oscal.assessment_results(fw, tenant=current_actor().tenant)
    return Response(json.dumps(document, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{fw.key}-assessment-results.json"'})


@bp.get("/import")
@require("compliance:write")
def oscal_import():
    return render("compliance/import.html", error=None)


@bp.post("/import")
@require("compliance:write")
def oscal_import_post():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed({"file": ["Choose an OSCAL catalog JSON file."]})
        fw = oscal.import_catalog(upload.read(), actor=current_actor())
    except DomainError as exc:
        return render("compliance/import.html", status=exc.status, error=exc.message)
    return respond_changed(f"Imported {fw.name}.", redirect_to=url_for(".framework", key=fw.key))


# --- requirements --------------------------------------------------------------------------


def _requirement_ctx(req, **extra):
    controls = queries.controls_for_requirement(req)
    return {"requirement": req, "controls": controls,
            "evidence": queries.evidence_by_control(c.id for c in controls),
            "ev_state": scores.evidence_state([c.id for c in controls]),
            "state": scores.requirement_states(req.framework_id).get(req.id), "today": scores.today(),
            "all_controls": queries.control_list(), "error": None, **extra}


@bp.get("/requirements/<req_id>")
@require("compliance:read")
def requirement(req_id: str):
    return render("compliance/requirement.html", **_requirement_ctx(services.requirement_by_id(req_id)))


@bp.post("/requirements/<req_id>/controls")
@require("compliance:write")
def requirement_map_post(req_id: str):
    req = services.requirement_by_id(req_id)
    try:
        control = get_or_404(Control, request.form.get("control", ""))
        services.map_control(control, req, actor=current_actor())
    except DomainError as exc:
        return respond_refused(exc, "compliance/requirement.html", **_requirement_ctx(req))
    return respond_changed(f"{control.key} mapped to {req.ref}.", redirect_to=url_for(".requirement", req_id=req_id))


@bp.post("/requirements/<req_id>/controls/<control_id>/remove")
@require("compliance:write")
def requirement_unmap_post(req_id: str, control_id: str):
    req = services.requirement_by_id(req_id)
    control = get_or_404(Control, control_id)
    services.unmap_control(control, req, actor=current_actor())
    return respond_changed(f"{control.key} no longer mapped to {req.ref}.",
                           redirect_to=url_for(".requirement", req_id=req_id))


# --- controls ------------------------------------------------------------------------------


@bp.get("/controls")
@require("compliance:read")
def controls():
    args = {k: (request.args.get(k) or "").strip() for k in ("status", "owner", "q")}
    rows = queries.control_list(**args)
    return render("compliance/controls.html", "compliance/_control_rows.html", controls=rows, args=args,
                  counts=queries.control_counts([c.id for c in rows]), members=queries.members())


@bp.post("/controls")
@require("compliance:write")
def control_create_post():
    form = request.form
    try:
        control = services.create_control(actor=current_actor(), key=form.get("key", ""), name=form.get("name", ""),
                                          description=form.get("description", ""), owner_id=form.get("owner"))
    except ValidationFailed as exc:
        rows = queries.control_list()
        return render("compliance/controls.html", status=422, controls=rows, args={}, members=queries.members(),
                      counts=queries.control_counts([c.id for c in rows]), create_errors=exc.field_errors,
                      create_values=form)
    return respond_changed(f"{control.key} created.", redirect_to=url_for(".control", control_id=control.public_id))


def _control_ctx(control, *, errors=None, values=None, status_code=200):
    actor = current_actor()
    ev = queries.evidence_by_control([control.id]).get(control.id, [])
    return {"control": control, "frameworks": queries.requirements_of_control(control), "evidence": ev,
            "history": queries.control_history(actor.tenant, control), "members": queries.members(),
            "errors": errors or {}, "values": values, "today": scores.today(),
            "reason": scores.control_reason(control, scores.evidence_state([control.id]).get(control.id)),
            "other_evidence": [e for e in queries.evidence_list() if e.id not in {x.id for x in ev}][:50],
            "statuses": list(ControlStatus), "policies": policies_covering(control)}


@bp.get("/controls/<control_id>")
@require("compliance:read")
def control(control_id: str):
    return render("compliance/control.html", **_control_ctx(get_or_404(Control, control_id)))


@bp.post("/controls/<control_id>")
@require("compliance:write")
def control_update_post(control_id: str):
    control = get_or_404(Control, control_id)
    form = request.form
    try:
        services.update_control(control, actor=current_actor(), status=form.get("status", control.status.value),
                                justification=form.get("justification", ""), owner_id=form.get("owner") or None,
                                due_date=form.get("due_date") or None,
                                review_cadence_days=form.get("review_cadence_days") or None)
    except ValidationFailed as exc:
        from app.core.db import db

        db.session.rollback()
        control = get_or_404(Control, control_id)
        return render("compliance/control.html", "compliance/_control_form.html", status=422,
                      **_control_ctx(control, errors=exc.field_errors, values=form))
    return respond_changed(f"{control.key} saved.", redirect_to=url_for(".control", control_id=control_id),
                           fragment="compliance/_control_form.html", event="control-updated",
                           **_control_ctx(control))


# --- evidence ------------------------------------------------------------------------------


def _evidence_values(form) -> dict:
    return {"title": form.get("title", ""), "description": form.get("description", ""),
            "control_ids": form.getlist("control"), "valid_from": form.get("valid_from") or None,
            "valid_until": form.get("valid_until") or None}


@bp.post("/evidence")
@require("compliance:write")
def evidence_add_post():
    """Upload a file or record a link; back to the control it was added from, if any."""
    form = request.form
    back = form.get("next_control")
    try:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            ev = evidence_service.upload_evidence(actor=current_actor(), filename=upload.filename,
                                                  stream=upload.stream, **_evidence_values(form))
        else:
            ev = evidence_service.link_evidence(actor=current_actor(), url=form.get("url", ""),
                                                **_evidence_values(form))
    except ValidationFailed as exc:
        if back:
            control = get_or_404(Control, back)
            return render("compliance/control.html", status=422,
                          **_control_ctx(control, errors={f"evidence_{k}": v for k, v in exc.field_errors.items()},
                                         values=form))
        return render("compliance/evidence_list.html", status=422, rows=queries.evidence_list(), review="",
                      links={}, errors=exc.field_errors, today=scores.today())
    target = url_for(".control", control_id=back) if back else url_for(".evidence_detail", evidence_id=ev.public_id)
    return respond_changed(f"Evidence “{ev.title}” added; it counts once accepted.", redirect_to=target)


@bp.get("/evidence")
@require("compliance:read")
def evidence_list():
    review = request.args.get("review", "")
    if review not in ("", *[s.value for s in ReviewStatus]):
        review = ""
    rows = queries.evidence_list(review=review)
    return render("compliance/evidence_list.html", rows=rows, review=review,
                  links=queries.controls_by_evidence([e.id for e in rows]), errors={}, today=scores.today())


def _evidence_ctx(ev, **extra):
    return {"evidence": ev, "controls": evidence_service.controls_of(ev), "today": scores.today(),
            "history": queries.evidence_history(current_actor().tenant, ev), "errors": {},
            "all_controls": queries.control_list(), **extra}


@bp.get("/evidence/<evidence_id>")
@require("compliance:read")
def evidence_detail(evidence_id: str):
    return render("compliance/evidence.html", **_evidence_ctx(get_or_404(Evidence, evidence_id)))


@bp.get("/evidence/<evidence_id>/download")
@require("compliance:read")
def evidence_download(evidence_id: str):
    ev = get_or_404(Evidence, evidence_id)
    if ev.storage_key is None:
        raise NotFound("This evidence is a link, not a file.")
    from app.core import storage

    response = send_file(storage.path_for(ev.storage_key), mimetype=ev.content_type, as_attachment=True,
                         download_name=ev.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/evidence/<evidence_id>/review")
@require("compliance:write")
def evidence_review_post(evidence_id: str):
    ev = get_or_404(Evidence, evidence_id)
    back = request.form.get("next_control")
    try:
        evidence_service.review_evidence(ev, actor=current_actor(), decision=request.form.get("decision", ""),
                                         comment=request.form.get("comment", ""))
    except ValidationFailed as exc:
        return render("compliance/evidence.html", status=422, **_evidence_ctx(ev, errors=exc.field_errors))
    target = url_for(".control", control_id=back) if back else url_for(".evidence_detail", evidence_id=evidence_id)
    return respond_changed(f"Evidence {ev.review_status.value}.", redirect_to=target)


@bp.post("/evidence/<evidence_id>/controls")
@require("compliance:write")
def evidence_attach_post(evidence_id: str):
    ev = get_or_404(Evidence, evidence_id)
    controls = [get_or_404(Control, cid) for cid in request.form.getlist("control") if cid]
    evidence_service.attach_evidence(ev, controls, actor=current_actor())
    back = request.form.get("next_control")
    target = url_for(".control", control_id=back) if back else url_for(".evidence_detail", evidence_id=evidence_id)
    return respond_changed("Evidence attached.", redirect_to=target)


@bp.post("/evidence/<evidence_id>/validity")
@require("compliance:write")
def evidence_validity_post(evidence_id: str):
    ev = get_or_404(Evidence, evidence_id)
    try:
        evidence_service.set_validity(ev, actor=current_actor(), valid_from=request.form.get("valid_from") or None,
                                      valid_until=request.form.get("valid_until") or None)
    except ValidationFailed as exc:
        return render("compliance/evidence.html", status=422, **_evidence_ctx(ev, errors=exc.field_errors))
    return respond_changed("Validity updated.", redirect_to=url_for(".evidence_detail", evidence_id=evidence_id))


@bp.post("/evidence/from-attachment/<attachment_id>")
@require("compliance:write")
def evidence_promote_post(attachment_id: str):
    """Make a SOC case attachment compliance evidence (then attach it to controls on its page)."""
    from app.soc.cases.models import Attachment

    attachment = get_or_404(Attachment, attachment_id)
    ev = evidence_service.promote_attachment(attachment, actor=current_actor())
    return respond_changed(f"“{attachment.filename}” is now compliance evidence; attach it to controls here.",
                           redirect_to=url_for(".evidence_detail", evidence_id=ev.public_id))


@bp.get("/renewals")
@require("compliance:read")
def renewals():
    from app.core.db import db

    rows = list(db.session.scalars(evidence_service.renewals_due()))
    return render("compliance/renewals.html", rows=rows, today=scores.today(),
                  links=queries.controls_by_evidence([e.id for e in rows]))


# --- tasks ---------------------------------------------------------------------------------


@bp.get("/tasks")
@require("compliance:read")
def tasks():
    return render("compliance/tasks.html", tasks=queries.open_tasks())


@bp.post("/tasks/<task_id>/done")
@require("compliance:write")
def task_done_post(task_id: str):
    from app.compliance.models import ComplianceTask

    task = get_or_404(ComplianceTask, task_id)
    services.complete_task(task, actor=current_actor())
    return respond_changed("Task done.", redirect_to=url_for(".tasks"))
