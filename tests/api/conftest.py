"""API fixtures: a JSON client, credentials, and apps configured differently from the session app."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from app.core.audit import AuditRecord
from app.core.db import db
from tests import factories
from tests.conftest import _FreshContext


def bearer(credential: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", **headers}


def get_token(client, email: str, tenant, password: str = factories.PASSWORD) -> str:
    res = client.post("/api/v1/auth/token", json={"email": email, "password": password, "tenant": tenant.slug})
    assert res.status_code == 200, res.json
    return res.json["data"]["access_token"]




def audit_actions(action: str) -> list[AuditRecord]:
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == action)))


def assert_error(res, status: int, code: str) -> dict:
    """The error envelope, with the status, and meta.request_id matching X-Request-ID."""
    assert res.status_code == status, (res.status_code, res.get_data(as_text=True)[:500])
    body = res.json
    assert body["success"] is False
    assert body["data"] is None
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["meta"]["request_id"]
    assert body["meta"]["request_id"] == res.headers["X-Request-ID"]
    return body["error"]


@pytest.fixture
def make_app(app):
    """make_app({...}) → a second app on the same database and instance, with these overrides."""
    made = []

    def _make(overrides: dict | None = None, setup=None):
        new = create_app({
            "instance_path": app.instance_path,
            "database_url": app.config["SQLALCHEMY_DATABASE_URI"],
            "secret_key": app.config["SECRET_KEY"],
            "testing": True,
            "base_url": "http://localhost",
            **(overrides or {}),
        })
        if setup is not None:
            setup(new)  # add test-only routes before the first request
        new.wsgi_app = _FreshContext(new.wsgi_app)
        made.append(new)
        return new

    yield _make
    for other in made:
        with other.app_context():
            db.engine.dispose()
