"""The application factory: settings → extensions → blueprints → errors → CLI."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import ROOT, Settings, flask_config
from app.core import headers
from app.core.db import install_sqlite_pragmas
from app.extensions import csrf, db, htmx, limiter, login_manager, migrate


def create_app(overrides: dict | None = None) -> Flask:
    settings = Settings.from_env()
    if overrides:
        settings = replace(settings, **{k: v for k, v in overrides.items() if hasattr(settings, k)})
    settings = settings.resolved()

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings.instance_path,
    )
    app.config.update(flask_config(settings))
    app.config.update({k: v for k, v in (overrides or {}).items() if k.isupper()})
    app.extensions["vigil_settings"] = settings
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    headers.init_app(app, https=settings.is_https)  # first: request ids exist for every later hook
    _init_extensions(app, settings)
    _register_blueprints(app)

    from app.core import error_handlers, fragments, jinja

    error_handlers.init_app(app)
    jinja.init_app(app)
    fragments.init_app(app)

    from app.cli import register

    register(app)
    return app


def _init_extensions(app: Flask, settings: Settings) -> None:
    from app import models  # noqa: F401  (the whole schema, for create_all and Alembic)

    db.init_app(app)
    with app.app_context():
        install_sqlite_pragmas(db.engine, settings.sqlite_busy_timeout_ms)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "identity.login"
    login_manager.login_message = "Sign in to continue."
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    from app.core import jobs

    jobs.init_app(app, settings)


def _register_blueprints(app: Flask) -> None:
    from app.admin.views import bp as admin_bp
    from app.approvals.api import api_bp as approvals_api
    from app.approvals.views import bp as approvals_bp
    from app.audit.api import api_bp as audit_api
    from app.audit.views import bp as audit_bp
    from app.compliance.api import api_bp as compliance_api
    from app.compliance.views import bp as compliance_bp
    from app.core.api import api_bp
    from app.core.health import bp as health_bp
    from app.governance.ai_api import api_bp as ai_api
    from app.governance.ai_views import bp as ai_bp
    from app.governance.policies_api import api_bp as policies_api
    from app.governance.policies_views import bp as policies_bp
    from app.governance.risks_api import api_bp as risks_api
    from app.governance.risks_views import bp as risks_bp
    from app.home.views import bp as home_bp
    from app.identity import web_session
    from app.identity.api import api_bp as identity_api
    from app.identity.passkey_views import bp as passkeys_bp
    from app.identity.sso.admin_views import bp as sso_admin_bp
    from app.identity.sso.views import bp as sso_bp
    from app.identity.views import bp as identity_bp
    from app.scim.api import bp as scim_bp
    from app.scim.views import bp as scim_admin_bp
    from app.soc.api import api_bp as soc_api
    from app.soc.cases.api import api_bp as cases_api
    from app.soc.cases.views import bp as cases_bp
    from app.soc.settings_api import api_bp as soc_settings_api
    from app.soc.settings_views import bp as soc_settings_bp
    from app.soc.sla.api import api_bp as sla_api
    from app.soc.sla.views import bp as sla_bp
    from app.soc.views import bp as soc_bp

    web_session.init_app(app)
    for bp in (health_bp, identity_bp, home_bp, admin_bp, audit_bp, soc_bp, cases_bp, passkeys_bp, sla_bp,
               sso_bp, sso_admin_bp, soc_settings_bp, compliance_bp, approvals_bp, policies_bp, ai_bp,
               risks_bp):
        app.register_blueprint(bp)
    # Domain API routes hang off the /api/v1 base blueprint, which owns auth and the envelope.
    # Nested once per process: a second create_app (tests, scripts) must not re-nest them.
    nested = {child.name for child, _options in api_bp._blueprints}
    for child in (identity_api, audit_api, soc_api, cases_api, sla_api, soc_settings_api, compliance_api,
                  approvals_api, policies_api, ai_api, risks_api):
        if child.name not in nested:
            api_bp.register_blueprint(child)
    app.register_blueprint(api_bp)
    # Bearer credentials, not cookies: no CSRF exposure. Flask-WTF matches request.blueprint
    # ("api.identity_api") exactly, so every nested API blueprint is exempted by name.
    for name, blueprint in app.blueprints.items():
        if name == api_bp.name or name.startswith(api_bp.name + "."):
            csrf.exempt(blueprint)
    # SCIM: bearer tokens, not cookies, like the API; its own error schema and content type.
    app.register_blueprint(scim_bp)
    app.register_blueprint(scim_admin_bp)
    csrf.exempt(scim_bp)
