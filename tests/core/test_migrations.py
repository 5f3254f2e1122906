"""The Alembic migrations build exactly the schema the models describe, and can be undone.

If a model changes without a migration (or a migration drifts from the models), autogenerate
finds a difference here, before a deploy does. Runs on PostgreSQL too when
VIGIL_TEST_DATABASE_URL is set: the session `app` fixture has already upgraded that database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.core.db import db


def _schema_differences(connection: sa.Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
    return compare_metadata(context, db.metadata)


def _table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        differences = _schema_differences(connection)
    assert differences == [], (
        f"models and migrations disagree on {db.engine.dialect.name}: run `vigil db migrate -m ...` "
        f"and review the revision. Differences: {differences}"
    )


def test_every_model_table_exists_after_upgrade(app):
    missing = set(db.metadata.tables) - _table_names(db.engine)
    assert not missing, f"tables the models declare but the migrations never create: {sorted(missing)}"


def test_downgrade_to_base_then_upgrade_again(tmp_path):
    instance = tmp_path / "instance"
    scratch = create_app({
        "instance_path": str(instance),
        "database_url": f"sqlite:///{instance / 'migrations.db'}",
        "secret_key": "migration-test-secret-key-0123456789",
        "testing": True,
    })
    with scratch.app_context():
        engine = db.engine
        upgrade()
        assert set(db.metadata.tables) <= _table_names(engine)

        downgrade(revision="base")
        assert _table_names(engine) - {"alembic_version"} == set(), "downgrade to base left tables behind"

        upgrade()
        assert set(db.metadata.tables) <= _table_names(engine)
        with engine.connect() as connection:
            assert _schema_differences(connection) == []
        engine.dispose()


def _insert_minimal(connection: sa.Connection, table: str, **values) -> None:
    """One row with every NOT NULL column filled by a placeholder of its type (the schema of that revision)."""
    for column in sa.inspect(connection).get_columns(table):
        name, kind = column["name"], column["type"]
        if name in values or column["nullable"] or column.get("autoincrement") is True or name == "id":
            continue
        if isinstance(kind, sa.Integer | sa.Boolean | sa.Numeric):
            values[name] = 0
        elif isinstance(kind, sa.DateTime | sa.Date):
            values[name] = "2026-01-01 00:00:00"
        elif isinstance(kind, sa.JSON):
            values[name] = "[]"
        else:
            values[name] = f"{table}-{name}"
    columns = ", ".join(values)
    connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + k for k in values)})"),
                       values)


def test_sqlite_table_rebuilds_keep_the_rows_that_reference_the_table(tmp_path):
    """A batch migration rebuilds a SQLite table (copy, drop, rename); with foreign keys on, dropping
    the old table would cascade-delete every row referencing it. 0005_sla's downgrade rebuilds `cases`,
    which case tasks reference with ON DELETE CASCADE: they must survive."""
    instance = tmp_path / "instance"
    scratch = create_app({
        "instance_path": str(instance),
        "database_url": f"sqlite:///{instance / 'rebuild.db'}",
        "secret_key": "migration-test-secret-key-0123456789",
        "testing": True,
    })
    with scratch.app_context():
        engine = db.engine
        upgrade(revision="0005_sla")
        with engine.begin() as connection:
            _insert_minimal(connection, "tenants", id=1)
            _insert_minimal(connection, "cases", id=1, tenant_id=1)
            _insert_minimal(connection, "case_tasks", id=1, tenant_id=1, case_id=1)
        downgrade(revision="0009_passkeys")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0009_passkeys"
            assert "acknowledged_at" not in {c["name"] for c in sa.inspect(connection).get_columns("cases")}
            assert connection.execute(sa.text("SELECT count(*) FROM case_tasks")).scalar() == 1
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1, "left foreign keys off"
