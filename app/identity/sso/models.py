"""Per-tenant single sign-on: the IdP connection, claimed email domains, pending logins, seen assertions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, utcnow
from app.core.tenancy import Tenant, TenantScoped


class SsoConfig(TenantScoped, Base):
    """A tenant's identity provider. Only a configuration that passed its connection test is stored."""

    __tablename__ = "sso_configs"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol: Mapped[str] = mapped_column(sa.String(8), default="off")  # off | oidc | saml
    enforce_sso: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    jit_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    default_role: Mapped[str] = mapped_column(sa.String(20), default="analyst")
    allow_idp_initiated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # OpenID Connect
    oidc_issuer: Mapped[str] = mapped_column(sa.String(500), default="")
    oidc_client_id: Mapped[str] = mapped_column(sa.String(255), default="")
    oidc_client_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    oidc_scopes: Mapped[str] = mapped_column(sa.String(255), default="openid email profile")
    oidc_email_claim: Mapped[str] = mapped_column(sa.String(100), default="email")
    oidc_groups_claim: Mapped[str] = mapped_column(sa.String(100), default="groups")
    oidc_metadata: Mapped[dict | None] = mapped_column(sa.JSON)
    # SAML 2.0 (our side is the SP)
    saml_metadata_url: Mapped[str] = mapped_column(sa.String(500), default="")
    saml_idp_entity_id: Mapped[str] = mapped_column(sa.String(500), default="")
    saml_idp_sso_url: Mapped[str] = mapped_column(sa.String(500), default="")
    saml_idp_slo_url: Mapped[str] = mapped_column(sa.String(500), default="")
    saml_idp_certs: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    saml_want_response_signed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    saml_email_attr: Mapped[str] = mapped_column(sa.String(200), default="email")
    saml_name_attr: Mapped[str] = mapped_column(sa.String(200), default="displayName")
    saml_groups_attr: Mapped[str] = mapped_column(sa.String(200), default="groups")
    saml_slo_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def is_on(self) -> bool:
        return self.protocol in ("oidc", "saml")

    @property
    def audit_label(self) -> str:
        return f"single sign-on ({self.protocol})"


class SsoDomain(Base):
    """An email domain routed to one tenant's IdP. Global and unique: two tenants cannot claim one domain."""

    __tablename__ = "sso_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(sa.String(253), unique=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)

    tenant: Mapped[Tenant] = relationship(lazy="joined")


class SsoPendingLogin(TenantScoped, Base):
    """A sign-in sent to the IdP, kept server-side: the IdP's cross-site POST brings no Lax cookie."""

    __tablename__ = "sso_pending_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # OIDC state / SAML RelayState
    protocol: Mapped[str] = mapped_column(sa.String(8))
    request_id: Mapped[str | None] = mapped_column(sa.String(100))  # SAML AuthnRequest ID
    nonce: Mapped[str | None] = mapped_column(sa.String(100))
    code_verifier: Mapped[str | None] = mapped_column(sa.String(200))
    next_url: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SamlSeenAssertion(TenantScoped, Base):
    """Assertion ids already accepted, kept until they expire, so a captured response cannot be replayed."""

    __tablename__ = "saml_seen_assertions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "assertion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[str] = mapped_column(sa.String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
