import re
from datetime import timedelta

import pyotp
import sqlalchemy as sa
import webtest

from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.identity.models import LoginThrottle, User
from tests import factories
from tests.conftest import sign_in


def _actions() -> list[str]:
    return [r.action for r in db.session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id))]


def test_sign_in_with_password_reaches_dashboard(web, tenant_a):
    member = factories.make_member(tenant_a, role="admin")
    res = sign_in(web, member.user.email)
    assert res.status_int == 303
    page = res.follow()
    assert "Dashboard" in page.text and tenant_a.name in page.text
    assert "auth.login" in _actions()


def test_wrong_password_and_unknown_email_get_the_same_answer(web, tenant_a):
    member = factories.make_member(tenant_a)
    wrong = sign_in(web, member.user.email, "not-the-password")
    unknown = sign_in(web, "nobody@tenant-a.test", "not-the-password")
    assert wrong.status_int == unknown.status_int == 401
    assert "Incorrect email or password." in wrong.text and "Incorrect email or password." in unknown.text
    assert wrong.pyquery("form").length == unknown.pyquery("form").length
    assert _actions().count("auth.login_failed") == 2
    # What was typed in the email field is kept.
    assert wrong.pyquery("#email").attr("value") == member.user.email


def test_repeated_failures_lock_the_account_then_unlock(app, web, tenant_a):
    member = factories.make_member(tenant_a)
    for _ in range(5):
        assert sign_in(web, member.user.email, "wrong-password-123").status_int == 401
    locked = sign_in(web, member.user.email)  # right password, but locked
    assert locked.status_int == 429
    assert "Too many failed attempts" in locked.text
    assert "auth.locked" in _actions()
    # Unknown emails lock the same way, so lock-out does not reveal which accounts exist.
    for _ in range(5):
        sign_in(web, "ghost@tenant-a.test", "wrong-password-123")
    assert sign_in(web, "ghost@tenant-a.test", "whatever-else-1").status_int == 429
    # When the lock expires the right password works again.
    db.session.execute(sa.update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert sign_in(web, member.user.email).status_int == 303


def test_deactivated_user_cannot_sign_in(web, tenant_a):
    member = factories.make_member(tenant_a)
    db.session.execute(sa.update(User).where(User.id == member.user_id).values(is_active=False))
    db.session.commit()
    assert sign_in(web, member.user.email).status_int == 401


def test_session_cookie_flags_and_rotation(web, tenant_a):
    member = factories.make_member(tenant_a)
    web.get("/login")
    before = web.cookies.get("vigil_session")
    res = sign_in(web, member.user.email)
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert web.cookies.get("vigil_session") != before


def test_sign_out_ends_the_session_server_side(app, web, tenant_a):
    member = factories.make_member(tenant_a)
    sign_in(web, member.user.email)
    stolen = web.cookies["vigil_session"]
    dash = web.get("/dashboard")
    dash.forms["logout-form"].submit()
    replay = webtest.TestApp(app)
    replay.set_cookie("vigil_session", stolen)
    assert replay.get("/dashboard").status_int == 302  # back to sign-in: the old cookie is dead


def test_open_redirect_after_login_is_refused(web, tenant_a):
    member = factories.make_member(tenant_a)
    web.get("/login?next=//evil.example/")
    res = sign_in(web, member.user.email)
    assert res.headers["Location"].endswith("/dashboard")


def test_post_without_csrf_token_is_refused(web, tenant_a):
    member = factories.make_member(tenant_a)
    res = web.post("/login", {"email": member.user.email, "password": factories.PASSWORD}, status=400)
    assert "Reload the page" in res.text


def test_tenant_switch(app, tenant_a, tenant_b):
    member = factories.make_member(tenant_a, role="admin", email="both@example.test")
    factories.make_member(tenant_b, role="analyst", email="both@example.test")
    client = webtest.TestApp(app)
    sign_in(client, member.user.email)
    dash = client.get("/dashboard")
    assert "Tenant A" in dash.text and "Tenant B" in dash.text  # the switcher offers both
    form = dash.forms["tenant-switch"]
    form["tenant"] = tenant_b.public_id
    switched = form.submit().follow()
    assert "Now working in Tenant B" in switched.text
    assert "signed in as analyst" in switched.text
    # A tenant the user is not a member of cannot be chosen.
    res = client.post("/tenant/switch", {"tenant": "not-a-tenant", "csrf_token": _csrf(switched)}, status=404)
    assert "not a member" in res.text


def _csrf(res) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', res.text).group(1)


def test_mfa_enrol_then_sign_in_needs_code(app, login_as):
    client = login_as("analyst")
    page = client.get("/account/mfa/enrol")
    secret = page.pyquery("#totp-secret").text()
    assert page.pyquery("img.qr").attr("src").startswith("data:image/svg+xml")
    form = page.forms["mfa-enrol-form"]
    form["code"] = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    wrong = form.submit(status=422)
    assert "does not match" in wrong.text
    form = wrong.forms["mfa-enrol-form"]
    form["code"] = pyotp.TOTP(secret).now()
    codes_page = form.submit()
    codes = [li.text for li in codes_page.pyquery("#recovery-codes li")]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "mfa.enrolled" in _actions()

    fresh = webtest.TestApp(app)
    step1 = sign_in(fresh, client.membership.user.email)
    assert step1.headers["Location"].endswith("/login/code")
    code_page = step1.follow()
    form = code_page.forms[0]
    form["code"] = "123456" if pyotp.TOTP(secret).now() != "123456" else "654321"
    bad = form.submit(status=401)
    assert "not valid" in bad.text
    # A recovery code works once.
    form = bad.forms[0]
    form["code"] = codes[0]
    assert form.submit().status_int == 303
    assert "mfa.recovery_code_used" in _actions()
    again = webtest.TestApp(app)
    form = sign_in(again, client.membership.user.email).follow().forms[0]
    form["code"] = codes[0]
    assert form.submit(status=401).status_int == 401


def test_totp_code_cannot_be_replayed(app, login_as):
    client = login_as("analyst")
    page = client.get("/account/mfa/enrol")
    secret = page.pyquery("#totp-secret").text()
    form = page.forms["mfa-enrol-form"]
    used = pyotp.TOTP(secret).now()
    form["code"] = used
    form.submit()
    fresh = webtest.TestApp(app)
    form = sign_in(fresh, client.membership.user.email).follow().forms[0]
    form["code"] = used  # the same step that confirmed enrolment
    assert form.submit(status=401).status_int == 401
