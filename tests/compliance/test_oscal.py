"""OSCAL: catalog import (with the first schema problem named) and assessment-results export (validated)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.compliance import evidence, oscal, scores, services
from app.compliance.models import Framework, Requirement
from app.core.db import db
from app.core.errors import ValidationFailed
from tests.compliance.builders import MINI_CATALOG, PDF


def _catalog() -> dict:
    return json.loads(MINI_CATALOG.read_text())


def test_import_maps_groups_to_categories_and_controls_with_enhancements_to_requirements(officer):
    fw = oscal.import_catalog(MINI_CATALOG.read_bytes(), actor=officer)
    rows = list(db.session.scalars(sa.select(Requirement).where(Requirement.framework_id == fw.id)
                                   .order_by(Requirement.position)))
    assert [(r.ref, r.kind, r.is_leaf) for r in rows] == [
        ("AC", "category", False), ("AC-1", "control", True), ("AC-2", "control", True),
        ("AC-2.1", "enhancement", True), ("AU", "category", False), ("AU-2", "control", True)]
    assert rows[1].description == "Develop an access control policy."
    assert fw.owner_tenant_id == officer.tenant.id and fw.name == "Mini Security Catalog"


def test_an_imported_catalog_is_visible_to_its_tenant_only(officer, tenant_b):
    from app.core.errors import NotFound
    from app.core.tenancy import tenant_context

    fw = oscal.import_catalog(MINI_CATALOG.read_bytes(), actor=officer)
    with tenant_context(tenant_b), pytest.raises(NotFound):
        services.framework_by_key(fw.key)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["catalog"]["groups"][0]["controls"][1].pop("title"),
     "catalog.groups[0].controls[1].title: Field required"),
    (lambda d: d["catalog"]["metadata"].pop("oscal-version"), "catalog.metadata.oscal-version: Field required"),
    (lambda d: d.update(catalog=[]), "catalog: Input should be a valid dictionary"),
    (lambda d: d["catalog"].update(uuid="nope"), "catalog.uuid: String should match pattern"),
])
def test_an_invalid_catalog_names_the_first_schema_problem_and_imports_nothing(officer, edit, message):
    doc = _catalog()
    edit(doc)
    with pytest.raises(ValidationFailed) as caught:
        oscal.import_catalog(json.dumps(doc).encode(), actor=officer)
    assert message in caught.value.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Framework)) == 0


def test_not_json_is_refused_clearly(officer):
    with pytest.raises(ValidationFailed, match="Not a JSON document"):
        oscal.import_catalog(b"<catalog/>", actor=officer)


def test_assessment_results_validate_against_the_oscal_model(library, officer):
    from trestle.oscal.assessment_results import AssessmentResults

    eu = services.framework_by_key("eu-ai-act-2024")
    services.adopt_framework(eu, actor=officer)
    control = next(c for c in services.proposed_controls(eu) if c["template"].key == "VC-01")["existing"]
    services.update_control(control, actor=officer, status="implemented")
    ev = evidence.upload_evidence(actor=officer, filename="risk.pdf", stream=PDF, control_ids=[control.public_id])
    evidence.review_evidence(ev, actor=officer, decision="accepted")
    document = oscal.assessment_results(eu, tenant=officer.tenant)
    model = AssessmentResults.parse_obj(json.loads(json.dumps(document))["assessment-results"])
    findings = {f.target.target_id: f.target.status.state.value for f in model.results[0].findings}
    assert findings["Art._9"] == "satisfied" and findings["Art._10"] == "not-satisfied"
    assert len(findings) == scores.scores([eu.id])[eu.id].total


def test_assessment_results_download_from_the_framework_page(library, login_as, tenant_a):
    from trestle.oscal.assessment_results import AssessmentResults

    from app.core.actors import system_actor
    from app.core.tenancy import tenant_context

    with tenant_context(tenant_a):
        services.adopt_framework(services.framework_by_key("soc2-2017"), actor=system_actor(tenant_a))
    client = login_as("compliance")
    res = client.get("/compliance/frameworks/soc2-2017/assessment-results.json")
    assert res.content_type == "application/json"
    AssessmentResults.parse_obj(res.json["assessment-results"])


def test_import_page_shows_the_schema_error(login_as):
    from webtest import Upload

    client = login_as("compliance")
    page = client.get("/compliance/import")
    doc = _catalog()
    del doc["catalog"]["metadata"]["title"]
    form = page.forms[[k for k in page.forms if isinstance(k, int) and "file" in page.forms[k].fields][0]]
    form["file"] = Upload("bad.json", json.dumps(doc).encode(), "application/json")
    res = form.submit(status=422)
    assert "catalog.metadata.title: Field required" in res.text
    form["file"] = Upload("good.json", MINI_CATALOG.read_bytes(), "application/json")
    page = form.submit().follow()
    assert "Mini Security Catalog" in page.text
