"""Loading the framework library: first load, unchanged files skipped, upgrades, and bad files refused."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from app.compliance.loader import load_library
from app.compliance.models import ControlTemplate, Framework, Requirement
from app.compliance.yamlfile import FileError
from app.core.audit import AuditRecord
from app.core.db import db
from tests.compliance.conftest import LIBRARY


def _copy(tmp_path):
    target = tmp_path / "library"
    shutil.copytree(LIBRARY, target)
    return target


def _refs(key: str, *, live: bool = True) -> list[str]:
    stmt = sa.select(Requirement.ref).join(Requirement.framework).where(Framework.key == key)
    if live:
        stmt = stmt.where(Requirement.retired_at.is_(None))
    return list(db.session.scalars(stmt.order_by(Requirement.position)))


def test_first_load_builds_the_tree_in_document_order(library):
    assert set(library.loaded) >= {"eu-ai-act-2024.yaml", "controls.yaml"}
    assert _refs("eu-ai-act-2024") == ["Art. 5", "Art. 5(1)(a)", "HR", "Art. 9", "Art. 10", "Art. 12"]
    art9 = db.session.scalar(sa.select(Requirement).where(Requirement.ref == "Art. 9"))
    assert art9.is_leaf and art9.depth == 1
    parent = db.session.get(Requirement, art9.parent_id)
    assert parent.ref == "HR" and not parent.is_leaf
    fw = db.session.scalar(sa.select(Framework).where(Framework.key == "eu-ai-act-2024"))
    assert fw.published.isoformat() == "2024-07-12" and "2024/1689" in fw.source
    assert db.session.scalar(sa.select(ControlTemplate).where(ControlTemplate.key == "VC-01")).maps == {
        "eu-ai-act-2024": ["Art. 9"], "nist-ai-rmf-1.0": ["MAP 1.1"]}
    assert db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "compliance.library_loaded"))


def test_unchanged_files_are_skipped(library):
    again = load_library(LIBRARY)
    assert again.loaded == [] and "eu-ai-act-2024.yaml" in again.unchanged


def test_a_changed_file_upgrades_by_ref_and_retires_removed_refs(tmp_path, library):
    directory = _copy(tmp_path)
    path = directory / "eu-ai-act-2024.yaml"
    text = path.read_text().replace("title: Record-keeping", "title: Record-keeping (logs)")
    text = text.replace("      - ref: Art. 10\n        title: Data and data governance\n        kind: article\n", "")
    text += "      - ref: Art. 13\n        title: Transparency\n        kind: article\n"
    path.write_text(text)
    controls = directory / "controls.yaml"
    controls.write_text(controls.read_text().replace("eu-ai-act-2024: [Art. 10]", "eu-ai-act-2024: [Art. 13]"))
    art9_id = db.session.scalar(sa.select(Requirement.id).where(Requirement.ref == "Art. 9"))
    report = load_library(directory)
    assert report.loaded == ["eu-ai-act-2024.yaml", "controls.yaml"]
    assert report.retired["eu-ai-act-2024"] == ["Art. 10"]
    assert _refs("eu-ai-act-2024")[-2:] == ["Art. 12", "Art. 13"]
    assert "Art. 10" in _refs("eu-ai-act-2024", live=False)  # retired, not deleted
    assert db.session.scalar(sa.select(Requirement.id).where(Requirement.ref == "Art. 9")) == art9_id
    assert db.session.scalar(sa.select(Requirement.title).where(Requirement.ref == "Art. 12")) == \
        "Record-keeping (logs)"


@pytest.mark.parametrize(("edit", "line", "field", "message"), [
    (lambda t: t.replace("        title: Record-keeping\n", ""), 27, "requirements[1].children[2].title",
     "is required"),
    (lambda t: t.replace("title: Data and data governance", "titel: Data"), 25, "requirements[1].children[1].titel",
     "unknown field"),
    (lambda t: t.replace("ref: Art. 12", "ref: Art. 9"), 27, "requirements[1].children[2].ref", "duplicate ref"),
    (lambda t: t.replace("published: 2024-07-12", "published: 12 July 2024"), 5, "published", "YYYY-MM-DD"),
    (lambda t: t.replace("  - ref: HR", "  - ref: [HR"), 18, "(syntax)", ""),
])
def test_a_malformed_file_names_file_line_and_field_and_changes_nothing(tmp_path, library, edit, line, field,
                                                                         message):
    directory = _copy(tmp_path)
    path = directory / "eu-ai-act-2024.yaml"
    path.write_text(edit(path.read_text()).replace("title: Prohibited AI practices", "title: Changed"))
    with pytest.raises(FileError) as caught:
        load_library(directory)
    err = caught.value
    assert (err.file, err.field) == ("eu-ai-act-2024.yaml", field)
    assert err.line == line, str(err)
    assert message in str(err) and "eu-ai-act-2024.yaml, line" in str(err)
    assert db.session.scalar(sa.select(Requirement.title).where(Requirement.ref == "Art. 5")) == \
        "Prohibited AI practices"


def test_a_mapping_to_an_unknown_ref_is_refused_with_its_line(tmp_path, library):
    directory = _copy(tmp_path)
    path = directory / "controls.yaml"
    path.write_text(path.read_text().replace("soc2-2017: [CC6]", "soc2-2017: [CC9.9]"))
    with pytest.raises(FileError, match=r"controls.yaml, line 25, field 'controls\[3\].maps.soc2-2017'.*CC9.9"):
        load_library(directory)


def test_cli_load_reports_what_it_did(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["compliance", "load", "--dir", str(LIBRARY)])
    assert result.exit_code == 0, result.output
    assert "loaded eu-ai-act-2024.yaml" in result.output
    broken = runner.invoke(args=["compliance", "load", "--dir", str(LIBRARY / "missing")])
    assert broken.exit_code != 0
