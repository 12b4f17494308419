"""What went wrong, in the domain's words. How each becomes an HTTP answer is decided in one
table, in ``http_errors.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class ApiError(Exception):
    """A failure the client is told about; its message is safe to show."""

    default_message: ClassVar[str] = "Internal server error"

    def __init__(
        self, message: str | None = None, *, details: list[dict[str, str]] | None = None
    ) -> None:
        self.message = message or self.default_message
        self.details = details  # one entry per problem of the request, if it had several
        super().__init__(self.message)


class BadInput(ApiError):
    """What the client sent is wrong (counted as ValidationFailed)."""


class InvalidJson(BadInput):
    default_message = "Request body is not valid JSON"


class InvalidBody(BadInput):
    default_message = "Request body must be a JSON object"


class ValidationFailed(BadInput):
    default_message = "Request validation failed"


class InvalidQuery(BadInput):
    default_message = "Invalid query parameter"


class PayloadTooLarge(BadInput):
    default_message = "Request body is larger than 16 KiB"


class RouteNotFound(ApiError):
    default_message = "Resource not found"


class UserNotFound(ApiError):
    default_message = "User not found"


class UserDeleted(ApiError):
    """An ``Idempotency-Key`` repeated after the user it created was deleted."""

    default_message = (
        "The user this Idempotency-Key created has been deleted; nothing was created. "
        "Send a new Idempotency-Key to create the user again"
    )


class MethodNotAllowed(ApiError):
    def __init__(self, method: str, allowed: Sequence[str]) -> None:
        self.allowed = tuple(sorted((*allowed, "OPTIONS")))
        super().__init__(f"Method {method} is not allowed here; allowed: {', '.join(self.allowed)}")


class IdempotencyConflict(ApiError):
    default_message = "Idempotency-Key was already used with a different request body"


class PreconditionFailed(ApiError):
    default_message = "If-Match does not match the current ETag of the user"


class DependencyUnavailable(ApiError):
    """A dependency refused, throttled or could not be reached: nothing was written."""

    default_message = "Service temporarily unavailable, please retry"


class ServiceDegraded(DependencyUnavailable):
    """The health check found a dependency down; ``report`` holds every check."""

    default_message = "Service is degraded: a dependency check failed"

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__()
        self.report = report


class DependencyTimeout(ApiError):
    """A write was sent and not confirmed in time: it may or may not have been applied."""

    default_message = (
        "The change was sent to the database but not confirmed in time; it may have been applied. "
        "Retry a create with the same Idempotency-Key; re-read before retrying an update or "
        "delete, and send If-Match"
    )

    def __init__(self, message: str | None = None, *, operation: str = "write") -> None:
        super().__init__(message)
        self.operation = operation


class InternalError(ApiError):
    """Something that should not happen; the client only sees a generic message."""
