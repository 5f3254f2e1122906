"""Security headers, autoescaping, the fragment/page decision and the error pages."""

from app import create_app
from tests import factories


def test_security_headers_on_pages(web):
    res = web.get("/login")
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "same-origin"
    assert res.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in res.headers  # plain http: HSTS would be a lie
    assert res.headers["X-Request-ID"]


def test_hsts_and_secure_cookie_when_served_over_https(app, tmp_path):
    https_app = create_app({
        "instance_path": str(tmp_path), "database_url": app.config["SQLALCHEMY_DATABASE_URI"],
        "secret_key": app.config["SECRET_KEY"], "testing": True, "base_url": "https://vigil.example",
    })
    res = https_app.test_client().get("/login", base_url="https://vigil.example")
    assert "max-age=" in res.headers["Strict-Transport-Security"]
    assert https_app.config["SESSION_COOKIE_SECURE"] is True


def test_user_input_is_escaped(web, tenant_a):
    factories.make_member(tenant_a, name="<script>alert(1)</script>", role="admin", email="x@tenant-a.test")
    from tests.conftest import sign_in

    page = sign_in(web, "x@tenant-a.test").follow()
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_no_inline_script_or_style_in_rendered_pages(login_as):
    client = login_as("admin")
    for path in ("/dashboard", "/account/security", "/account/mfa/enrol"):
        html = client.get(path).text
        assert "<script>" not in html and "style=" not in html, path


def test_htmx_request_gets_fragment_and_vary_header(login_as):
    client = login_as("admin")
    full = client.get("/nope-not-here", status=404)
    assert "<html" in full.text and "Not found" in full.text
    fragment = client.get("/nope-not-here", headers={"HX-Request": "true"}, status=404)
    assert "<html" not in fragment.text and 'id="error"' in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    boosted = client.get("/nope-not-here", headers={"HX-Request": "true", "HX-Boosted": "true"}, status=404)
    assert "<html" in boosted.text


def test_signed_out_visitor_is_sent_to_sign_in(web):
    res = web.get("/dashboard", status=302)
    assert "/login" in res.headers["Location"]


def test_health_and_ready(web):
    assert web.get("/health").json == {"status": "ok"}
    ready = web.get("/ready").json
    assert ready["status"] == "ok" and ready["checks"]["database"]["ok"] and ready["checks"]["jobs"]["ok"]
