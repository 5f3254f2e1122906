"""The members page: roles, deactivation, MFA resets, password links, adding members, who may see what."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pyotp
import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.tenancy import tenant_context
from app.identity import services
from app.identity.models import Membership, User
from tests import factories
from tests.conftest import sign_in

HX = {"HX-Request": "true"}


def _form(page, action_suffix: str):
    """The form on the page whose action ends with action_suffix."""
    forms = [f for f in page.forms.values() if (f.action or "").endswith(action_suffix)]
    assert forms, f"no form posting to …{action_suffix}"
    return forms[0]


def _row(page, membership):
    row = page.pyquery(f"#member-{membership.public_id}")
    assert row, f"no row for {membership.user.email}"
    return row


def _fresh(membership) -> Membership:
    db.session.expire_all()
    with tenant_context(membership.tenant):
        return db.session.scalar(sa.select(Membership).where(Membership.id == membership.id))


def _audit(action: str, target_id: str) -> list[AuditRecord]:
    return list(db.session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == action, AuditRecord.target_id == target_id)
    ))


def _assert_fragment(res, membership):
    assert res.status_int == 200
    assert "<html" not in res.text
    assert res.text.lstrip().startswith(f'<tr id="member-{membership.public_id}"')
    assert "HX-Request" in res.headers.get("Vary", "")
    return json.loads(res.headers["HX-Trigger"])


def _enrol_mfa(membership) -> None:
    with tenant_context(membership.tenant):
        user = db.session.get(User, membership.user_id)
        secret = services.begin_totp_enrolment(user)
        services.confirm_totp_enrolment(user, pyotp.TOTP(secret).now(), actor=system_actor(membership.tenant))


# --- the page ------------------------------------------------------------------------------


def test_admin_sees_members_with_controls(login_as, tenant_a):
    client = login_as("admin")
    member = factories.make_member(tenant_a, role="analyst", name="Ana Lyst")
    page = client.get("/admin/members")
    row = _row(page, member)
    assert "Ana Lyst" in row.text() and member.user.email in row.text()
    assert row.find("select[name=role] option[selected]").attr("value") == "analyst"
    assert "Active" in row.text() and "Off" in row.text()
    assert page.pyquery(f'a[href="/admin/members/{member.public_id}/deactivate"]')
    assert page.pyquery('a[href="/admin/members/new"]')
    # The signed-in admin cannot deactivate themself from the list.
    assert not page.pyquery(f'a[href="/admin/members/{client.membership.public_id}/deactivate"]')


def test_auditor_sees_members_read_only(login_as, tenant_a):
    client = login_as("auditor")
    member = factories.make_member(tenant_a, role="analyst")
    page = client.get("/admin/members")
    assert member.user.email in _row(page, member).text()
    assert [f.action for f in page.forms.values() if (f.action or "").startswith("/admin")] == []
    assert not page.pyquery("#main select")
    assert not page.pyquery('a[href="/admin/members/new"]')
    assert "not change them" in page.text
    client.get("/admin/members/new", status=403)
    client.get(f"/admin/members/{member.public_id}/deactivate", status=403)


@pytest.mark.parametrize("role", ["analyst", "responder", "compliance"])
def test_other_roles_get_403(login_as, tenant_a, role):
    client = login_as(role)
    member = factories.make_member(tenant_a)
    res = client.get("/admin/members", status=403)
    assert "Not allowed" in res.text
    client.get("/admin/members/new", status=403)
    client.get(f"/admin/members/{member.public_id}/reset-mfa", status=403)


def test_another_tenants_member_is_404(login_as, tenant_a, tenant_b):
    stranger = factories.make_member(tenant_a, role="analyst")
    client = login_as("admin", tenant=tenant_b)
    page = client.get("/admin/members")
    assert stranger.user.email not in page.text
    token = _form(page, f"/members/{client.membership.public_id}/role")["csrf_token"].value
    for suffix in ("deactivate", "reset-mfa"):
        client.get(f"/admin/members/{stranger.public_id}/{suffix}", status=404)
    for suffix in ("role", "deactivate", "reactivate", "reset-mfa", "password-link"):
        res = client.post(f"/admin/members/{stranger.public_id}/{suffix}", {"csrf_token": token, "role": "admin"},
                          status=404)
        assert "not found" in res.text.lower()
    assert _fresh(stranger).role == "analyst" and _fresh(stranger).is_active


# --- roles ---------------------------------------------------------------------------------


def test_change_role_without_js_redirects_and_is_audited(login_as, tenant_a):
    client = login_as("admin")
    member = factories.make_member(tenant_a, role="analyst")
    form = _form(client.get("/admin/members"), f"/members/{member.public_id}/role")
    form["role"] = "responder"
    res = form.submit(status=303)
    assert res.headers["Location"].endswith("/admin/members")
    page = res.follow()
    assert f"{member.user.email} is now responder." in page.pyquery("#flash").text()
    assert _row(page, member).find("option[selected]").attr("value") == "responder"
    records = _audit("member.role_changed", member.public_id)
    assert [(r.before, r.after, r.actor_label) for r in records] == [
        ({"role": "analyst"}, {"role": "responder"}, client.membership.user.email)
    ]


def test_change_role_with_htmx_swaps_the_row(login_as, tenant_a):
    client = login_as("admin")
    member = factories.make_member(tenant_a, role="analyst")
    form = _form(client.get("/admin/members"), f"/members/{member.public_id}/role")
    form["role"] = "compliance"
    res = form.submit(headers=HX)
    trigger = _assert_fragment(res, member)
    assert trigger["flash"] == {"message": f"{member.user.email} is now compliance.", "category": "success"}
    assert "member-updated" in trigger
    assert res.pyquery("option[selected]").attr("value") == "compliance"
    assert _fresh(member).role == "compliance"
    assert len(_audit("member.role_changed", member.public_id)) == 1


@pytest.mark.parametrize("htmx", [False, True])
def test_demoting_the_last_admin_is_409_with_a_message(login_as, htmx):
    client = login_as("admin")
    me = client.membership
    form = _form(client.get("/admin/members"), f"/members/{me.public_id}/role")
    form["role"] = "analyst"
    res = form.submit(headers=HX if htmx else {}, status=409)
    message = "This is the tenant's last active admin; make someone else admin first."
    if htmx:
        assert "<html" not in res.text
        assert json.loads(res.headers["HX-Trigger"])["flash"] == {"message": message, "category": "error"}
    else:
        assert message in res.pyquery(".form-error").text()
        assert _row(res, me)  # the user stays on the members page
    assert _fresh(me).role == "admin"
    assert _audit("member.role_changed", me.public_id) == []


def test_an_unknown_role_is_422(login_as, tenant_a):
    client = login_as("admin")
    member = factories.make_member(tenant_a, role="analyst")
    form = _form(client.get("/admin/members"), f"/members/{member.public_id}/role")
    form["role"].force_value("owner")
    res = form.submit(status=422)
    assert "Not a valid choice" in res.pyquery(".form-error").text()
    assert _fresh(member).role == "analyst"


# --- deactivate and reactivate ---------------------------------------------------------------


def test_deactivate_asks_on_a_page_then_ends_the_members_sessions(login_as):
    admin = login_as("admin")
    victim_client = login_as("analyst")
    victim = victim_client.membership
    assert victim_client.get("/dashboard").status_int == 200

    confirm = admin.get("/admin/members").click(href=f"/admin/members/{victim.public_id}/deactivate$")
    assert victim.user.email in confirm.text and "signed out" in confirm.text
    page = _form(confirm, f"/members/{victim.public_id}/deactivate").submit(status=303).follow()
    assert "deactivated and signed out" in page.pyquery("#flash").text()
    assert "Deactivated" in _row(page, victim).text()

    res = victim_client.get("/dashboard", status=302)
    assert urlparse(res.headers["Location"]).path == "/login"
    refused = sign_in(victim_client, victim.user.email)
    assert refused.status_int == 403 and "no access to any workspace" in refused.text
    assert len(_audit("member.deactivated", victim.public_id)) == 1


def test_deactivate_with_htmx_returns_the_row(login_as, tenant_a):
    admin = login_as("admin")
    victim = factories.make_member(tenant_a, role="analyst")
    confirm = admin.get(f"/admin/members/{victim.public_id}/deactivate")
    res = _form(confirm, "/deactivate").submit(headers=HX)
    trigger = _assert_fragment(res, victim)
    assert trigger["flash"]["message"] == f"{victim.user.email} is deactivated and signed out."
    assert "Reactivate" in res.text
    assert not _fresh(victim).is_active


def test_deactivating_yourself_is_409_on_the_confirm_page(login_as, tenant_a):
    admin = login_as("admin")
    factories.make_member(tenant_a, role="admin")  # not the last admin: the self rule answers
    confirm = admin.get(f"/admin/members/{admin.membership.public_id}/deactivate")
    res = _form(confirm, "/deactivate").submit(status=409)
    assert "You cannot deactivate yourself." in res.pyquery(".form-error").text()
    assert _fresh(admin.membership).is_active


@pytest.mark.parametrize("htmx", [False, True])
def test_reactivate(login_as, tenant_a, web, htmx):
    admin = login_as("admin")
    member = factories.make_member(tenant_a, role="analyst")
    with tenant_context(tenant_a):
        services.set_member_active(_fresh(member), False, actor=system_actor(tenant_a))
    page = admin.get("/admin/members")
    assert "Deactivated" in _row(page, member).text()
    res = _form(page, f"/members/{member.public_id}/reactivate").submit(headers=HX if htmx else {})
    if htmx:
        trigger = _assert_fragment(res, member)
        assert trigger["flash"]["message"] == f"{member.user.email} can sign in to this tenant again."
        assert "Active" in res.text
    else:
        assert res.status_int == 303
        assert "Active" in _row(res.follow(), member).text()
    assert sign_in(web, member.user.email).status_int == 303
    assert len(_audit("member.reactivated", member.public_id)) == 1


# --- MFA reset ------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
def test_reset_mfa_after_a_confirmation_page(login_as, tenant_a, htmx):
    admin = login_as("admin")
    member = factories.make_member(tenant_a, role="responder")
    _enrol_mfa(member)
    page = admin.get("/admin/members")
    assert "On" in _row(page, member).find("td").eq(2).text()
    confirm = page.click(href=f"/admin/members/{member.public_id}/reset-mfa$")
    assert "authenticator" in confirm.text
    res = _form(confirm, "/reset-mfa").submit(headers=HX if htmx else {})
    if htmx:
        assert "has no authenticator now" in _assert_fragment(res, member)["flash"]["message"]
        row = res.pyquery(f"#member-{member.public_id}")
    else:
        assert res.status_int == 303
        row = _row(res.follow(), member)
    assert "Off" in row.find("td").eq(2).text()
    assert not row.find(f'a[href$="{member.public_id}/reset-mfa"]')
    assert not _fresh(member).user.has_mfa
    assert len(_audit("mfa.reset", member.user.public_id)) == 1


def test_reset_mfa_of_a_member_without_it_is_409(login_as, tenant_a):
    admin = login_as("admin")
    member = factories.make_member(tenant_a)
    page = admin.get("/admin/members")
    assert not page.pyquery(f'a[href$="{member.public_id}/reset-mfa"]')
    confirm = admin.get(f"/admin/members/{member.public_id}/reset-mfa")
    assert "has no authenticator app or passkey to reset" in confirm.text
    token = _form(page, f"/members/{member.public_id}/role")["csrf_token"].value
    res = admin.post(f"/admin/members/{member.public_id}/reset-mfa", {"csrf_token": token}, status=409)
    assert "has no authenticator app or passkey to reset" in res.pyquery(".form-error").text()


# --- password links and adding members -------------------------------------------------------


def _shown_link(res) -> str:
    url = res.pyquery("#password-link").text()
    assert url and url.startswith("http://localhost/password/set/"), url
    assert res.pyquery('button[data-copy="password-link"]')
    return url


def _set_password_through(web, url: str, password: str) -> None:
    form = web.get(urlparse(url).path).forms[0]
    form["password"] = form["confirm"] = password
    assert form.submit().status_int == 303


def test_password_link_is_shown_once_and_works_once(login_as, tenant_a, web):
    admin = login_as("admin")
    member = factories.make_member(tenant_a, role="analyst", password=None)
    res = _form(admin.get("/admin/members"), f"/members/{member.public_id}/password-link").submit()
    assert res.status_int == 200
    url = _shown_link(res)
    assert "shown only this once" in res.text and "until" in res.text
    token = urlparse(url).path.rsplit("/", 1)[1]
    assert token not in admin.get("/admin/members").text

    _set_password_through(web, url, "a fresh admin-issued passphrase")
    assert sign_in(web, member.user.email, "a fresh admin-issued passphrase").status_int == 303

    web.reset()  # a second visitor, not signed in
    again = web.get(urlparse(url).path, status=404)
    assert "already used or replaced" in again.text
    assert len(_audit("password.link_issued", member.user.public_id)) == 1


def test_password_link_for_a_deactivated_member_is_409(login_as, tenant_a):
    admin = login_as("admin")
    member = factories.make_member(tenant_a)
    token = _form(admin.get("/admin/members"), f"/members/{member.public_id}/password-link")["csrf_token"].value
    with tenant_context(tenant_a):
        services.set_member_active(_fresh(member), False, actor=system_actor(tenant_a))
    res = admin.post(f"/admin/members/{member.public_id}/password-link", {"csrf_token": token}, status=409)
    assert "Reactivate the member" in res.pyquery(".form-error").text()


def test_add_member_then_they_set_a_password_and_sign_in(login_as, tenant_a, web):
    admin = login_as("admin")
    form = _form(admin.get("/admin/members").click(href="/admin/members/new$"), "/admin/members/new")
    form["email"], form["name"], form["role"] = "New.Person@Tenant-A.test", "New Person", "compliance"
    res = form.submit(status=200)
    assert "new.person@tenant-a.test was added as compliance." in res.text
    url = _shown_link(res)
    with tenant_context(tenant_a):
        member = db.session.scalar(sa.select(Membership).join(Membership.user)
                                   .where(User.email == "new.person@tenant-a.test"))
    assert member.role == "compliance" and member.user.password_hash is None
    assert _audit("member.added", member.public_id)

    _set_password_through(web, url, "the newcomer's own passphrase")
    landing = sign_in(web, "new.person@tenant-a.test", "the newcomer's own passphrase")
    assert landing.status_int == 303
    assert "New Person" in landing.follow().text


def _new_member_form(admin):
    return _form(admin.get("/admin/members/new"), "/admin/members/new")


def test_add_member_with_a_bad_email_is_422_and_keeps_what_was_typed(login_as):
    admin = login_as("admin")
    form = _new_member_form(admin)
    form["email"], form["name"], form["role"] = "not-an-email", "Typo Person", "auditor"
    res = form.submit(status=422)
    assert res.pyquery("#email-error").text()
    assert res.pyquery("#email").attr("aria-invalid") == "true"
    again = _form(res, "/admin/members/new")
    assert (again["email"].value, again["name"].value, again["role"].value) == ("not-an-email", "Typo Person",
                                                                               "auditor")


def test_add_an_existing_member_is_409(login_as, tenant_a):
    admin = login_as("admin")
    member = factories.make_member(tenant_a)
    form = _new_member_form(admin)
    form["email"] = member.user.email
    res = form.submit(status=409)
    assert f"{member.user.email} is already a member of this tenant." in res.pyquery(".form-error").text()
    assert _form(res, "/admin/members/new")["email"].value == member.user.email


def test_adding_someone_who_already_has_a_password_issues_no_link(login_as, tenant_a, tenant_b):
    elsewhere = factories.make_member(tenant_b, role="analyst")
    admin = login_as("admin")
    form = _new_member_form(admin)
    form["email"], form["role"] = elsewhere.user.email, "auditor"
    res = form.submit(status=200)
    assert "keeps their password" in res.text
    assert not res.pyquery("#password-link")
    assert _audit("password.link_issued", elsewhere.user.public_id) == []
