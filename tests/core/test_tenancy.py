"""Scoping happens in one place and fails closed."""

import pytest
import sqlalchemy as sa

from app.core.db import db
from app.core.errors import NotFound, TenancyError
from app.core.tenancy import get_or_404, tenant_context
from app.identity.models import ApiKey, Membership
from tests import factories


def test_scoped_query_without_tenant_context_raises(tenant_a):
    factories.make_member(tenant_a)
    with pytest.raises(TenancyError):
        db.session.scalars(sa.select(Membership)).all()


def test_count_with_select_from_is_scoped_and_fails_closed(tenant_a, tenant_b):
    factories.make_member(tenant_a)
    factories.make_member(tenant_b)
    factories.make_member(tenant_b)
    count = sa.select(sa.func.count()).select_from(Membership)
    with tenant_context(tenant_a):
        assert db.session.scalar(count) == 1
    with tenant_context(tenant_b):
        assert db.session.scalar(count) == 2
    with pytest.raises(TenancyError):
        db.session.scalar(count)


def test_subquery_and_join_are_scoped(tenant_a, tenant_b):
    a = factories.make_member(tenant_a)
    factories.make_member(tenant_b)
    from app.identity.models import User

    with tenant_context(tenant_a):
        emails = db.session.scalars(
            sa.select(User.email).where(User.id.in_(sa.select(Membership.user_id)))
        ).all()
        joined = db.session.scalars(sa.select(User.email).join(Membership, Membership.user_id == User.id)).all()
    assert emails == [a.user.email] and joined == [a.user.email]


def test_get_or_404_hides_other_tenants_rows(tenant_a, tenant_b):
    b = factories.make_member(tenant_b)
    with tenant_context(tenant_a), pytest.raises(NotFound):
        get_or_404(Membership, b.public_id)
    with tenant_context(tenant_b):
        assert get_or_404(Membership, b.public_id).id == b.id


def test_new_rows_are_stamped_with_the_current_tenant(tenant_a):
    key, _raw = factories.make_api_key(tenant_a, scopes=["users:read"])
    assert key.tenant_id == tenant_a.id


def test_writing_into_another_tenant_is_refused(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        db.session.add(ApiKey(tenant_id=tenant_b.id, name="x", prefix="vgl_x", key_hash="0" * 64, scopes=[]))
        with pytest.raises(TenancyError):
            db.session.flush()
    db.session.rollback()


def test_bulk_update_is_scoped(tenant_a, tenant_b):
    factories.make_api_key(tenant_a, scopes=["users:read"], name="a")
    factories.make_api_key(tenant_b, scopes=["users:read"], name="b")
    with tenant_context(tenant_a):
        db.session.execute(sa.update(ApiKey).values(name="renamed"))
        db.session.commit()
    names = db.session.scalars(sa.select(ApiKey.name).execution_options(all_tenants=True)).all()
    assert sorted(names) == ["b", "renamed"]
