"""Policy ↔ control links: services, the policy and control pages, the API, tenancy, and the data migration."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.compliance import services as compliance
from app.core.actors import system_actor
from app.core.audit import AuditRecord
from app.core.db import db
from app.core.errors import NotFound
from app.core.tenancy import tenant_context
from app.governance import policies_services as services
from app.governance.policies_models import Policy, PolicyControl
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}


def _controls(tenant, *pairs):
    with tenant_context(tenant):
        actor = system_actor(tenant, "test")
        return [compliance.create_control(actor=actor, key=key, name=name) for key, name in pairs]


def _actions(tenant, in_tenant, prefix="policy.control_") -> list[tuple[str, dict | None, dict | None]]:
    with in_tenant(tenant):
        return [(r.action, r.before, r.after) for r in db.session.scalars(
            sa.select(AuditRecord).where(AuditRecord.action.startswith(prefix)).order_by(AuditRecord.id))]


def _links(tenant, in_tenant) -> list[str]:
    db.session.expire_all()
    with in_tenant(tenant):
        return sorted(link.control.key for link in db.session.scalars(sa.select(PolicyControl)))


# --- services ----------------------------------------------------------------------------------


def test_link_and_unlink_are_audited_and_linking_twice_changes_nothing(tenant_a, in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a)
    iam, logs = _controls(tenant_a, ("IAM-1", "Access reviews"), ("LOG-1", "Log retention"))
    with in_tenant(tenant_a):
        actor = system_actor(tenant_a, "test")
        policy = db.session.get(Policy, policy.id)
        services.link_control(policy, services.find_control("LOG-1"), actor=actor)
        services.link_control(policy, services.find_control(iam.public_id), actor=actor)
        services.link_control(policy, iam, actor=actor)  # again: no second link, no second record
        assert [c.key for c in policy.controls] == ["IAM-1", "LOG-1"]
        assert [p.title for p in services.policies_covering(iam)] == [policy.title]
        assert [c.key for c in services.linkable_controls(policy)] == []
        services.unlink_control(policy, logs, actor=actor)
        with pytest.raises(NotFound):
            services.unlink_control(policy, logs, actor=actor)
        assert [c.key for c in services.linkable_controls(policy, "log")] == ["LOG-1"]
        assert services.policies_covering(logs) == []
    assert _links(tenant_a, in_tenant) == ["IAM-1"]
    assert [(a, (b or a2)["control"]) for a, b, a2 in _actions(tenant_a, in_tenant)] == [
        ("policy.control_linked", "LOG-1"), ("policy.control_linked", "IAM-1"), ("policy.control_unlinked", "LOG-1")]


def test_another_tenants_control_cannot_be_found_or_linked(tenant_a, tenant_b, in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a)
    (theirs,) = _controls(tenant_b, ("B-1", "Tenant B's control"))
    with in_tenant(tenant_a):
        actor = system_actor(tenant_a, "test")
        policy = db.session.get(Policy, policy.id)
        for ref in (theirs.public_id, "B-1"):
            with pytest.raises(NotFound):
                services.find_control(ref)
        with pytest.raises(NotFound):  # even handed the object, the service keeps tenants apart
            services.link_control(policy, theirs, actor=actor)
    assert _links(tenant_a, in_tenant) == [] and _links(tenant_b, in_tenant) == []


def test_deleting_a_control_removes_its_links(tenant_a, in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a)
    (ctl,) = _controls(tenant_a, ("GONE-1", "Short-lived"))
    with in_tenant(tenant_a):
        actor = system_actor(tenant_a, "test")
        services.link_control(db.session.get(Policy, policy.id), ctl, actor=actor)
        compliance.delete_control(services.find_control("GONE-1"), actor=actor)
    assert _links(tenant_a, in_tenant) == []


# --- pages -------------------------------------------------------------------------------------


def test_officer_links_controls_with_the_htmx_picker_and_both_pages_show_it(login_as, tenant_a, in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a, title="Access control")
    iam, _net = _controls(tenant_a, ("IAM-1", "Access reviews"), ("NET-1", "Network segmentation"))
    officer = login_as("compliance")
    page = officer.get(f"/governance/policies/{policy.public_id}")
    assert "No control linked yet." in page.text
    options = officer.get(f"/governance/policies/{policy.public_id}/controls/options?q=access", headers=HX)
    assert "IAM-1" in options.text and "NET-1" not in options.text
    nothing = officer.get(f"/governance/policies/{policy.public_id}/controls/options?q=zzz", headers=HX)
    assert "No control matches “zzz”" in nothing.text

    res = officer.post(f"/governance/policies/{policy.public_id}/controls",
                       {"csrf_token": csrf_from(page), "control": iam.public_id}, headers=HX)
    assert res.status_int == 200 and res.text.lstrip().startswith('<article id="policy-controls"')
    assert f'href="/compliance/controls/{iam.public_id}"' in res.text
    assert f'<option value="{iam.public_id}"' not in res.text  # no longer offered

    control_page = officer.get(f"/compliance/controls/{iam.public_id}")
    assert f'href="/governance/policies/{policy.public_id}"' in control_page.pyquery("#control-policies").html()

    # Without JavaScript: a plain POST, redirected back to the policy with a flash.
    page = officer.get(f"/governance/policies/{policy.public_id}")
    done = officer.post(f"/governance/policies/{policy.public_id}/controls/{iam.public_id}/remove",
                        {"csrf_token": csrf_from(page)}, status=303).follow()
    assert "IAM-1 no longer linked" in done.text and "No control linked yet." in done.text
    assert _links(tenant_a, in_tenant) == []
    assert "No policy covers this control yet" in officer.get(f"/compliance/controls/{iam.public_id}").text


def test_unknown_or_foreign_control_is_a_404_with_the_reason_and_nothing_linked(login_as, tenant_a, tenant_b,
                                                                                in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a)
    (theirs,) = _controls(tenant_b, ("B-1", "Tenant B's control"))
    officer = login_as("compliance")
    page = officer.get(f"/governance/policies/{policy.public_id}")
    url = f"/governance/policies/{policy.public_id}/controls"
    res = officer.post(url, {"csrf_token": csrf_from(page), "control": theirs.public_id}, headers=HX, status=404)
    assert "No such control in this tenant" in res.text and 'id="policy-controls"' in res.text
    res = officer.post(url, {"csrf_token": csrf_from(page), "control": ""}, status=404)
    assert "No such control in this tenant" in res.text and "<h1>" in res.text  # the full page, with the reason
    res = officer.post(f"{url}/{theirs.public_id}/remove", {"csrf_token": csrf_from(page)}, status=404)
    assert _links(tenant_a, in_tenant) == [] and _links(tenant_b, in_tenant) == []


def test_readers_see_links_but_cannot_change_them(login_as, tenant_a, in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a)
    (ctl,) = _controls(tenant_a, ("IAM-1", "Access reviews"))
    with in_tenant(tenant_a):
        services.link_control(db.session.get(Policy, policy.id), ctl, actor=system_actor(tenant_a, "test"))
    auditor = login_as("auditor")
    page = auditor.get(f"/governance/policies/{policy.public_id}")
    assert "IAM-1" in page.text and "Link control" not in page.text and "Remove" not in page.text
    auditor.post(f"/governance/policies/{policy.public_id}/controls/{ctl.public_id}/remove",
                 {"csrf_token": csrf_from(page)}, status=403)
    assert _links(tenant_a, in_tenant) == ["IAM-1"]
    # The policy list shows the keys too.
    assert "IAM-1" in auditor.get("/governance/policies").pyquery(".policy-table").text()


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_links_and_adds_and_removes_them(client, member_token, tenant_a, tenant_b, in_tenant):
    policy, _ = factories.make_policy_in_review(tenant_a)
    iam, logs = _controls(tenant_a, ("IAM-1", "Access reviews"), ("LOG-1", "Log retention"))
    (theirs,) = _controls(tenant_b, ("B-1", "Tenant B's control"))
    _m, token = member_token(tenant_a, role="compliance")
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/policies/{policy.public_id}"

    res = client.post(f"{base}/controls", headers=auth, json={"control": "IAM-1"})
    assert res.status_code == 201, res.json
    res = client.post(f"{base}/controls", headers=auth, json={"control": logs.public_id})
    assert [(c["key"], c["id"]) for c in res.json["data"]["controls"]] == [("IAM-1", iam.public_id),
                                                                          ("LOG-1", logs.public_id)]
    assert client.get(base, headers=auth).json["data"]["controls"][0] == {"id": iam.public_id, "key": "IAM-1",
                                                                          "name": "Access reviews"}
    for ref in (theirs.public_id, "B-1", "NOPE-9"):
        res = client.post(f"{base}/controls", headers=auth, json={"control": ref})
        assert res.status_code == 404 and res.json["error"]["code"] == "not_found"
    assert client.post(f"{base}/controls", headers=auth, json={}).status_code == 422

    res = client.delete(f"{base}/controls/{iam.public_id}", headers=auth)
    assert res.status_code == 200 and [c["key"] for c in res.json["data"]["controls"]] == ["LOG-1"]
    assert client.delete(f"{base}/controls/{iam.public_id}", headers=auth).status_code == 404
    assert client.delete(f"{base}/controls/{theirs.public_id}", headers=auth).status_code == 404
    _r, reader = member_token(tenant_a, role="auditor")
    res = client.delete(f"{base}/controls/LOG-1", headers={"Authorization": f"Bearer {reader}"})
    assert res.status_code == 403
    assert _links(tenant_a, in_tenant) == ["LOG-1"]
    assert [a for a, _b, _a in _actions(tenant_a, in_tenant)] == ["policy.control_linked"] * 2 + [
        "policy.control_unlinked"]


# --- the data migration --------------------------------------------------------------------------


def test_migration_turns_text_keys_into_links_within_the_tenant_and_back(tmp_path):
    from alembic.script import ScriptDirectory
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from app.identity.services import create_tenant

    instance = tmp_path / "instance"
    scratch = create_app({"instance_path": str(instance), "database_url": f"sqlite:///{instance / 'm.db'}",
                          "secret_key": "migration-test-secret-key-0123456789", "testing": True})
    with scratch.app_context():
        upgrade()
        acme, other = create_tenant("acme-m", "Acme"), create_tenant("other-m", "Other")
        _controls(other, ("B-1", "Other tenant's control"))
        _controls(acme, ("IAM-1", "Access reviews"), ("LOG-1", "Log retention"))
        with tenant_context(acme):
            actor = system_actor(acme, "test")
            policy = services.create_policy(actor=actor, title="Access", body="# Access")
            services.link_control(policy, services.find_control("IAM-1"), actor=actor)
            policy_id, acme_id = policy.id, acme.id
        db.session.remove()
        engine = db.engine
        before = ScriptDirectory.from_config(scratch.extensions["migrate"].migrate.get_config()) \
            .get_revision("0017_policy_controls").down_revision

        downgrade(revision=before)
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT control_refs FROM policies WHERE id = :i"),
                                {"i": policy_id}).scalar_one() in ('["IAM-1"]', ["IAM-1"])
            # Keys from before the links: one of this tenant, one of another tenant, one of nobody.
            conn.execute(sa.text("UPDATE policies SET control_refs = :r WHERE id = :i"),
                         {"r": '["LOG-1", "B-1", "ISO-A.5", "LOG-1", "IAM-1"]', "i": policy_id})

        upgrade()
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT c.key, l.tenant_id FROM policy_controls l JOIN compliance_controls c ON c.id = l.control_id "
                "WHERE l.policy_id = :i ORDER BY c.key"), {"i": policy_id}).all()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("policies")}
            versions = conn.execute(sa.text("SELECT count(*) FROM policy_versions WHERE policy_id = :i"),
                                    {"i": policy_id}).scalar_one()
        assert rows == [("IAM-1", acme_id), ("LOG-1", acme_id)] and "control_refs" not in columns
        assert versions == 1, "rebuilding the policies table cascaded to its versions"
        engine.dispose()


def test_demo_policies_link_the_demo_controls_that_exist(tenant_a, in_tenant):
    from app.governance.policies_demo import seed_policies

    for email, role in (("admin@acme.test", "admin"), ("compliance@acme.test", "compliance")):
        factories.make_member(tenant_a, role=role, email=email)
    _controls(tenant_a, ("VC-01", "AI policy"), ("VC-52", "Identity and access management"))
    assert seed_policies(tenant_a)
    db.session.expire_all()
    with in_tenant(tenant_a):
        linked = {p.title: [c.key for c in p.controls] for p in services.list_policies()}
    assert linked["Access control"] == ["VC-52"] and linked["AI acceptable use"] == ["VC-01"]
    assert linked["Incident response"] == []  # its controls were not adopted in this tenant: skipped
