"""Shared fixtures: one app per session, an emptied database per test, tenants, signed-in clients.

The schema is built by the Alembic migrations (not create_all), so every run also proves the
migrations work. Set VIGIL_TEST_DATABASE_URL to run the same suite on PostgreSQL.
"""

from __future__ import annotations

import contextvars
import os
import re

import pytest
import sqlalchemy as sa
import webtest
from flask_migrate import upgrade

from app import create_app
from app.core.db import db
from app.core.tenancy import tenant_context
from app.extensions import limiter
from tests import factories

TEST_DB_URL = os.environ.get("VIGIL_TEST_DATABASE_URL", "")


def _reset_schema(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    url = TEST_DB_URL or f"sqlite:///{instance / 'test.db'}"
    _reset_schema(url)
    application = create_app({
        "instance_path": str(instance),
        "database_url": url,
        "secret_key": "test-secret-key-not-for-production-0123456789",
        "testing": True,
        "base_url": "http://localhost",
    })
    with application.app_context():
        upgrade()
    application.wsgi_app = _FreshContext(application.wsgi_app)
    return application


class _FreshContext:
    """Serve each test request in an empty contextvars context.

    Tests hold an app context open (to call services directly); without this, Flask would
    reuse it for requests, sharing `g` and the database session between requests, which a
    real server never does.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        ctx = contextvars.Context()
        return ctx.run(lambda: list(self.wsgi_app(environ, start_response)))


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))  # noqa: S608 — table names from metadata


@pytest.fixture(autouse=True)
def _isolated(app):
    """Each test gets an app context and leaves an empty database and fresh rate limits behind."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _empty_all_tables()
    limiter.reset()


@pytest.fixture
def tenant_a():
    return factories.make_tenant("tenant-a", "Tenant A")


@pytest.fixture
def tenant_b():
    return factories.make_tenant("tenant-b", "Tenant B")


@pytest.fixture
def web(app):
    """A WebTest client with no one signed in."""
    return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})


def sign_in(client: webtest.TestApp, email: str, password: str = factories.PASSWORD) -> webtest.TestResponse:
    """Email first, then the password step (or wherever the email's domain routes)."""
    form = client.get("/login").forms[0]
    form["email"] = email
    step = form.submit(status="*")
    if step.status_int != 200 or "password" not in step.forms[0].fields:
        return step
    form = step.forms[0]
    form["password"] = password
    return form.submit(status="*")


@pytest.fixture
def login_as(app, tenant_a):
    """login_as("analyst") → a WebTest client signed in as a new member with that role."""

    def _login(role: str = "admin", tenant=None, email: str | None = None) -> webtest.TestApp:
        tenant = tenant or tenant_a
        membership = factories.make_member(tenant, role=role, email=email)
        client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "127.0.0.1"})
        res = sign_in(client, membership.user.email)
        assert res.status_int == 303, res.text[:500]
        client.membership = membership
        return client

    return _login


def csrf_from(res: webtest.TestResponse) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', res.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def in_tenant():
    """Use as `with in_tenant(t):` to query scoped models from a test."""
    return tenant_context


@pytest.fixture
def client(app):
    """A Flask test client for JSON API calls."""
    return app.test_client()


@pytest.fixture
def member_token(client):
    """member_token(tenant, role=...) → (membership, JWT) for a new member."""

    def _make(tenant, role: str = "admin"):
        membership = factories.make_member(tenant, role=role)
        res = client.post("/api/v1/auth/token", json={"email": membership.user.email,
                                                     "password": factories.PASSWORD, "tenant": tenant.slug})
        assert res.status_code == 200, res.json
        return membership, res.json["data"]["access_token"]

    return _make
