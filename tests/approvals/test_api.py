"""Approvals and policies over /api/v1: custom-method routes, envelope, step-up, stale versions, OpenAPI."""

from __future__ import annotations

from tests import factories
from tests.identity.authenticators import SoftAuthenticator
from tests.identity.test_passkeys import register


def _token(client, membership) -> dict:
    res = client.post("/api/v1/auth/token", json={"email": membership.user.email, "password": factories.PASSWORD,
                                                  "tenant": membership.tenant.slug})
    return {"Authorization": f"Bearer {res.json['data']['access_token']}"}


def _policy_in_review(client, officer) -> tuple[str, dict]:
    res = client.post("/api/v1/policies", headers=officer, json={
        "title": "Vendor management", "body": "# Vendors\n\nReview every AI vendor."})
    assert res.status_code == 201, res.json
    policy = res.json["data"]
    res = client.post(f"/api/v1/policies/{policy['id']}/versions/1:request-review", headers=officer,
                      json={"approver_role": "admin", "due_hours": 48})
    assert res.status_code == 201, res.json
    return policy["id"], res.json["data"]


def test_colon_routes_reach_their_views(app):
    adapter = app.url_map.bind("localhost")
    for verb in ("approve", "reject", "verify", "challenge", "cancel"):
        endpoint, args = adapter.match(f"/api/v1/approvals/abc:{verb}", method="POST")
        assert endpoint == f"api.approvals_api.approvals_{verb}" and args == {"request_id": "abc"}
    assert adapter.match("/api/v1/approvals/abc", method="GET")[0] == "api.approvals_api.approvals_get"
    assert adapter.match("/api/v1/policies/p:acknowledge", method="POST")[0] == "api.policies_api.policies_acknowledge"


def test_policy_review_approved_over_the_api_with_a_passkey(app, client, login_as, tenant_a):
    officer = _token(client, factories.make_member(tenant_a, role="compliance"))
    admin_web = login_as("admin")
    # Identity issues no JWT to an account with a second factor, so the token is taken before the
    # passkey is added (an API key has no person behind it and can never decide).
    admin = _token(client, admin_web.membership)
    device = SoftAuthenticator()
    register(admin_web, device)
    policy_id, approval = _policy_in_review(client, officer)
    assert approval["status"] == "pending" and approval["high_impact"] and approval["subject_type"] == "policy_version"
    waiting = client.get("/api/v1/approvals?tab=waiting", headers=admin).json["data"]
    assert [a["id"] for a in waiting] == [approval["id"]]
    url = f"/api/v1/approvals/{approval['id']}"
    # The requester may not approve their own request.
    own = client.post(f"{url}:approve", headers=officer, json={"comment": "mine", "version": 1})
    assert own.status_code == 403 and own.json["error"]["code"] == "forbidden"
    # High impact: without a step-up the answer says so and nothing changes.
    bare = client.post(f"{url}:approve", headers=admin, json={"comment": "ok", "version": 1})
    assert bare.status_code == 401 and bare.json["error"]["code"] == "step_up_required"
    assert bare.json["error"]["details"]["method"] == "passkey"
    options = client.post(f"{url}:challenge", headers=admin, json={"outcome": "approve", "version": 1}).json["data"]
    stale = client.post(f"{url}:approve", headers=admin, json={"comment": "ok", "version": 7,
                                                               "step_up": {"assertion": device.get(options)}})
    assert stale.status_code == 409 and "changed while you were looking" in stale.json["error"]["message"]
    options = client.post(f"{url}:challenge", headers=admin, json={"outcome": "approve", "version": 1}).json["data"]
    done = client.post(f"{url}:approve", headers=admin, json={"comment": "Approved", "version": 1,
                                                              "step_up": {"assertion": device.get(options)}})
    assert done.status_code == 200, done.json
    assert done.json["data"]["status"] == "approved"
    assert done.json["data"]["steps"][0]["decisions"][0]["step_up_method"] == "passkey"
    twice = client.post(f"{url}:approve", headers=admin, json={"comment": "again", "version": 2})
    assert twice.status_code == 409 and "already approved" in twice.json["error"]["message"]
    policy = client.get(f"/api/v1/policies/{policy_id}", headers=officer).json["data"]
    assert policy["published_version"] == 1 and policy["versions"][0]["status"] == "published"
    [check] = client.post(f"{url}:verify", headers=officer).json["data"]
    assert check["status"] == "verified"
    ack = client.post(f"/api/v1/policies/{policy_id}:acknowledge", headers=officer)
    assert ack.status_code == 201 and ack.json["data"]["version"] == 1
    assert client.post(f"/api/v1/policies/{policy_id}:acknowledge", headers=officer).status_code == 409


def test_bad_input_answers_in_the_envelope(client, tenant_a):
    officer = _token(client, factories.make_member(tenant_a, role="compliance"))
    factories.make_member(tenant_a, role="admin")
    res = client.post("/api/v1/approvals", headers=officer, json={"subject_type": "policy_version",
                                                                  "subject_id": "nope", "steps": [{"role": "admin"}]})
    assert res.status_code == 422 and "subject_id" in res.json["error"]["details"]["fields"]
    res = client.post("/api/v1/approvals", headers=officer, json={"subject_type": "x", "steps": []})
    assert res.status_code == 422
    res = client.post("/api/v1/policies", headers=officer, json={"title": "", "body": "b"})
    assert res.status_code == 422 and "title" in res.json["error"]["details"]["fields"]
    policy_id, approval = _policy_in_review(client, officer)
    res = client.patch(f"/api/v1/policies/{policy_id}/versions/1", headers=officer, json={"body": "changed"})
    assert res.status_code == 409 and "in review" in res.json["error"]["message"]
    res = client.get(f"/api/v1/policies/{policy_id}/diff?from=1&to=x", headers=officer)
    assert res.status_code == 422


def test_another_tenants_approval_is_a_404(client, tenant_a, tenant_b):
    officer = _token(client, factories.make_member(tenant_a, role="compliance"))
    factories.make_member(tenant_a, role="admin")
    _policy_id, approval = _policy_in_review(client, officer)
    outsider = _token(client, factories.make_member(tenant_b, role="admin"))
    assert client.get(f"/api/v1/approvals/{approval['id']}", headers=outsider).status_code == 404
    res = client.post(f"/api/v1/approvals/{approval['id']}:approve", headers=outsider,
                      json={"comment": "x", "version": 1})
    assert res.status_code == 404
    assert client.get("/api/v1/approvals", headers=outsider).json["data"] == []


def test_openapi_documents_the_approval_and_policy_routes(client, tenant_a):
    officer = _token(client, factories.make_member(tenant_a, role="compliance"))
    paths = client.get("/api/v1/openapi.json", headers=officer).json["paths"]
    for path in ("/api/v1/approvals", "/api/v1/approvals/{request_id}:approve", "/api/v1/approvals/{request_id}:verify",
                 "/api/v1/policies", "/api/v1/policies/{policy_id}/versions/{number}:request-review"):
        assert any(p.endswith(path.removeprefix("/api/v1")) for p in paths), path
