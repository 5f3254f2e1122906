"""Passkeys (WebAuthn credentials of a global user), their single-use challenges, and step-up proofs."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, created_at_column, public_id_column
from app.core.tenancy import TenantScoped
from app.identity.models import User


class Passkey(Base):
    """One WebAuthn credential. Global like its user: it signs in to every tenant the user belongs to."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # base64url of the raw credential id (≤ 1023 bytes in WebAuthn → ≤ 1364 characters).
    credential_id: Mapped[str] = mapped_column(sa.String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)  # COSE_Key as the authenticator sent it
    user_handle: Mapped[bytes] = mapped_column(sa.LargeBinary(64))
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    aaguid: Mapped[str] = mapped_column(sa.String(36), default="")
    transports: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    backup_eligible: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    name: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Revoked passkeys are kept (never usable again) so step-up proofs made with them stay checkable.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"passkey “{self.name}” of {self.user.email}"

    @property
    def is_synced(self) -> bool:
        """Backed up to a passkey provider (iCloud Keychain, Google Password Manager…), so not device-bound."""
        return self.backed_up


class WebAuthnChallenge(Base):
    """A challenge handed to a browser; kept server-side and deleted when used (single use)."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    purpose: Mapped[str] = mapped_column(sa.String(20))  # register | login | second_factor | stepup
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    action: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class StepUpProof(TenantScoped, Base):
    """A fresh user-verified confirmation before a sensitive action, kept so it can be re-verified later.

    For passkeys the signed assertion is stored as received; its challenge commits to the action,
    the user and the tenant, so `stepup.reverify(proof)` shows the authenticator approved exactly this.
    """

    __tablename__ = "stepup_proofs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    passkey_id: Mapped[int | None] = mapped_column(sa.ForeignKey("passkeys.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    method: Mapped[str] = mapped_column(sa.String(20))  # passkey | totp
    credential_id: Mapped[str | None] = mapped_column(sa.String(1400))
    authenticator_data: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    client_data_json: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    signature: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # The key it was checked against, copied: the proof stays verifiable on its own.
    public_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    rp_id: Mapped[str | None] = mapped_column(sa.String(253))
    origin: Mapped[str | None] = mapped_column(sa.String(300))
    verified_at: Mapped[datetime] = created_at_column()

    user: Mapped[User] = relationship(lazy="joined")
    passkey: Mapped[Passkey | None] = relationship(lazy="joined")

    @property
    def audit_label(self) -> str:
        return f"step-up for {self.action} by {self.user.email}"
