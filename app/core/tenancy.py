"""Tenants, and the one place every tenant-scoped query and write is filtered and stamped.

Every model that mixes in `TenantScoped` is invisible outside a tenant context: reads get a
`tenant_id = :current` criterion added (also on joins and relationship loads), new rows are
stamped with the current tenant, and a scoped statement with no tenant context raises
`TenancyError` instead of silently reading every tenant (fail closed).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event, orm
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql.util import find_tables

from app.core.db import Base, UTCDateTime, created_at_column, db, public_id_column
from app.core.errors import NotFound, TenancyError


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = created_at_column()
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def audit_label(self) -> str:
        return f"{self.name} ({self.slug})"

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class TenantScoped:
    """Mixin for rows that belong to one tenant."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False)


_current: contextvars.ContextVar[Tenant | None] = contextvars.ContextVar("vigil_tenant", default=None)


def current_tenant() -> Tenant | None:
    return _current.get()


def require_tenant() -> Tenant:
    tenant = _current.get()
    if tenant is None:
        raise TenancyError("no tenant context")
    return tenant


@contextlib.contextmanager
def tenant_context(tenant: Tenant | None) -> Iterator[Tenant | None]:
    """Run the block as `tenant` (jobs, CLI, tests; requests use set_request_tenant)."""
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)


def set_request_tenant(tenant: Tenant | None) -> contextvars.Token:
    return _current.set(tenant)


def reset_request_tenant(token: contextvars.Token) -> None:
    _current.reset(token)


def get_or_404(model: type, public_id: str, message: str | None = None):
    """Load a scoped row by public id; another tenant's row is indistinguishable from none."""
    row = db.session.scalar(sa.select(model).where(model.public_id == str(public_id)))
    if row is None:
        raise NotFound(message or f"{model.__name__} not found.")
    return row


_scoped_cache: dict[str, frozenset[sa.Table]] = {}


@event.listens_for(orm.Mapper, "after_configured")
def _forget_scoped_tables() -> None:
    _scoped_cache.clear()  # a model was added: the next statement recomputes the set
    with _per_statement_lock:
        _per_statement.clear()


def _scoped_tables() -> frozenset[sa.Table]:
    # Read on every statement, so kept until the mappers change (`registry.mappers` builds a new
    # set on each access, a tenth of the scoping cost per statement when it was counted each time).
    tables = _scoped_cache.get("tables")
    if tables is None:
        tables = _scoped_cache["tables"] = frozenset(
            m.local_table for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)
        )
    return tables


def _touches_scoped_table(statement) -> bool:
    # Walk the tables, not only the mapped entities: `select(func.count()).select_from(Model)`
    # and subqueries name a scoped table without making it a result entity.
    scoped = _scoped_tables()
    return any(t in scoped for t in find_tables(statement, include_crud=True, include_joins=True,
                                                check_columns=True))


def _with_tenant_criteria(statement, tenant_id: int):
    return statement.options(
        orm.with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
            propagate_to_loaders=True,
        )
    )


# Statements built once at import (the session, memberships, bell, framework page statements)
# are executed on every page. For those, the table walk and the scoped copy are kept per
# statement object and tenant: the copy keeps its SQL cache key between requests, which SQLAlchemy
# otherwise recomputes for every new copy. Measured on a trivial prebuilt count: 730 → ~350 µs
# per execution. Weak keys: a statement built per call is forgotten with it.
_per_statement: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_per_statement_lock = threading.Lock()


def _scoped_statement(statement, tenant_id_of):
    """(statement with the tenant criteria, or None when it touches no scoped table)."""
    entry = _per_statement.get(statement)
    if entry is None:
        entry = (_touches_scoped_table(statement), {})
        with _per_statement_lock:
            _per_statement[statement] = entry
    touches, by_tenant = entry
    if not touches:
        return None
    tenant_id = tenant_id_of()
    scoped = by_tenant.get(tenant_id)
    if scoped is None:
        scoped = by_tenant[tenant_id] = _with_tenant_criteria(statement, tenant_id)
    return scoped


def _current_tenant_id(statement) -> int:
    tenant = _current.get()
    if tenant is None:
        raise TenancyError(f"query of a tenant-scoped model without a tenant context: {statement}")
    return tenant.id


@event.listens_for(orm.Session, "do_orm_execute")
def _scope_statement(state: orm.ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was already scoped; the criteria below propagate to loads
    if state.execution_options.get("all_tenants"):
        return
    statement = state.statement
    scoped = _scoped_statement(statement, lambda: _current_tenant_id(statement))
    if scoped is not None:
        state.statement = scoped


@event.listens_for(orm.Session, "before_flush")
def _stamp_tenant(session: orm.Session, _ctx, _instances) -> None:
    scoped_new = [o for o in session.new if isinstance(o, TenantScoped)]
    scoped_dirty = [o for o in session.dirty if isinstance(o, TenantScoped)]
    if not scoped_new and not scoped_dirty:
        return
    tenant = _current.get()
    if tenant is None:
        raise TenancyError("writing a tenant-scoped row without a tenant context")
    for obj in scoped_new:
        if obj.tenant_id is None:
            obj.tenant_id = tenant.id
        elif obj.tenant_id != tenant.id:
            raise TenancyError(f"refusing to write {obj!r} into another tenant")
    for obj in scoped_dirty + [o for o in session.deleted if isinstance(o, TenantScoped)]:
        if obj.tenant_id != tenant.id:
            raise TenancyError(f"refusing to change {obj!r} of another tenant")
