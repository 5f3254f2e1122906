"""The shared hashed-token helper keeps the stored format of API keys and SCIM tokens issued before it."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.actors import system_actor
from app.core.db import db, utcnow
from app.core.errors import Unauthorized
from app.core.hashed_tokens import issue_secret
from app.core.tenancy import tenant_context
from app.identity.api_keys import authenticate_api_key
from app.identity.models import ApiKey
from app.scim.models import ScimToken
from app.scim.tokens import authenticate_scim_token, create_scim_token


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def test_issued_secret_has_the_format_credentials_always_had():
    secret = issue_secret("vgl_")
    assert re.fullmatch(r"vgl_[A-Za-z0-9_-]{43}", secret.raw)
    assert secret.prefix == secret.raw[:12] and secret.digest == _sha256(secret.raw)
    assert issue_secret("vgl_").raw != secret.raw


def test_an_api_key_stored_the_old_way_still_authenticates(tenant_a):
    raw = "vgl_" + "k" * 43  # as stored before the helper existed: sha256 hex of the raw key
    with tenant_context(tenant_a):
        db.session.add(ApiKey(name="old key", prefix=raw[:12], key_hash=_sha256(raw), scopes=["alerts:read"]))
        db.session.commit()
    actor = authenticate_api_key(raw)
    assert actor.tenant.id == tenant_a.id and actor.api_key.name == "old key"


def test_a_scim_token_stored_the_old_way_still_authenticates_and_notes_use_once_a_minute(tenant_a, tenant_b):
    raw = "vsc_" + "s" * 43
    with tenant_context(tenant_a):
        db.session.add(ScimToken(name="old IdP", prefix=raw[:12], token_hash=_sha256(raw)))
        db.session.commit()
    assert authenticate_scim_token(raw).tenant.id == tenant_a.id
    first = db.session.scalar(sa.select(ScimToken.last_used_at).execution_options(all_tenants=True))
    assert first is not None
    authenticate_scim_token(raw)  # within the minute: no second write
    assert db.session.scalar(sa.select(ScimToken.last_used_at).execution_options(all_tenants=True)) == first
    # An hour-old use is refreshed.
    db.session.execute(sa.update(ScimToken).values(last_used_at=utcnow() - timedelta(hours=1))
                       .execution_options(all_tenants=True))
    db.session.commit()
    authenticate_scim_token(raw)
    assert utcnow() - db.session.scalar(sa.select(ScimToken.last_used_at)
                                        .execution_options(all_tenants=True)) < timedelta(minutes=1)


def test_new_tokens_store_only_the_digest_and_a_wrong_secret_finds_nothing(tenant_a):
    with tenant_context(tenant_a):
        token, raw = create_scim_token(actor=system_actor(tenant_a, "test"), name="IdP")
        assert token.token_hash == _sha256(raw) and token.prefix == raw[:12] and raw not in token.token_hash
    for wrong in (raw[:-1] + ("A" if raw[-1] != "A" else "B"), "", None, raw.upper()):
        with pytest.raises(Unauthorized):
            authenticate_scim_token(wrong)
