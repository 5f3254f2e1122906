"""OSCAL: import a catalog as a framework, export a tenant's status as assessment results.

The import checks the part of the OSCAL catalog model we use (catalog → metadata, groups,
controls and their enhancements, each with id and title) with pydantic, and reports the
first problem by its JSON path (`catalog.groups[2].controls[0].title: Field required`).
Groups become categories, controls and enhancements requirements. The imported framework
belongs to the importing tenant only (see models.py).

The export follows OSCAL 1.1 assessment-results: one result with a finding per live leaf
requirement, its state (satisfied / not-satisfied) and the controls and evidence behind it;
tests validate it against compliance-trestle's models of the schema.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from app.compliance import scores
from app.compliance.loader import FrameworkDoc, NodeDoc, sync_framework
from app.compliance.models import Control, ControlMapping, Evidence, EvidenceLink, Framework, Requirement
from app.core import audit
from app.core.actors import Actor
from app.core.db import atomic, db
from app.core.errors import Conflict, ValidationFailed
from app.core.permissions import authorize

OSCAL_VERSION = "1.1.2"
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Part(_Open):
    name: str
    prose: str | None = None
    parts: list[_Part] = []


class _Control(_Open):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    parts: list[_Part] = []
    controls: list[_Control] = []


class _Group(_Open):
    id: str | None = None
    title: str = Field(min_length=1)
    groups: list[_Group] = []
    controls: list[_Control] = []


class _Metadata(_Open):
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    last_modified: str = Field(alias="last-modified")
    oscal_version: str = Field(alias="oscal-version")
    published: str | None = None


class _Catalog(_Open):
    uuid: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    metadata: _Metadata
    groups: list[_Group] = []
    controls: list[_Control] = []


class _Document(BaseModel):
    catalog: _Catalog


def _first_error(exc: PydanticValidationError) -> str:
    err = exc.errors()[0]
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path}: {err['msg']}"


def _statement(parts: list[_Part]) -> str:
    def walk(items):
        for part in items:
            if part.prose:
                yield part.prose.strip()
            yield from walk(part.parts)

    return "\n".join(walk([p for p in parts if p.name == "statement"]))[:4000]


def _control_nodes(control: _Control) -> list[NodeDoc]:
    """A control and its enhancements, as sibling requirements (each is assessed on its own)."""
    kind = "enhancement" if "." in control.id else "control"
    node = NodeDoc(ref=control.id.upper(), title=control.title[:400], kind=kind, description=_statement(control.parts),
                   children=[])
    return [node] + [n for child in control.controls for n in _control_nodes(child)]


def _group_node(group: _Group, index: int) -> NodeDoc:
    return NodeDoc(ref=(group.id or f"group-{index + 1}").upper(), title=group.title[:400], kind="category",
                   description="", children=[_group_node(g, i) for i, g in enumerate(group.groups)]
                   + [n for c in group.controls for n in _control_nodes(c)])


def parse_catalog(raw: bytes) -> _Catalog:
    if len(raw) > MAX_IMPORT_BYTES:
        raise ValidationFailed({"file": [f"The catalog is larger than {MAX_IMPORT_BYTES:,} bytes."]})
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed({"file": [f"Not a JSON document: {exc}"]})
    try:
        return _Document.model_validate(data).catalog
    except PydanticValidationError as exc:
        raise ValidationFailed({"file": [f"Not a valid OSCAL catalog: {_first_error(exc)}"]})


def _refs(nodes):
    for node in nodes:
        yield node.ref
        yield from _refs(node.children)


@atomic
def import_catalog(raw: bytes, *, actor: Actor) -> Framework:
    """Import an OSCAL catalog JSON as this tenant's framework (groups → categories, controls → requirements)."""
    authorize(actor, "compliance:write")
    catalog = parse_catalog(raw)
    nodes = [_group_node(g, i) for i, g in enumerate(catalog.groups)]
    nodes += [n for c in catalog.controls for n in _control_nodes(c)]
    if not nodes:
        raise ValidationFailed({"file": ["The catalog has no groups or controls."]})
    refs = list(_refs(nodes))
    if len(refs) != len(set(refs)):
        dup = next(r for r in refs if refs.count(r) > 1)
        raise ValidationFailed({"file": [f"Not a valid OSCAL catalog: control id {dup!r} appears twice."]})
    slug = re.sub(r"[^a-z0-9]+", "-", catalog.metadata.title.lower()).strip("-")[:40] or "catalog"
    key = f"oscal-{actor.tenant.slug}-{slug}-{catalog.uuid[:8]}"[:80]
    existing = db.session.scalar(sa.select(Framework).where(Framework.key == key))
    if existing is not None and existing.owner_tenant_id != actor.tenant.id:
        raise Conflict("A framework with that key already exists.")
    doc = FrameworkDoc(file="(oscal import)", content_hash=hashlib.sha256(raw).hexdigest(), key=key,
                       name=catalog.metadata.title[:200], short_name=catalog.metadata.title[:60],
                       version=catalog.metadata.version[:40], published=None,
                       source=f"OSCAL catalog {catalog.uuid} (OSCAL {catalog.metadata.oscal_version})",
                       licence="As stated by the catalog's publisher", description="Imported from OSCAL.",
                       requirements=nodes)
    retired = sync_framework(doc, origin="oscal", owner_tenant_id=actor.tenant.id)
    fw = db.session.scalar(sa.select(Framework).where(Framework.key == key))
    audit.record("compliance.oscal_imported", actor=actor, target=fw,
                 after={"framework": key, "requirements": len(refs), "retired": retired})
    return fw


# --- export --------------------------------------------------------------------------------


def _uuid(*parts) -> str:
    """Stable UUIDs, so exporting twice on the same data gives the same ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "vigil:" + ":".join(str(p) for p in parts)))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def assessment_results(framework: Framework, *, tenant) -> dict:
    """The tenant's status for one framework as an OSCAL assessment-results document."""
    now = datetime.now(UTC)
    on = now.date()
    states = scores.requirement_states(framework.id, on)
    reqs = list(db.session.scalars(sa.select(Requirement).where(Requirement.id.in_(list(states)))
                                   .order_by(Requirement.position)))
    mapped: dict[int, list[Control]] = {}
    for m in db.session.scalars(sa.select(ControlMapping).where(ControlMapping.requirement_id.in_(list(states)))):
        mapped.setdefault(m.requirement_id, []).append(m.control)
    evidence: dict[int, list[Evidence]] = {}
    control_ids = {c.id for cs in mapped.values() for c in cs}
    for control_id, ev in db.session.execute(sa.select(EvidenceLink.control_id, Evidence)
                                             .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
                                             .where(EvidenceLink.control_id.in_(control_ids))):
        evidence.setdefault(control_id, []).append(ev)
    score = scores.scores([framework.id], on)[framework.id]
    observations, findings = [], []
    for req in reqs:
        state = states[req.id]
        controls = sorted(mapped.get(req.id, []), key=lambda c: c.key)
        obs_uuid = _uuid(tenant.public_id, framework.key, req.ref, "obs", on)
        relevant = [{"href": f"#{_uuid('evidence', ev.public_id)}",
                     "description": f"{ev.title} ({ev.review_status.value}"
                                    f"{', expired' if ev.is_expired(on) else ''})"}
                    for c in controls for ev in evidence.get(c.id, [])]
        observation = {
            "uuid": obs_uuid, "title": f"{req.ref} status",
            "description": "; ".join(f"{c.key} {c.status.value}" for c in controls) or "No control mapped.",
            "methods": ["EXAMINE"], "collected": _iso(now),
        }
        if relevant:
            observation["relevant-evidence"] = relevant
        observations.append(observation)
        findings.append({
            "uuid": _uuid(tenant.public_id, framework.key, req.ref, "finding", on),
            "title": f"{req.ref} {req.title}"[:500],
            "description": f"Requirement {req.ref} is {state.replace('_', ' ')}.",
            "target": {"type": "objective-id", "target-id": _target_id(req.ref),
                       "status": {"state": "satisfied" if state in (scores.MET, scores.NA) else "not-satisfied",
                                  **({"reason": "not-applicable"} if state == scores.NA else {})}},
            "related-observations": [{"observation-uuid": obs_uuid}],
        })
    return {"assessment-results": {
        "uuid": _uuid(tenant.public_id, framework.key, "results", now.isoformat()),
        "metadata": {"title": f"{framework.name}: assessment results for {tenant.name}",
                     "last-modified": _iso(now), "version": on.isoformat(), "oscal-version": OSCAL_VERSION,
                     "props": [{"name": "marking", "value": "confidential"}]},
        "import-ap": {"href": f"#{_uuid(framework.key, 'assessment-plan')}"},
        "results": [{
            "uuid": _uuid(tenant.public_id, framework.key, "result", now.isoformat()),
            "title": f"{framework.short_name} status on {on.isoformat()}",
            "description": f"{score.met} of {score.applicable} applicable requirements met ({score.percent}%).",
            "start": _iso(now),
            "reviewed-controls": {"control-selections": [{"include-all": {}}]},
            **({"observations": observations, "findings": findings} if findings else {}),
        }],
    }}


def _target_id(ref: str) -> str:
    # OSCAL tokens: letters, digits, '.', '_' and '-', starting with a letter or underscore.
    token = re.sub(r"[^A-Za-z0-9._-]+", "_", ref).strip("_") or "requirement"
    return token if re.match(r"^[A-Za-z_]", token) else f"_{token}"
