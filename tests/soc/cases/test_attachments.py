"""Evidence files: content-addressed, deduplicated, and nothing kept when refused."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from app.core import storage
from app.core.errors import ValidationFailed
from app.soc.cases import services


def _stored_files(app) -> list[Path]:
    root = Path(app.instance_path) / "storage"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def small_limit(app):
    app.config["VIGIL_ATTACHMENT_MAX_BYTES"] = 1024
    yield
    app.config.pop("VIGIL_ATTACHMENT_MAX_BYTES", None)


def test_oversized_upload_is_refused_and_nothing_is_stored(app, analyst, case, small_limit):
    before = _stored_files(app)
    with pytest.raises(ValidationFailed) as err:
        services.add_attachment(case, actor=analyst, filename="big.txt", content_type="text/plain",
                                stream=io.BytesIO(b"x" * 2048))
    assert "file" in err.value.field_errors
    assert _stored_files(app) == before


def test_disallowed_type_is_refused_and_nothing_is_stored(app, analyst, case):
    before = _stored_files(app)
    with pytest.raises(ValidationFailed):
        services.add_attachment(case, actor=analyst, filename="run.exe", content_type="application/x-msdownload",
                                stream=io.BytesIO(b"MZ"))
    with pytest.raises(ValidationFailed):
        services.add_attachment(case, actor=analyst, filename="blob.bin", content_type="application/octet-stream",
                                stream=io.BytesIO(b"\0"))
    assert _stored_files(app) == before


def test_identical_content_is_stored_once_under_its_sha256(app, analyst, case):
    data = b"GET /evil HTTP/1.1\r\n"
    first = services.add_attachment(case, actor=analyst, filename="../../etc/req.txt", content_type="text/plain",
                                    stream=io.BytesIO(data))
    second = services.add_attachment(case, actor=analyst, filename="copy.txt", content_type="text/plain",
                                     stream=data)
    sha = hashlib.sha256(data).hexdigest()
    assert first.sha256 == second.sha256 == sha
    assert first.filename == "req.txt"
    files = [p for p in _stored_files(app) if p.name == sha]
    assert len(files) == 1
    assert files[0].read_bytes() == data
    path, headers = services.attachment_download(first)
    assert Path(path) == files[0]
    assert headers["Content-Disposition"].startswith('attachment; filename="req.txt"')
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_evtx_is_accepted_as_octet_stream(analyst, case):
    att = services.add_attachment(case, actor=analyst, filename="Security.evtx",
                                  content_type="application/octet-stream", stream=b"ElfFile\0")
    assert att.content_type == "application/octet-stream"


def test_storage_keys_cannot_escape_the_store(app):
    with pytest.raises(ValueError, match="not a storage key"):
        storage.path_for("../../etc/passwd")
