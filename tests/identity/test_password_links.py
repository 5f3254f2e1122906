"""One-time password-set links: work once, expire, and are replaced by newer ones."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.errors import NotFound, ValidationFailed
from app.core.tenancy import tenant_context
from app.identity import services
from app.identity.models import PasswordSetToken
from tests import factories
from tests.conftest import sign_in


def _issue(tenant, membership) -> str:
    with tenant_context(tenant):
        return services.issue_password_link(membership, actor=system_actor(tenant))


def test_link_sets_password_once(web, tenant_a):
    member = factories.make_member(tenant_a, password=None)
    raw = _issue(tenant_a, member)
    page = web.get(f"/password/set/{raw}")
    assert member.user.email in page.text
    form = page.forms[0]
    form["password"] = form["confirm"] = "a brand new passphrase"
    assert form.submit().status_int == 303
    assert sign_in(web, member.user.email, "a brand new passphrase").status_int == 303
    again = web.get(f"/password/set/{raw}", status=404)
    assert "already used" in again.text


def test_weak_or_mismatched_password_keeps_the_link_usable(web, tenant_a):
    member = factories.make_member(tenant_a, password=None)
    raw = _issue(tenant_a, member)
    form = web.get(f"/password/set/{raw}").forms[0]
    form["password"], form["confirm"] = "short", "short"
    res = form.submit(status=422)
    assert "at least 12 characters" in res.text
    form = res.forms[0]
    form["password"], form["confirm"] = "one long passphrase", "another long passphrase"
    assert "differ" in form.submit(status=422).text
    assert web.get(f"/password/set/{raw}").status_int == 200


def test_expired_and_replaced_links_are_refused(tenant_a):
    member = factories.make_member(tenant_a, password=None)
    first = _issue(tenant_a, member)
    second = _issue(tenant_a, member)
    with pytest.raises(NotFound, match="already used or replaced"):
        services.find_password_token(first)
    with tenant_context(tenant_a):
        db.session.execute(sa.update(PasswordSetToken).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    with pytest.raises(NotFound, match="expired"):
        services.find_password_token(second)
    with pytest.raises(NotFound, match="not valid"):
        services.find_password_token("made-up-token")


def test_password_rules(tenant_a):
    member = factories.make_member(tenant_a, password=None)
    raw = _issue(tenant_a, member)
    with pytest.raises(ValidationFailed) as exc:
        services.set_password_with_link(raw, member.user.email, member.user.email)
    assert "cannot be your email" in str(exc.value.field_errors)


def test_an_admin_of_one_tenant_cannot_reset_credentials_shared_with_another(tenant_a, tenant_b):
    from app.core.errors import Conflict
    from app.identity.auth import member_actor

    shared = factories.make_member(tenant_a, role="analyst", email="shared@example.test")
    factories.make_member(tenant_b, role="analyst", email="shared@example.test")
    admin_a = factories.make_member(tenant_a, role="admin")
    with tenant_context(tenant_a), pytest.raises(Conflict, match="also signs in to Tenant B"):
        services.issue_password_link(shared, actor=member_actor(admin_a))
    # An admin of both tenants may.
    factories.make_member(tenant_b, role="admin", email=admin_a.user.email)
    with tenant_context(tenant_a):
        assert services.issue_password_link(shared, actor=member_actor(admin_a))
