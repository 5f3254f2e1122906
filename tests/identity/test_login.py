from app.core.audit import AuditRecord
from app.core.db import db
from tests import factories
from tests.conftest import sign_in


def test_sign_in_with_password_reaches_dashboard(web, tenant_a):
    member = factories.make_member(tenant_a, role="admin")
    res = sign_in(web, member.user.email)
    assert res.status_int == 303
    page = res.follow()
    assert "Dashboard" in page.text and tenant_a.name in page.text


def test_wrong_password_and_unknown_email_get_the_same_answer(web, tenant_a):
    member = factories.make_member(tenant_a)
    wrong = sign_in(web, member.user.email, "not-the-password", )
    unknown = sign_in(web, "nobody@tenant-a.test", "not-the-password")
    assert wrong.status_int == unknown.status_int == 401
    assert "Incorrect email or password." in wrong.text and "Incorrect email or password." in unknown.text
    actions = [r.action for r in db.session.scalars(db.select(AuditRecord))]
    assert actions.count("auth.login_failed") == 2
