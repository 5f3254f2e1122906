"""Domain exceptions, raised by services and mapped once for HTML and once for the API."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str = "", details: dict | None = None):
        super().__init__(message or self.__class__.__doc__)
        self.message = message or (self.__class__.__doc__ or "").strip()
        self.details = details or {}


class NotFound(DomainError):
    """Not found."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """You do not have permission to do that."""

    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    """Authentication is required."""

    status = 401
    code = "unauthorized"


class Conflict(DomainError):
    """That conflicts with the current state."""

    status = 409
    code = "conflict"


class ValidationFailed(DomainError):
    """Some fields are not valid."""

    status = 422
    code = "validation_failed"

    def __init__(self, field_errors: dict[str, list[str]] | str, message: str = ""):
        if isinstance(field_errors, str):
            field_errors = {"_": [field_errors]}
        self.field_errors = field_errors
        first = next((msgs[0] for msgs in field_errors.values() if msgs), "")
        super().__init__(message or first or "Some fields are not valid.", {"fields": field_errors})


class RateLimited(DomainError):
    """Too many attempts; try again later."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str = "", retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after


class TenancyError(RuntimeError):
    """A tenant-scoped query or write ran without (or against) the tenant context: a bug, never user input."""
