"""The `vigil` commands of DESIGN.md §5, which scripts and the README rely on."""

import sqlalchemy as sa

from app.core.db import db
from app.core.tenancy import Tenant
from app.identity.models import User


def test_create_tenant_user_and_api_key(app):
    runner = app.test_cli_runner()
    res = runner.invoke(args=["create-tenant", "initech", "Initech"])
    assert res.exit_code == 0 and "created tenant initech" in res.output

    res = runner.invoke(args=["create-user", "Peter@Initech.test", "--tenant", "initech", "--role", "analyst"],
                        input="a-long-enough-password\n")
    assert res.exit_code == 0, res.output
    user = db.session.scalar(sa.select(User).where(User.email == "peter@initech.test"))
    assert user is not None and user.password_hash.startswith("$argon2id$")

    res = runner.invoke(args=["create-api-key", "--tenant", "initech", "--name", "siem", "--scope", "alerts:write"])
    assert res.exit_code == 0 and res.output.strip().startswith("vgl_")
    me = app.test_client().get("/api/v1/users/me", headers={"Authorization": f"Bearer {res.output.strip()}"})
    assert me.status_code == 200 and me.json["data"]["tenant"]["slug"] == "initech"


def test_cli_errors_are_clear(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-tenant", "initech", "Initech"])
    dup = runner.invoke(args=["create-tenant", "initech", "Again"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    bad_role = runner.invoke(args=["create-user", "a@b.test", "--tenant", "initech", "--role", "wizard"],
                             input="a-long-enough-password\n")
    assert bad_role.exit_code != 0 and "Choose one of" in bad_role.output
    short = runner.invoke(args=["create-user", "a@b.test", "--tenant", "initech", "--role", "analyst"], input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    scope = runner.invoke(args=["create-api-key", "--tenant", "initech", "--name", "x", "--scope", "root"])
    assert scope.exit_code != 0 and "Unknown scopes: root" in scope.output


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    users_after_first = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == second.exit_code == 0
    assert "admin@acme.test" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant).where(Tenant.slug == "acme")) == 1
    # One per role, plus the people the demo IdP provisioned through SCIM (app/scim/demo.py).
    assert users_after_first == db.session.scalar(sa.select(sa.func.count()).select_from(User)) >= 5
