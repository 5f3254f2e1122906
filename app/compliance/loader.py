"""Load the framework library from app/compliance/frameworks/ into the global tables.

Every file is read and checked before anything is written: one malformed file stops the load
with its file, line and field named, and the library in the database stays as it was. A file
whose content hash is unchanged is skipped; a changed one is upgraded in place: requirements
are matched by `ref`, new ones added, changed ones updated, and refs gone from the file are
retired (kept, hidden and unscored) rather than deleted, so tenants' mappings survive.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from app.compliance.models import ControlTemplate, Framework, LibraryFile, Requirement
from app.compliance.yamlfile import FileError, LineDict, LineList, parse
from app.core import audit
from app.core.db import atomic, db, utcnow

LIBRARY_DIR = Path(__file__).parent / "frameworks"
CONTROLS_FILE = "controls.yaml"
_KEY = re.compile(r"^[a-z0-9][a-z0-9.-]{1,78}$")
_FRAMEWORK_FIELDS = {"key", "name", "short_name", "version", "published", "source", "licence", "description",
                     "requirements"}
_NODE_FIELDS = {"ref", "title", "kind", "description", "children"}
_CONTROL_FIELDS = {"key", "name", "description", "maps"}


@dataclass
class NodeDoc:
    ref: str
    title: str
    kind: str
    description: str
    children: list[NodeDoc]


@dataclass
class FrameworkDoc:
    file: str
    content_hash: str
    key: str
    name: str
    short_name: str
    version: str
    published: date | None
    source: str
    licence: str
    description: str
    requirements: list[NodeDoc]
    lines: dict[str, int] = field(default_factory=dict)  # ref -> line, to place mapping errors

    def refs(self) -> set[str]:
        return set(self.lines)


@dataclass
class ControlDoc:
    key: str
    name: str
    description: str
    maps: dict[str, list[str]]


@dataclass
class ControlsDoc:
    file: str
    content_hash: str
    source: str
    licence: str
    controls: list[ControlDoc]


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"loaded {name}" for name in self.loaded] + [f"unchanged {name}" for name in self.unchanged]
        out += [f"retired from {key}: {', '.join(refs)}" for key, refs in self.retired.items() if refs]
        return out


# --- reading and checking ------------------------------------------------------------------


class _Reader:
    """Typed access to a parsed mapping that names file, line and field on every problem."""

    def __init__(self, file: str, data, where: str = ""):
        if not isinstance(data, LineDict):
            raise FileError(file, getattr(data, "line", None), where or "(document)", "expected a mapping")
        self.file, self.data, self.where = file, data, where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str):
        raise FileError(self.file, self.data.line_of(key), self._name(key), message)

    def only(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.fail(key, f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    def text(self, key: str, *, required: bool = True, max_len: int = 10_000) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise FileError(self.file, self.data.line, self._name(key), "is required")
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(key, f"expected text, found {type(value).__name__}")
        value = value.strip()
        if required and not value:
            self.fail(key, "must not be empty")
        if len(value) > max_len:
            self.fail(key, f"longer than {max_len} characters")
        return value

    def day(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(key, f"expected a date as YYYY-MM-DD, found {value!r}")

    def items(self, key: str) -> LineList:
        value = self.data.get(key)
        if not isinstance(value, LineList) or not value:
            if value is None:
                raise FileError(self.file, self.data.line, self._name(key), "is required")
            self.fail(key, "expected a non-empty list")
        return value


def _hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _read_nodes(file: str, items: LineList, where: str, lines: dict[str, int], depth: int = 0) -> list[NodeDoc]:
    nodes = []
    for index, item in enumerate(items):
        node = _Reader(file, item, f"{where}[{index}]")
        node.only(_NODE_FIELDS)
        ref = node.text("ref", max_len=80)
        if ref in lines:
            node.fail("ref", f"duplicate ref {ref!r} (first on line {lines[ref]})")
        lines[ref] = item.line_of("ref")
        children = []
        if "children" in item:
            children = _read_nodes(file, node.items("children"), f"{node.where}.children", lines, depth + 1)
        nodes.append(NodeDoc(ref=ref, title=node.text("title", max_len=400), kind=node.text("kind", max_len=40),
                             description=node.text("description", required=False), children=children))
    return nodes


def read_framework(path: Path) -> FrameworkDoc:
    raw = path.read_bytes()
    doc = _Reader(path.name, parse(raw.decode("utf-8", errors="strict"), path.name))
    doc.only(_FRAMEWORK_FIELDS)
    key = doc.text("key", max_len=80)
    if not _KEY.match(key):
        doc.fail("key", "use lower-case letters, digits, dots and dashes (e.g. nist-csf-2.0)")
    lines: dict[str, int] = {}
    requirements = _read_nodes(path.name, doc.items("requirements"), "requirements", lines)
    return FrameworkDoc(file=path.name, content_hash=_hash(raw), key=key, name=doc.text("name", max_len=200),
                        short_name=doc.text("short_name", max_len=60), version=doc.text("version", max_len=40),
                        published=doc.day("published"), source=doc.text("source"), licence=doc.text("licence"),
                        description=doc.text("description", required=False), requirements=requirements,
                        lines=lines)


def read_controls(path: Path, frameworks: dict[str, FrameworkDoc], known_refs: dict[str, set[str]]) -> ControlsDoc:
    raw = path.read_bytes()
    doc = _Reader(path.name, parse(raw.decode("utf-8"), path.name))
    doc.only({"source", "licence", "mapping_note", "controls"})
    controls, seen = [], set()
    for index, item in enumerate(doc.items("controls")):
        entry = _Reader(path.name, item, f"controls[{index}]")
        entry.only(_CONTROL_FIELDS)
        key = entry.text("key", max_len=40)
        if key in seen:
            entry.fail("key", f"duplicate control key {key!r}")
        seen.add(key)
        maps = _Reader(path.name, item.get("maps"), f"{entry.where}.maps")
        mapped: dict[str, list[str]] = {}
        for fw_key, refs in maps.data.items():
            if fw_key not in known_refs:
                maps.fail(fw_key, f"no framework with key {fw_key!r} in the library")
            if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                maps.fail(fw_key, "expected a list of requirement refs")
            for ref in refs:
                if ref not in known_refs[fw_key]:
                    maps.fail(fw_key, f"{ref!r} is not a requirement of {fw_key}")
            mapped[fw_key] = list(dict.fromkeys(refs))
        controls.append(ControlDoc(key=key, name=entry.text("name", max_len=200),
                                   description=entry.text("description", required=False), maps=mapped))
    return ControlsDoc(file=path.name, content_hash=_hash(raw), source=doc.text("source"),
                       licence=doc.text("licence"), controls=controls)


def read_library(directory: Path = LIBRARY_DIR) -> tuple[list[FrameworkDoc], ControlsDoc | None]:
    """Read and check every file; raises FileError on the first problem, touching nothing."""
    frameworks: dict[str, FrameworkDoc] = {}
    if not directory.is_dir():
        raise FileError(str(directory), None, "(folder)", "no such folder")
    for path in sorted(directory.glob("*.y*ml")):
        if path.name == CONTROLS_FILE:
            continue
        doc = read_framework(path)
        if doc.key in frameworks:
            raise FileError(path.name, 1, "key", f"key {doc.key!r} is also used by {frameworks[doc.key].file}")
        frameworks[doc.key] = doc
    controls = None
    if (directory / CONTROLS_FILE).exists():
        known = {key: doc.refs() for key, doc in frameworks.items()}
        # Frameworks already in the database (loaded earlier, or imported) can be mapped too.
        for fw in db.session.scalars(sa.select(Framework).where(Framework.owner_tenant_id.is_(None))):
            if fw.key not in known:
                known[fw.key] = set(db.session.scalars(
                    sa.select(Requirement.ref).where(Requirement.framework_id == fw.id,
                                                     Requirement.retired_at.is_(None))))
        controls = read_controls(directory / CONTROLS_FILE, frameworks, known)
    return list(frameworks.values()), controls


# --- writing -------------------------------------------------------------------------------


def _flatten(nodes: list[NodeDoc], depth: int = 0, parent: str | None = None):
    for node in nodes:
        yield node, depth, parent
        yield from _flatten(node.children, depth + 1, node.ref)


def sync_framework(doc: FrameworkDoc, *, origin: str = "file", owner_tenant_id: int | None = None) -> list[str]:
    """Create or upgrade one framework and its requirement tree; returns the refs retired."""
    fw = db.session.scalar(sa.select(Framework).where(Framework.key == doc.key))
    if fw is None:
        fw = Framework(key=doc.key, origin=origin, owner_tenant_id=owner_tenant_id)
        db.session.add(fw)
    for name in ("name", "short_name", "version", "published", "source", "licence", "description",
                 "content_hash"):
        setattr(fw, name, getattr(doc, name))
    fw.loaded_at = utcnow()
    db.session.flush()
    existing = {r.ref: r for r in db.session.scalars(sa.select(Requirement).where(Requirement.framework_id == fw.id))}
    ids: dict[str, Requirement] = {}
    for position, (node, depth, parent_ref) in enumerate(_flatten(doc.requirements)):
        row = existing.get(node.ref) or Requirement(framework_id=fw.id, ref=node.ref)
        row.title, row.kind, row.description = node.title, node.kind, node.description
        row.position, row.depth, row.is_leaf, row.retired_at = position, depth, not node.children, None
        row.parent_id = ids[parent_ref].id if parent_ref else None
        if row.id is None:
            db.session.add(row)
            if node.children:
                db.session.flush()  # children need the parent's id
        ids[node.ref] = row
    retired = sorted(ref for ref, row in existing.items() if ref not in ids and row.retired_at is None)
    now = utcnow()
    for ref in retired:
        existing[ref].retired_at = now
    db.session.flush()
    return retired


def _sync_controls(doc: ControlsDoc) -> None:
    existing = {t.key: t for t in db.session.scalars(sa.select(ControlTemplate))}
    for control in doc.controls:
        row = existing.get(control.key) or ControlTemplate(key=control.key)
        row.name, row.description, row.maps, row.retired_at = control.name, control.description, control.maps, None
        db.session.add(row)
    for key, row in existing.items():
        if key not in {c.key for c in doc.controls} and row.retired_at is None:
            row.retired_at = utcnow()


def _file_row(name: str) -> LibraryFile | None:
    return db.session.get(LibraryFile, name)


def _mark(name: str, content_hash: str) -> None:
    row = _file_row(name) or LibraryFile(name=name)
    row.content_hash, row.loaded_at = content_hash, utcnow()
    db.session.add(row)


@atomic
def load_library(directory: Path = LIBRARY_DIR, *, force: bool = False) -> LoadReport:
    """Load or upgrade every file of the library in one transaction (nothing on error)."""
    frameworks, controls = read_library(directory)
    report = LoadReport()
    for doc in frameworks:
        row = _file_row(doc.file)
        if not force and row is not None and row.content_hash == doc.content_hash:
            report.unchanged.append(doc.file)
            continue
        report.retired[doc.key] = sync_framework(doc)
        _mark(doc.file, doc.content_hash)
        report.loaded.append(doc.file)
    if controls is not None:
        row = _file_row(controls.file)
        if force or row is None or row.content_hash != controls.content_hash or report.loaded:
            _sync_controls(controls)
            _mark(controls.file, controls.content_hash)
            report.loaded.append(controls.file)
        else:
            report.unchanged.append(controls.file)
    if report.loaded:
        audit.record("compliance.library_loaded", actor=None, actor_label="vigil compliance load",
                     after={"loaded": report.loaded,
                            "retired": {k: v for k, v in report.retired.items() if v}})
    return report
