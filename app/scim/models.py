"""SCIM state kept per tenant: bearer tokens, the tenant's view of each provisioned user, groups.

`User` is global, so what an identity provider says about a person (externalId, names, emails)
is stored per tenant in `ScimUser`; one tenant's IdP never rewrites what another tenant sees.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column, utcnow
from app.core.tenancy import TenantScoped
from app.identity.models import Membership, User


class ScimToken(TenantScoped, Base):
    """The bearer token an identity provider uses: `vsc_` + random, stored as sha256, shown once."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    name: Mapped[str] = mapped_column(sa.String(120))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"SCIM token {self.name} ({self.prefix}…)"


class ScimUser(TenantScoped, Base):
    """A member as this tenant's IdP describes them; `id` in SCIM is this row's public id."""

    __tablename__ = "scim_users"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "membership_id"),
        sa.UniqueConstraint("tenant_id", "user_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    membership_id: Mapped[int] = mapped_column(sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    user_name: Mapped[str] = mapped_column(sa.String(320))
    external_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    # Everything else the IdP sent (name, displayName, emails, title, enterprise extension…),
    # returned as given so the IdP sees its own values back.
    attributes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    membership: Mapped[Membership] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"SCIM user {self.user_name}"


class ScimGroup(TenantScoped, Base):
    """A directory group pushed by the IdP; its displayName is what group → role mappings name."""

    __tablename__ = "scim_groups"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "display_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    display_name: Mapped[str] = mapped_column(sa.String(200))
    external_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def audit_label(self) -> str:
        return f"SCIM group {self.display_name}"


class ScimGroupMember(TenantScoped, Base):
    __tablename__ = "scim_group_members"
    __table_args__ = (sa.UniqueConstraint("group_id", "scim_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("scim_groups.id", ondelete="CASCADE"), index=True)
    scim_user_id: Mapped[int] = mapped_column(sa.ForeignKey("scim_users.id", ondelete="CASCADE"), index=True)

    scim_user: Mapped[ScimUser] = relationship(lazy="joined")
