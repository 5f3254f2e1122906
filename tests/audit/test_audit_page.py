"""The audit log page, its CSV export, chain verification, and the same through the API."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.core import audit
from app.core.audit import AuditRecord
from app.core.db import db, utcnow
from app.core.permissions import Role
from tests import factories
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}
ROW_ID = re.compile(r'<tr id="audit-(\d+)"')


def _event(tenant, action: str, *, actor_label: str = "robot@example.test", target=None,
           before: dict | None = None, after: dict | None = None) -> int:
    """Append one record to the tenant's chain (or the system chain when tenant is None); return its seq."""
    rec = audit.record(action, actor=None, tenant=tenant, actor_label=actor_label, target=target,
                       before=before, after=after)
    seq = rec.seq
    db.session.commit()
    return seq


def _seqs(html: str) -> list[int]:
    return [int(n) for n in ROW_ID.findall(html)]


def _all_seqs(tenant) -> list[int]:
    stmt = sa.select(AuditRecord.seq).where(AuditRecord.chain == str(tenant.id)).order_by(AuditRecord.seq.desc())
    return list(db.session.scalars(stmt))


def _records(tenant, action: str) -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.chain == str(tenant.id), AuditRecord.action == action).order_by(AuditRecord.seq)))


def _verify_form(res):
    return next(f for f in res.forms.values() if f.action.endswith("/audit/verify"))


def _filter_form(res):
    return next(f for f in res.forms.values() if f.method.lower() == "get" and f.action.endswith("/audit/"))


# --- who may see it --------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_and_auditors_reach_the_log_export_and_verify(login_as, role):
    client = login_as(role.value)
    token = csrf_from(client.get("/account/security"))
    expected = 200 if role in (Role.ADMIN, Role.AUDITOR) else 403
    assert client.get("/audit/", status="*").status_int == expected
    assert client.get("/audit/rows", status="*").status_int == expected
    assert client.get("/audit/export.csv", status="*").status_int == expected
    assert client.post("/audit/verify", {"csrf_token": token}, status="*").status_int == expected


def test_a_refused_export_is_not_recorded_as_an_export(login_as, tenant_a):
    login_as("analyst").get("/audit/export.csv", status=403)
    assert _records(tenant_a, "audit.exported") == []


# --- the page and its filters ----------------------------------------------------------------


def test_the_page_shows_records_with_their_columns(login_as, tenant_a):
    client = login_as("auditor")
    seq = _event(tenant_a, "member.role_changed", actor_label="Ada <admin>@acme.test",
                 target=("membership", "m-1", "bob@acme.test in acme"),
                 before={"role": "analyst"}, after={"role": "<b>admin</b>"})
    res = client.get("/audit/")
    row = res.pyquery(f"#audit-{seq}")
    assert row.find('td[data-label="#"]').text() == str(seq)
    assert "Ada <admin>@acme.test" in row.find('td[data-label="Actor"]').text()
    assert row.find('td[data-label="Action"] code').text() == "member.role_changed"
    assert row.find('td[data-label="Target"]').text() == "membership bob@acme.test in acme"
    assert row.find('td[data-label="Details"]').text() == 'role analyst → role <b>admin</b>'
    assert "<b>admin</b>" not in res.text  # escaped, never markup
    assert "UTC" in row.find('td[data-label="Time"]').text()


def test_the_page_shows_only_this_tenants_chain(login_as, tenant_a, tenant_b):
    client = login_as("admin")
    _event(tenant_a, "case.opened", actor_label="mine@a.test")
    _event(tenant_b, "case.opened", actor_label="theirs@b.test")
    _event(None, "auth.login_failed", actor_label="stranger@nowhere.test")
    res = client.get("/audit/")
    assert "mine@a.test" in res.text
    assert "theirs@b.test" not in res.text
    assert "stranger@nowhere.test" not in res.text
    assert sorted(_seqs(res.text)) == sorted(_all_seqs(tenant_a))


def test_filter_by_actor_matches_part_of_the_label_or_the_actor_id(login_as, tenant_a):
    client = login_as("auditor")
    mine = _event(tenant_a, "case.opened", actor_label="Grace Hopper <grace@navy.test>")
    other = _event(tenant_a, "case.opened", actor_label="alan@bletchley.test")
    assert _seqs(client.get("/audit/", {"actor": "HOPPER"}).text) == [mine]
    assert _seqs(client.get("/audit/", {"actor": "%"}).text) == []  # a LIKE wildcard is a plain character
    member = client.membership
    by_id = _seqs(client.get("/audit/", {"actor": member.user.public_id}).text)
    assert by_id and other not in by_id and mine not in by_id
    assert all(r.actor_id == member.user.public_id for r in db.session.scalars(
        sa.select(AuditRecord).where(AuditRecord.seq.in_(by_id), AuditRecord.chain == str(tenant_a.id))))


def test_filter_by_action_takes_an_action_or_a_whole_family(login_as, tenant_a):
    client = login_as("auditor")
    login = _event(tenant_a, "auth.login")
    failed = _event(tenant_a, "auth.login_failed")
    logout = _event(tenant_a, "auth.logout")
    case = _event(tenant_a, "case.opened")
    assert _seqs(client.get("/audit/", {"action": "auth.login_failed"}).text) == [failed]
    exact = _seqs(client.get("/audit/", {"action": "auth.login"}).text)
    assert login in exact and failed not in exact and logout not in exact
    family = _seqs(client.get("/audit/", {"action": "auth"}).text)
    assert {login, failed, logout} <= set(family) and case not in family
    assert set(_seqs(client.get("/audit/", {"action": "auth."}).text)) == set(family)
    assert _seqs(client.get("/audit/", {"action": "au"}).text) == []


def test_filter_by_target_matches_label_id_or_type(login_as, tenant_a):
    client = login_as("auditor")
    key = _event(tenant_a, "apikey.created", target=("apikey", "k-123", "SIEM forwarder"))
    case = _event(tenant_a, "case.opened", target=("case", "c-456", "CASE-42 phishing"))
    assert _seqs(client.get("/audit/", {"target": "siem"}).text) == [key]
    assert _seqs(client.get("/audit/", {"target": "c-456"}).text) == [case]
    assert _seqs(client.get("/audit/", {"target": "apikey"}).text) == [key]


def test_filter_by_time_range(login_as, tenant_a):
    client = login_as("auditor")
    early = _event(tenant_a, "case.opened")
    time.sleep(0.01)
    middle = utcnow()
    time.sleep(0.01)
    late = _event(tenant_a, "case.closed")
    after_middle = _seqs(client.get("/audit/", {"from": middle.isoformat()}).text)
    assert late in after_middle and early not in after_middle
    before_middle = _seqs(client.get("/audit/", {"to": middle.isoformat()}).text)
    assert early in before_middle and late not in before_middle
    # A minute typed in the form takes in the whole of that minute.
    late_at = _records(tenant_a, "case.closed")[0].at
    to_minute = _seqs(client.get("/audit/", {"to": late_at.strftime("%Y-%m-%dT%H:%M")}).text)
    assert late in to_minute
    from_next_minute = (late_at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    assert _seqs(client.get("/audit/", {"from": from_next_minute}).text) == []


def test_times_typed_in_the_form_are_in_the_users_time_zone(login_as, tenant_a):
    client = login_as("auditor")
    client.membership.user.timezone = "Asia/Tokyo"  # UTC+9 all year
    db.session.commit()
    seq = _event(tenant_a, "case.opened")
    at = _records(tenant_a, "case.opened")[0].at
    tokyo_minute = (at + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M")
    utc_minute = at.strftime("%Y-%m-%dT%H:%M")
    assert seq in _seqs(client.get("/audit/", {"from": tokyo_minute, "to": tokyo_minute}).text)
    assert _seqs(client.get("/audit/", {"from": utc_minute, "to": utc_minute}).text) == []


def test_the_filter_form_works_without_javascript(login_as, tenant_a):
    client = login_as("auditor")
    seq = _event(tenant_a, "apikey.revoked", target=("apikey", "k-1", "old key"))
    _event(tenant_a, "case.opened")
    form = _filter_form(client.get("/audit/"))
    form["action"] = "apikey"
    res = form.submit()
    assert res.status_int == 200 and "<html" in res.text
    assert _seqs(res.text) == [seq]
    assert res.pyquery("#audit-action option[selected]").attr("value") == "apikey"


@pytest.mark.parametrize(("params", "message"), [
    ({"from": "yesterday"}, "The “from” time is not a valid date and time"),
    ({"to": "2026-13-45T99:99"}, "The “to” time is not a valid date and time"),
    ({"from": "2026-03-02T10:00", "to": "2026-03-01T10:00"}, "must be after the “from” time"),
])
def test_a_bad_time_is_a_422_with_a_clear_message(login_as, tenant_a, params, message):
    client = login_as("auditor")
    page = client.get("/audit/", params, status=422)
    assert "<html" in page.text and message in page.text
    assert page.pyquery("#audit-results [role=alert]") and _seqs(page.text) == []
    assert page.pyquery("input[aria-invalid=true]")  # the field itself is marked
    fragment = client.get("/audit/", params, headers=HX, status=422)
    assert "<html" not in fragment.text and message in fragment.text
    assert fragment.text.strip().startswith('<section id="audit-results"')


def test_an_htmx_request_gets_the_results_fragment_and_a_plain_one_the_page(login_as, tenant_a):
    client = login_as("auditor")
    seq = _event(tenant_a, "case.opened", actor_label="frag@a.test")
    fragment = client.get("/audit/", {"actor": "frag@"}, headers=HX)
    assert "<html" not in fragment.text
    assert fragment.text.strip().startswith('<section id="audit-results"')
    assert _seqs(fragment.text) == [seq]
    assert "HX-Request" in fragment.headers["Vary"]
    page = client.get("/audit/", {"actor": "frag@"})
    assert "<html" in page.text and 'id="audit-results"' in page.text and _seqs(page.text) == [seq]
    # Bookmarkable: the form pushes the filtered URL, and that URL opens the whole page.
    form = page.pyquery("form[hx-get]")
    assert form.attr("hx-push-url") == "true" and form.attr("hx-target") == "#audit-results"


def _fill(tenant, count: int, label: str = "bulk@a.test") -> None:
    for n in range(count):
        audit.record("case.note_added", actor=None, tenant=tenant, actor_label=label, after={"n": n})
    db.session.commit()


def test_load_more_pages_through_every_record_exactly_once_without_javascript(login_as, tenant_a):
    client = login_as("auditor")
    _fill(tenant_a, 120)
    res = client.get("/audit/")
    seen = _seqs(res.text)
    assert len(seen) == 50
    pages = 1
    while res.pyquery("#audit-more a").attr("href"):
        res = client.get(res.pyquery("#audit-more a").attr("href"))
        assert "<html" in res.text
        seen += _seqs(res.text)
        pages += 1
    assert pages == 3
    assert seen == _all_seqs(tenant_a)  # newest first, each once, none left out


def test_load_more_with_htmx_appends_rows_and_keeps_the_filter(login_as, tenant_a):
    client = login_as("auditor")
    _fill(tenant_a, 70, label="keep@a.test")
    _fill(tenant_a, 30, label="other@a.test")
    wanted = [r.seq for r in reversed(_records(tenant_a, "case.note_added")) if r.actor_label == "keep@a.test"]
    assert len(wanted) == 70
    res = client.get("/audit/", {"actor": "keep@"}, headers=HX)
    seen = _seqs(res.text)
    more = res.pyquery("#audit-more a")
    assert more.attr("hx-target") == "#audit-more" and more.attr("hx-swap") == "outerHTML"
    rows = client.get(more.attr("hx-get"), headers=HX)
    assert "<html" not in rows.text and "<table" not in rows.text
    assert rows.text.lstrip().startswith("<tr")
    seen += _seqs(rows.text)
    assert 'id="audit-more"' not in rows.text  # the last page has no pager
    assert seen == wanted


def test_a_forged_cursor_is_a_422(login_as):
    client = login_as("auditor")
    res = client.get("/audit/", {"cursor": "not-a-cursor"}, status=422)
    assert "cursor is not valid" in res.text


# --- CSV export --------------------------------------------------------------------------------


def _csv(res) -> list[dict]:
    return list(csv.DictReader(io.StringIO(res.text)))


def test_export_is_a_csv_download_of_every_matching_record(login_as, tenant_a, tenant_b, app):
    client = login_as("auditor")
    _fill(tenant_a, 60, label="bulk@a.test")
    _event(tenant_a, "case.opened", actor_label="someone-else@a.test")
    _event(tenant_b, "case.opened", actor_label="bulk@b.test")
    res = client.get("/audit/export.csv", {"actor": "bulk@"})
    assert res.content_type == "text/csv"
    disposition = res.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and re.search(r'filename="audit-tenant-a-[\d-]+\.csv"', disposition)
    assert res.text.splitlines()[0] == ("seq,time_utc,actor_kind,actor_id,actor_label,action,target_type,"
                                        "target_id,target_label,ip,request_id,before,after,prev_hash,hash")
    rows = _csv(res)
    assert len(rows) == 60
    assert {r["actor_label"] for r in rows} == {"bulk@a.test"}
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)  # chain order
    first = _records(tenant_a, "case.note_added")[0]
    assert rows[0]["after"] == '{"n":0}' and rows[0]["hash"] == first.hash
    assert datetime.fromisoformat(rows[0]["time_utc"]) == first.at


def test_export_is_streamed(app, tenant_a):
    member = factories.make_member(tenant_a, role="auditor")
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text).group(1)
    signed_in = client.post("/login", data={"csrf_token": token, "email": member.user.email,
                                            "password": factories.PASSWORD})
    assert signed_in.status_code == 303
    res = client.get("/audit/export.csv")
    assert res.status_code == 200 and res.text.startswith("seq,")
    # The headers as the server sent them: a body from a generator has no Content-Length.
    assert "Content-Length" not in res.headers


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://evil.test\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_export_neutralises_spreadsheet_formulas(login_as, tenant_a, dangerous):
    client = login_as("auditor")
    _event(tenant_a, "case.opened", actor_label=dangerous, target=("case", "c-1", dangerous))
    rows = _csv(client.get("/audit/export.csv", {"action": "case.opened"}))
    assert len(rows) == 1
    assert rows[0]["actor_label"] == "'" + dangerous
    assert rows[0]["target_label"] == "'" + dangerous


def test_export_is_audited_with_its_filters_and_is_not_part_of_itself(login_as, tenant_a):
    client = login_as("auditor")
    rows = _csv(client.get("/audit/export.csv", {"action": "auth", "actor": ""}))
    exported = _records(tenant_a, "audit.exported")
    assert len(exported) == 1
    assert exported[0].after == {"filters": {"action": "auth"}, "format": "csv"}
    assert exported[0].actor_id == client.membership.user.public_id
    assert "audit.exported" not in {r["action"] for r in rows}
    assert audit.verify(tenant_a).ok


def test_export_with_a_bad_time_is_a_422_and_exports_nothing(login_as, tenant_a):
    client = login_as("auditor")
    res = client.get("/audit/export.csv", {"from": "soon"}, status=422)
    assert "text/html" in res.content_type and "not a valid date and time" in res.text
    assert _records(tenant_a, "audit.exported") == []


def test_the_export_link_carries_the_current_filter(login_as, tenant_a):
    client = login_as("auditor")
    res = client.get("/audit/", {"action": "auth", "actor": "x@"}, headers=HX)
    url = urlsplit(res.pyquery("a[download]").attr("href"))
    assert url.path == "/audit/export.csv" and parse_qs(url.query) == {"action": ["auth"], "actor": ["x@"]}


# --- verify ----------------------------------------------------------------------------------


def _tamper(tenant, seq: int) -> None:
    db.session.execute(sa.text("UPDATE audit_records SET actor_label = 'forged' WHERE chain = :c AND seq = :s"),
                       {"c": str(tenant.id), "s": seq})
    db.session.commit()


def test_verify_without_javascript_renders_the_page_with_the_result(login_as, tenant_a):
    client = login_as("auditor")
    count = len(_all_seqs(tenant_a))
    res = _verify_form(client.get("/audit/")).submit()
    assert res.status_int == 200 and "<html" in res.text
    assert f"Chain intact: {count} records verified" in res.pyquery("#audit-verify").text()
    [verified] = _records(tenant_a, "audit.verified")
    assert verified.after == {"ok": True, "checked": count, "broken_seq": None, "reason": ""}


def test_verify_with_htmx_returns_the_result_fragment(login_as, tenant_a):
    client = login_as("admin")
    token = csrf_from(client.get("/audit/"))
    _tamper(tenant_a, 2)
    res = client.post("/audit/verify", {"csrf_token": token}, headers=HX)
    assert "<html" not in res.text
    assert res.text.strip().startswith('<section id="audit-verify"')
    assert "Chain broken at record #2: record #2 was altered after it was written" in res.text
    [verified] = _records(tenant_a, "audit.verified")
    assert (verified.after["ok"], verified.after["broken_seq"]) == (False, 2)


def test_verify_needs_the_csrf_token(login_as, tenant_a):
    client = login_as("auditor")
    assert client.post("/audit/verify", status="*").status_int == 400
    assert _records(tenant_a, "audit.verified") == []


# --- API ---------------------------------------------------------------------------------------


@pytest.fixture
def api(app, tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["audit:read"])
    client = app.test_client()

    def call(method: str, path: str, **kwargs):
        return client.open(path, method=method, headers={"Authorization": f"Bearer {raw}"}, **kwargs)

    return call


def test_api_lists_the_tenants_records_with_filters(api, tenant_a, tenant_b):
    seq = _event(tenant_a, "apikey.created", actor_label="ada@a.test", target=("apikey", "k-9", "SIEM"),
                 after={"scopes": ["audit:read"]})
    _event(tenant_b, "apikey.created", actor_label="bob@b.test")
    _event(None, "apikey.created", actor_label="nobody")
    res = api("GET", "/api/v1/audit", query_string={"action": "apikey.created"})
    assert res.status_code == 200 and res.json["success"] is True
    data = res.json["data"]
    labels = {d["actor"]["label"] for d in data}
    assert "ada@a.test" in labels and "bob@b.test" not in labels and "nobody" not in labels
    mine = next(d for d in data if d["seq"] == seq)
    assert mine["target"] == {"type": "apikey", "id": "k-9", "label": "SIEM"}
    assert mine["after"] == {"scopes": ["audit:read"]} and len(mine["hash"]) == 64
    assert datetime.fromisoformat(mine["at"]).tzinfo is not None
    only = api("GET", "/api/v1/audit", query_string={"actor": "ada@", "target": "siem"}).json["data"]
    assert [d["seq"] for d in only] == [seq]


def test_api_time_filters_without_an_offset_are_utc(api, tenant_a):
    seq = _event(tenant_a, "case.opened")
    at = _records(tenant_a, "case.opened")[0].at.astimezone(UTC)
    naive = at.replace(tzinfo=None).isoformat()
    exact = api("GET", "/api/v1/audit", query_string={"from": naive, "to": naive}).json["data"]
    assert [d["seq"] for d in exact] == [seq]
    later = (at + timedelta(milliseconds=1)).replace(tzinfo=None).isoformat()
    assert seq not in [d["seq"] for d in api("GET", "/api/v1/audit", query_string={"from": later}).json["data"]]


def test_api_cursor_paging_returns_every_record_once(api, tenant_a):
    _fill(tenant_a, 23)
    seen, cursor, pages = [], None, 0
    while True:
        res = api("GET", "/api/v1/audit", query_string={"limit": 7, **({"cursor": cursor} if cursor else {})})
        seen += [d["seq"] for d in res.json["data"]]
        pages += 1
        cursor = res.json["meta"]["next_cursor"]
        if not cursor:
            break
    assert seen == _all_seqs(tenant_a)
    assert pages == -(-len(seen) // 7)


def test_api_bad_filters_are_422_envelopes(api):
    res = api("GET", "/api/v1/audit", query_string={"from": "not a time"})
    assert res.status_code == 422 and res.json["error"]["code"] == "validation_failed"
    assert "from" in res.json["error"]["details"]["fields"]
    assert api("GET", "/api/v1/audit", query_string={"limit": 500}).status_code == 422
    assert api("GET", "/api/v1/audit", query_string={"cursor": "%%%"}).status_code == 422


def test_api_verify_reports_the_chain_and_is_audited(api, tenant_a):
    count = len(_all_seqs(tenant_a))
    res = api("POST", "/api/v1/audit/verify")
    assert res.status_code == 200
    assert res.json["data"] == {"ok": True, "checked": count, "broken_seq": None, "reason": ""}
    [verified] = _records(tenant_a, "audit.verified")
    assert verified.actor_kind == "api_key"
    _tamper(tenant_a, 1)
    broken = api("POST", "/api/v1/audit/verify").json["data"]
    assert (broken["ok"], broken["broken_seq"]) == (False, 1)
    assert broken["reason"] == "record #1 was altered after it was written"


def test_api_needs_the_audit_scope(app, tenant_a):
    _key, raw = factories.make_api_key(tenant_a, scopes=["users:read", "alerts:write"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/audit", headers=headers).status_code == 403
    assert client.post("/api/v1/audit/verify", headers=headers).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    assert _records(tenant_a, "audit.verified") == []


def test_api_routes_are_in_the_openapi_document(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    listing = spec["paths"]["/api/v1/audit"]["get"]
    assert listing["tags"] == ["audit"] and listing["x-required-permission"] == "audit:read"
    assert "audit:read" in listing["x-api-key-scopes"]
    assert {p["name"] for p in listing["parameters"]} >= {"limit", "cursor"}
    assert "post" in spec["paths"]["/api/v1/audit/verify"]
