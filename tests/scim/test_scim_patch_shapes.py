"""The exact payloads Okta and Microsoft Entra ID send, as raw JSON, and the SCIM errors for bad ones."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.db import db
from app.identity.models import User as Account
from tests.scim.conftest import SCIM_JSON, okta_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _patch(*operations) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


def _account(email: str) -> Account:
    db.session.expire_all()
    return db.session.scalar(sa.select(Account).where(Account.email == email))


def _new_user(scim, email: str) -> str:
    res = scim("POST", "/Users", okta_user(email))
    assert res.status_code == 201, res.json
    return res.json["id"]


# --- Okta ------------------------------------------------------------------------------------


def test_okta_deactivates_and_reactivates_with_a_pathless_replace(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "okta.user@corp.example")

    res = scim("PATCH", f"/Users/{uid}", _patch({"op": "replace", "value": {"active": False}}))
    assert res.status_code == 200 and res.content_type == SCIM_JSON and res.json["active"] is False
    assert scim("GET", f"/Users/{uid}").json["active"] is False

    res = scim("PATCH", f"/Users/{uid}", _patch({"op": "replace", "value": {"active": True}}))
    assert res.json["active"] is True


def test_okta_password_push_is_ignored(tenant_a, scim_token, raw_scim):
    """The account is global: a tenant's IdP never sets the password another tenant may rely on."""
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "nopass@corp.example")
    assert _account("nopass@corp.example").password_hash is None  # the POST's password was not stored

    res = scim("PATCH", f"/Users/{uid}", _patch({"op": "replace", "value": {"password": "Fresh-Passw0rd!"}}))
    assert res.status_code == 200 and "password" not in res.json
    assert _account("nopass@corp.example").password_hash is None


def test_okta_put_replaces_the_user(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "put.me@corp.example")
    body = okta_user("put.me@corp.example", external_id="00u-new", title="Threat hunter")
    body["name"] = {"givenName": "Put", "familyName": "Replaced"}
    body.pop("locale")
    res = scim("PUT", f"/Users/{uid}", body)
    assert res.status_code == 200
    assert res.json["externalId"] == "00u-new" and res.json["title"] == "Threat hunter"
    assert "locale" not in res.json and res.json["name"]["familyName"] == "Replaced"
    assert _account("put.me@corp.example").name == "Put Replaced"


def test_okta_group_push_adds_removes_and_renames(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    ada, bob = _new_user(scim, "ada@corp.example"), _new_user(scim, "bob@corp.example")
    res = scim("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                   "displayName": "Okta SOC", "members": []})
    assert res.status_code == 201
    gid = res.json["id"]

    res = scim("PATCH", f"/Groups/{gid}", _patch({"op": "add", "path": "members", "value": [
        {"value": ada, "display": "ada@corp.example"}, {"value": bob, "display": "bob@corp.example"}]}))
    assert res.status_code == 200 and {m["value"] for m in res.json["members"]} == {ada, bob}

    res = scim("PATCH", f"/Groups/{gid}", _patch({"op": "remove", "path": f'members[value eq "{ada}"]'}))
    assert [m["value"] for m in res.json["members"]] == [bob]

    res = scim("PATCH", f"/Groups/{gid}", _patch({"op": "replace", "value": {"id": gid, "displayName": "SOC"}}))
    assert res.json["displayName"] == "SOC" and res.json["id"] == gid


# --- Microsoft Entra ID ----------------------------------------------------------------------


def test_entra_disables_with_capitalised_op_and_string_boolean(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "entra.user@corp.example")
    res = scim("PATCH", f"/Users/{uid}", _patch({"op": "Replace", "path": "active", "value": "False"}))
    assert res.status_code == 200 and res.json["active"] is False


def test_entra_attribute_updates_with_paths_filters_and_extension_urns(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "entra.attrs@corp.example")
    res = scim("PATCH", f"/Users/{uid}", _patch(
        {"op": "Add", "path": "displayName", "value": "Entra Person"},
        {"op": "Replace", "path": "name.givenName", "value": "Entra"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+44 20 7946 0000"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "entra.attrs@corp.example"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Security Operations"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "manager-object-id"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "Analyst"},
    ))
    assert res.status_code == 200, res.json
    user = res.json
    assert user["displayName"] == "Entra Person" and user["name"]["givenName"] == "Entra"
    assert user["phoneNumbers"] == [{"type": "work", "value": "+44 20 7946 0000"}]
    assert user[ENTERPRISE] == {"department": "Security Operations", "manager": {"value": "manager-object-id"}}
    assert ENTERPRISE in user["schemas"] and user["title"] == "Analyst"

    res = scim("PATCH", f"/Users/{uid}", _patch({"op": "Replace", "value": {"name.familyName": "Person",
                                                                            "active": "True"}}))
    assert res.json["name"] == {"givenName": "Entra", "familyName": "Person"} and res.json["active"] is True

    res = scim("PATCH", f"/Users/{uid}", _patch({"op": "Remove", "path": f"{ENTERPRISE}:manager"}))
    assert res.json[ENTERPRISE] == {"department": "Security Operations"}


def test_entra_group_membership_add_remove_and_lookups(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "member@corp.example")
    gid = scim("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                   "displayName": "Entra Analysts", "externalId": "e-1"}).json["id"]

    res = scim("GET", '/Groups?excludedAttributes=members&filter=displayName eq "Entra Analysts"')
    assert res.json["totalResults"] == 1 and "members" not in res.json["Resources"][0]

    assert scim("PATCH", f"/Groups/{gid}", _patch(
        {"op": "Add", "path": "members", "value": [{"value": uid}]})).status_code == 200
    check = f'/Groups?filter=id eq "{gid}" and members[value eq "{uid}"]&excludedAttributes=members'
    assert scim("GET", check).json["totalResults"] == 1

    assert scim("PATCH", f"/Groups/{gid}", _patch(
        {"op": "Remove", "path": "members", "value": [{"value": uid}]})).status_code == 200
    assert scim("GET", check).json["totalResults"] == 0

    res = scim("PATCH", f"/Groups/{gid}", _patch({"op": "Replace", "path": "displayName", "value": "Renamed"}))
    assert res.json["displayName"] == "Renamed"


# --- errors ----------------------------------------------------------------------------------


def _assert_error(res, status: int, scim_type: str | None = None) -> None:
    assert res.status_code == status, res.json
    assert res.content_type == SCIM_JSON
    assert res.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert res.json["status"] == str(status) and res.json["detail"]
    assert res.json.get("scimType") == scim_type


def test_bad_requests_get_scim_errors(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "errors@corp.example")
    _assert_error(scim("GET", '/Users?filter=userName co "err"'), 400, "invalidFilter")
    _assert_error(scim("GET", "/Users?filter=title pr"), 400, "invalidFilter")
    _assert_error(scim("GET", '/Users?filter=userName eq "a" or userName eq "b"'), 400, "invalidFilter")
    _assert_error(scim("PATCH", f"/Users/{uid}", _patch({"op": "Merge", "path": "title", "value": "x"})),
                  400, "invalidSyntax")
    _assert_error(scim("PATCH", f"/Users/{uid}", {"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                  400, "invalidSyntax")
    _assert_error(scim("PATCH", f"/Users/{uid}", _patch({"op": "replace", "path": "title[", "value": "x"})),
                  400, "invalidPath")
    _assert_error(scim("PATCH", f"/Users/{uid}", _patch({"op": "replace", "path": "active", "value": "maybe"})),
                  400, "invalidValue")
    _assert_error(scim("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
                  400, "invalidValue")
    _assert_error(scim("POST", "/Users", okta_user("errors@corp.example", external_id="other")), 409, "uniqueness")
    _assert_error(scim("GET", "/Users/not-an-id"), 404)
    _assert_error(scim("DELETE", "/ServiceProviderConfig"), 405)
    res = scim.http.post("/scim/v2/Users", data="{not json", content_type=SCIM_JSON,
                         headers={"Authorization": f"Bearer {scim.token}"})
    _assert_error(res, 400, "invalidSyntax")
    # Nothing was half-saved by the refused requests.
    assert scim("GET", f"/Users/{uid}").json["active"] is True
    assert scim("GET", "/Users").json["totalResults"] == 1


def test_a_new_user_name_changes_the_sign_in_email_only_when_free(tenant_a, scim_token, raw_scim):
    scim = raw_scim(scim_token(tenant_a))
    uid = _new_user(scim, "old.name@corp.example")
    _new_user(scim, "taken@corp.example")
    rename = _patch({"op": "replace", "path": "userName", "value": "new.name@corp.example"})
    assert scim("PATCH", f"/Users/{uid}", rename).json["userName"] == "new.name@corp.example"
    assert _account("new.name@corp.example") is not None and _account("old.name@corp.example") is None

    clash = _patch({"op": "replace", "path": "userName", "value": "TAKEN@corp.example"})
    _assert_error(scim("PATCH", f"/Users/{uid}", clash), 409, "uniqueness")
    assert _account("new.name@corp.example") is not None
