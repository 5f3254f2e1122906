"""Every setting, read once from VIGIL_* environment variables with embedded defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Typed settings; the README's settings table mirrors the fields and their env names."""

    instance_path: str = str(ROOT / "instance")
    database_url: str = ""  # empty: SQLite file instance/vigil.db
    secret_key: str = ""  # empty: generated once and kept in instance/secret_key
    base_url: str = "http://127.0.0.1:5000"
    redis_url: str = ""
    session_lifetime_minutes: int = 12 * 60
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    password_link_hours: int = 72
    token_lifetime_minutes: int = 60
    api_user_rate: str = "100 per minute"
    api_key_rate: str = "1000 per minute"
    sqlite_busy_timeout_ms: int = 5000
    attachment_max_bytes: int = 25 * 1024 * 1024
    jobs_immediate: bool = False
    stepup_minutes: int = 10
    testing: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(f"VIGIL_{f.name.upper()}")
            if raw is None:
                continue
            if f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "bool":
                values[f.name] = _bool(raw)
            else:
                values[f.name] = raw
        return cls(**values)

    def resolved(self) -> Settings:
        """Fill the defaults that depend on the instance folder."""
        instance = Path(self.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        database_url = self.database_url or f"sqlite:///{instance / 'vigil.db'}"
        return replace(self, database_url=database_url, secret_key=self.secret_key or _kept_secret(instance))

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")


def _kept_secret(instance: Path) -> str:
    # Generated once so sessions survive restarts; never committed (instance/ is ignored).
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def flask_config(settings: Settings) -> dict:
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(settings),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.is_https,
        "SESSION_COOKIE_NAME": "vigil_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": settings.is_https,
        "PERMANENT_SESSION_LIFETIME": settings.session_lifetime_minutes * 60,
        # The server-side session ends a fixed time after sign-in, so re-signing the cookie on every
        # response only cost time (and a Set-Cookie per page); it is written when its content changes.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "WTF_CSRF_SSL_STRICT": settings.is_https,
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # A request may carry one attachment at its limit plus the form around it.
        "MAX_CONTENT_LENGTH": max(16 * 1024 * 1024, settings.attachment_max_bytes + 1024 * 1024),
        "VIGIL_ATTACHMENT_MAX_BYTES": settings.attachment_max_bytes,
        "TESTING": settings.testing,
        "PREFERRED_URL_SCHEME": "https" if settings.is_https else "http",
    }


def _engine_options(settings: Settings) -> dict:
    if settings.database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": settings.sqlite_busy_timeout_ms / 1000, "check_same_thread": False}}
    return {"pool_pre_ping": True}
