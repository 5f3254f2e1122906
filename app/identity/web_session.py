"""Who the browser is: the server-side session → user → active membership in the chosen tenant."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, g, request, session
from flask_login import current_user

from app.core.actors import client_ip
from app.core.db import db
from app.core.tenancy import reset_request_tenant, set_request_tenant
from app.extensions import login_manager
from app.identity.auth import active_memberships, active_memberships_stmt, load_session, member_actor
from app.identity.models import Membership, User
from app.identity.sso.models import SsoConfig
from app.identity.sso.signin import enforces_sso, session_may_enter

TENANT_KEY = "tenant"
SSO_TENANT_KEY = "sso_tenant"  # set when an IdP opened this session: the session stays in that tenant


@login_manager.user_loader
def _load_user(sid: str) -> User | None:
    row = load_session(sid)
    if row is None:
        return None
    row.user.login_sid = sid
    return row.user


def choose_membership(user: User, wanted: str | None):
    memberships = active_memberships(user)
    chosen = next((m for m in memberships if m.tenant.public_id == wanted), None)
    return chosen or (memberships[0] if memberships else None), memberships


_MEMBERSHIPS_AND_POLICY = (active_memberships_stmt(sa.func.coalesce(enforces_sso(), False))
                           .outerjoin(SsoConfig, SsoConfig.tenant_id == Membership.tenant_id))


def _memberships_and_policy(user: User) -> list[tuple[Membership, bool]]:
    """Every page asks this: the user's tenants and whether each enforces SSO, in one statement."""
    rows = db.session.execute(_MEMBERSHIPS_AND_POLICY, {"user_id": user.id})
    return [(membership, bool(enforced)) for membership, enforced in rows]


def init_app(app: Flask) -> None:
    @app.before_request
    def _load_actor() -> None:
        if request.path.startswith(("/api/", "/static/")) or request.endpoint in ("health.health",
                                                                                  "health.ready"):
            return
        g.actor = None
        if not current_user.is_authenticated:
            return
        rows = _memberships_and_policy(current_user)
        wanted = session.get(TENANT_KEY)
        chosen = next((row for row in rows if row[0].tenant.public_id == wanted), rows[0] if rows else None)
        if chosen is None or not session_may_enter(chosen[0], session.get(SSO_TENANT_KEY), enforced=chosen[1]):
            return
        membership, memberships = chosen[0], [m for m, _enforced in rows]
        if wanted != membership.tenant.public_id:
            session[TENANT_KEY] = membership.tenant.public_id  # only on change: a write re-sends the cookie
        g.my_memberships = memberships
        g.actor = member_actor(membership, client_ip())
        g.web_tenant_token = set_request_tenant(membership.tenant)

    @app.teardown_request
    def _reset(_exc) -> None:
        token = g.pop("web_tenant_token", None)
        if token is not None:
            reset_request_tenant(token)
